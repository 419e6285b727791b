import { describe, expect, it } from '@jest/globals';
import type { AllocatorClient, ClientReply } from './client.ts';
import { parseCNIArgs, SUPPORTED_VERSIONS } from '@nicpool/cni';
import { run } from './run.ts';

interface Call {
  socket: string;
  method: string;
  path: string;
  body: unknown;
}

/** A fake allocator: records calls, answers from a script. */
function fake(reply: ClientReply | Error): { client: AllocatorClient; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    client: {
      async request(socket, method, path, body) {
        calls.push({ socket, method, path, body });
        if (reply instanceof Error) throw reply;
        return reply;
      },
    },
  };
}

const ADD_OK: ClientReply = {
  status: 200,
  json: {
    ips: [
      {
        version: 4,
        address: '10.7.168.176/16',
        nic: 'net1',
        ipPool: 'ippool-test-ens224',
        gateway: '10.7.0.1',
      },
      { version: 6, address: 'fd00:7::10/64', nic: 'net1', ipPool: 'v6', gateway: 'fd00:7::1' },
    ],
    routes: [{ ifName: 'net1', dst: '10.96.0.0/12', gw: '10.7.0.254' }],
  },
};

const env = (command: string, extra: Record<string, string> = {}): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'abc',
  CNI_NETNS: '/var/run/netns/x',
  CNI_IFNAME: 'net1',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS:
    'IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=uid-1',
  ...extra,
});
const netconf = (cniVersion: string, ipam: object = { type: 'spiderpool' }): string =>
  JSON.stringify({ cniVersion, name: 'macvlan-conf-ens224', type: 'macvlan', ipam });
const json = (s: string): unknown => JSON.parse(s);

describe('VERSION', () => {
  it('lists every supported version', async () => {
    const out = await run({
      env: { CNI_COMMAND: 'VERSION' },
      stdin: netconf('0.3.1'),
      client: fake(new Error('unused')).client,
    });
    expect(out.exitCode).toBe(0);
    expect(json(out.stdout)).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: [...SUPPORTED_VERSIONS],
    });
  });
});

describe('ADD', () => {
  it('sends Spiderpool agent fields from env, CNI_ARGS and the ipam block', async () => {
    const f = fake(ADD_OK);
    const out = await run({
      env: env('ADD'),
      stdin: netconf('1.0.0', {
        type: 'spiderpool',
        ipam_unix_socket_path: '/run/x.sock',
        default_ipv4_ippool: ['d4'],
        clean_gateway: true,
        log_level: 'debug',
      }),
      client: f.client,
    });
    expect(out.exitCode).toBe(0);
    expect(f.calls).toEqual([
      {
        socket: '/run/x.sock',
        method: 'POST',
        path: '/v1/ipam/ip',
        body: {
          containerID: 'abc',
          ifName: 'net1',
          netNamespace: '/var/run/netns/x',
          podNamespace: 'default',
          podName: 'p',
          podUID: 'uid-1',
          defaultIPv4IPPool: ['d4'],
          defaultIPv6IPPool: [],
          cleanGateway: true,
        },
      },
    ]);
  });

  it.each([
    ['0.3.0', true],
    ['0.3.1', true],
    ['0.4.0', true],
    ['1.0.0', false],
    ['1.1.0', false],
  ])('result shape for cniVersion %s (version field: %s)', async (v, legacy) => {
    const out = await run({ env: env('ADD'), stdin: netconf(v), client: fake(ADD_OK).client });
    expect(out.exitCode).toBe(0);
    expect(json(out.stdout)).toEqual({
      cniVersion: v,
      ips: [
        { ...(legacy ? { version: '4' } : {}), address: '10.7.168.176/16', gateway: '10.7.0.1' },
        { ...(legacy ? { version: '6' } : {}), address: 'fd00:7::10/64', gateway: 'fd00:7::1' },
      ],
      routes: [{ dst: '10.96.0.0/12', gw: '10.7.0.254' }],
      dns: {},
    });
  });

  it('uses the default socket', async () => {
    const f = fake(ADD_OK);
    await run({ env: env('ADD'), stdin: netconf('0.3.1'), client: f.client });
    expect(f.calls[0]?.socket).toBe('/var/run/spidernet/spiderpool.sock');
  });

  it('never succeeds without addresses', async () => {
    const out = await run({
      env: env('ADD'),
      stdin: netconf('0.3.1'),
      client: fake({ status: 200, json: { ips: [], routes: [] } }).client,
    });
    expect(out.exitCode).toBe(1);
    expect(json(out.stdout)).toMatchObject({ code: 11 });
  });
});

describe('error paths', () => {
  it.each([
    [
      'bad JSON → 6',
      env('ADD'),
      '{"cniVersion":',
      6,
      'cannot decode the network configuration on stdin',
    ],
    [
      'not an object → 6',
      env('ADD'),
      '[1]',
      6,
      'the network configuration on stdin is not a JSON object',
    ],
    ['unknown version → 1', env('ADD'), netconf('0.2.0'), 1, 'unsupported cniVersion "0.2.0"'],
    [
      'missing CNI_COMMAND → 4',
      { ...env('ADD'), CNI_COMMAND: '' },
      netconf('1.0.0'),
      4,
      'missing environment variable CNI_COMMAND',
    ],
    [
      'missing env → 4',
      { ...env('ADD'), CNI_NETNS: '', CNI_IFNAME: '' },
      netconf('1.0.0'),
      4,
      'missing environment variables CNI_NETNS, CNI_IFNAME',
    ],
    [
      'no pod in CNI_ARGS → 4',
      { ...env('ADD'), CNI_ARGS: 'IgnoreUnknown=true' },
      netconf('1.0.0'),
      4,
      'CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME (nicpool serves Kubernetes pods)',
    ],
    [
      'malformed CNI_ARGS → 4',
      { ...env('ADD'), CNI_ARGS: 'K8S_POD_NAME' },
      netconf('1.0.0'),
      4,
      'CNI_ARGS: "K8S_POD_NAME" is not KEY=VALUE',
    ],
    [
      'bad ipam field → 7',
      env('ADD'),
      netconf('1.0.0', { type: 'spiderpool', default_ipv4_ippool: 'p' }),
      7,
      'ipam.default_ipv4_ippool must be an array of pool names',
    ],
    ['unknown command → 4', env('FOO'), netconf('1.0.0'), 4, 'unknown CNI_COMMAND "FOO"'],
    [
      'CHECK before 0.4.0 → 1',
      env('CHECK'),
      netconf('0.3.1'),
      1,
      'CHECK is not defined for cniVersion 0.3.1',
    ],
  ])('%s', async (_n, e, stdin, code, msg) => {
    const f = fake(ADD_OK);
    const out = await run({ env: e, stdin, client: f.client });
    expect(out.exitCode).toBe(1);
    expect(json(out.stdout)).toMatchObject({ code, msg });
    expect(f.calls).toEqual([]);
  });

  it.each([
    ['ADD', 11],
    ['DEL', 11],
    ['CHECK', 11],
    ['STATUS', 50],
  ])('allocator down: %s → %i', async (cmd, code) => {
    const out = await run({
      env: env(cmd),
      stdin: netconf('1.1.0'),
      client: fake(
        Object.assign(new Error('connect ENOENT /var/run/spidernet/spiderpool.sock'), {
          code: 'ENOENT',
        }),
      ).client,
    });
    expect(out.exitCode).toBe(1);
    expect(json(out.stdout)).toMatchObject({ cniVersion: '1.1.0', code });
  });

  it.each([
    ['INVALID_ANNOTATION', 422, 7],
    ['NO_POOL', 422, 100],
    ['NO_AVAILABLE_POOL', 422, 100],
    ['IP_USED_OUT', 422, 101],
    ['POD_NOT_FOUND', 404, 102],
    ['RETRIES_EXHAUSTED', 503, 11],
    ['NOT_READY', 503, 11],
    ['INTERNAL', 500, 199],
  ])('allocator %s → CNI %i, with the allocator message', async (code, status, cni) => {
    const out = await run({
      env: env('ADD'),
      stdin: netconf('0.3.1'),
      client: fake({ status, json: { code, message: 'why it failed', retryable: false } }).client,
    });
    expect(json(out.stdout)).toEqual({
      cniVersion: '0.3.1',
      code: cni,
      msg: 'why it failed',
      details: `ADD: allocator ${code}`,
    });
  });

  it('a defect becomes a CNI error, not a silent success', async () => {
    const client: AllocatorClient = {
      request: () => {
        throw new TypeError('boom');
      },
    };
    const out = await run({ env: env('STATUS'), stdin: netconf('1.1.0'), client });
    expect(out.exitCode).toBe(1);
    expect(json(out.stdout)).toMatchObject({ code: 50 });
  });
});

describe('netconf default pools are checked like annotations (review #1)', () => {
  it('refuses a bad name or pattern with CNI 7 naming the field, without calling the allocator', async () => {
    const f = fake(ADD_OK);
    const redos = '*[a-y0-9-]'.repeat(10) + '*z';
    const out = await run({
      env: env('ADD'),
      stdin: netconf('1.0.0', {
        type: 'spiderpool',
        default_ipv4_ippool: ['pool-a', redos],
        default_ipv6_ippool: ['v6[', 'team-*'],
      }),
      client: f.client,
    });
    expect(out.exitCode).toBe(1);
    expect(json(out.stdout)).toEqual({
      cniVersion: '1.0.0',
      code: 7,
      msg: `ipam.default_ipv4_ippool[1]: pool name "${redos}" has 11 "*" (at most 8 per pattern); ipam.default_ipv6_ippool[0]: pool name "v6[" is not a valid pattern (unbalanced "[" or "]")`,
    });
    expect(f.calls).toEqual([]);
  });

  it('DEL and CHECK still reach the allocator: a bad default must not strand a pod', async () => {
    const stdin = netconf('1.0.0', { type: 'spiderpool', default_ipv4_ippool: ['a*'.repeat(9)] });
    for (const command of ['DEL', 'CHECK']) {
      const f = fake({ status: 200, json: {} });
      const out = await run({ env: env(command), stdin, client: f.client });
      expect([command, out.exitCode, f.calls.length]).toEqual([command, 0, 1]);
    }
  });

  it('passes valid names and patterns on unchanged', async () => {
    const f = fake(ADD_OK);
    const out = await run({
      env: env('ADD'),
      stdin: netconf('1.0.0', { type: 'spiderpool', default_ipv6_ippool: ['team-*', 'v6'] }),
      client: f.client,
    });
    expect(out.exitCode).toBe(0);
    expect(f.calls[0]?.body).toMatchObject({ defaultIPv6IPPool: ['team-*', 'v6'] });
  });
});

describe('DEL, CHECK, STATUS, GC', () => {
  it('DEL succeeds with no output; works without CNI_NETNS', async () => {
    const f = fake({ status: 200, json: {} });
    const out = await run({
      env: { ...env('DEL'), CNI_NETNS: '' },
      stdin: netconf('0.3.1'),
      client: f.client,
    });
    expect(out).toEqual({ stdout: '', exitCode: 0 });
    expect(f.calls[0]).toMatchObject({ method: 'DELETE', path: '/v1/ipam/ip' });
  });

  it('CHECK fails when the allocator no longer records the attachment', async () => {
    const out = await run({
      env: env('CHECK'),
      stdin: netconf('1.0.0'),
      client: fake({
        status: 404,
        json: { code: 'NOT_FOUND', message: 'no allocation recorded', retryable: false },
      }).client,
    });
    expect(json(out.stdout)).toMatchObject({ code: 3, msg: 'no allocation recorded' });
  });

  it('STATUS: 50 when not ready, success when ready', async () => {
    const notReady = await run({
      env: env('STATUS'),
      stdin: netconf('1.1.0'),
      client: fake({ status: 200, json: { ready: false, message: 'caches not synced' } }).client,
    });
    expect(json(notReady.stdout)).toMatchObject({ code: 50, msg: 'caches not synced' });
    const ready = await run({
      env: env('STATUS'),
      stdin: netconf('1.1.0'),
      client: fake({ status: 200, json: { ready: true, message: 'ok' } }).client,
    });
    expect(ready).toEqual({ stdout: '', exitCode: 0 });
  });

  it('GC passes the valid attachments (either key) to the allocator', async () => {
    for (const key of ['cni.dev/valid-attachments', 'cni.dev/attachments']) {
      const f = fake({ status: 200, json: { released: [] } });
      const stdin = JSON.stringify({
        cniVersion: '1.1.0',
        name: 'n',
        ipam: { type: 'spiderpool' },
        [key]: [{ containerID: 'c1', ifname: 'net1' }],
      });
      expect(
        await run({
          env: { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' },
          stdin,
          client: f.client,
        }),
      ).toEqual({ stdout: '', exitCode: 0 });
      expect(f.calls[0]).toMatchObject({
        method: 'POST',
        path: '/v1/nicpool/gc',
        body: { validAttachments: [{ containerID: 'c1', ifname: 'net1' }] },
      });
    }
  });
});

describe('parseCNIArgs', () => {
  it('reads K=V pairs', () => {
    expect([...parseCNIArgs('IgnoreUnknown=1;K8S_POD_NAME=a=b')]).toEqual([
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAME', 'a=b'],
    ]);
  });
});

describe('a restarting allocator', () => {
  /** Unreachable for the first `down` calls, then not ready once, then an answer. */
  function restarting(down: number): { client: AllocatorClient; calls: number } {
    const state = { calls: 0 };
    return {
      get calls() {
        return state.calls;
      },
      client: {
        async request() {
          state.calls++;
          if (state.calls <= down)
            throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          if (state.calls === down + 1)
            return {
              status: 503,
              json: { code: 'NOT_READY', message: 'caches not synced', retryable: true },
            };
          return { status: 200, json: {} };
        },
      },
    };
  }

  it('DEL waits for it within the budget and then succeeds', async () => {
    const a = restarting(2);
    const out = await run({
      env: env('DEL'),
      stdin: netconf('1.1.0'),
      client: a.client,
      waitForAllocatorMs: 3000,
    });
    expect(out.exitCode).toBe(0);
    expect(a.calls).toBe(4);
  });

  it('gives up with CNI 11 once the budget is spent', async () => {
    const a = restarting(1000);
    const started = Date.now();
    const out = await run({
      env: env('DEL'),
      stdin: netconf('1.1.0'),
      client: a.client,
      waitForAllocatorMs: 500,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(json(out.stdout)).toMatchObject({
      code: 11,
      msg: 'nicpool allocator unreachable at /var/run/spidernet/spiderpool.sock',
    });
    expect(a.calls).toBeGreaterThanOrEqual(2);
  });
});
