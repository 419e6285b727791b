import { describe, expect, it } from '@jest/globals';
import {
  CNIError,
  CNIErrorCode,
  convertResult,
  errorOutput,
  familyOf,
  isLegacy,
  LATEST,
  NOTHING,
  output,
  parseCNIArgs,
  parseNetconf,
  parseResult,
  requireEnv,
  runPlugin,
  SUPPORTED_VERSIONS,
  type CNIResult,
  type Dispatch,
  type RunOutput,
  type Version,
} from './index.ts';

/** What `fn` threw, as code, msg and details; fails the test when it returned. */
function thrown(fn: () => unknown): { code: number; msg: string; details: string | undefined } {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CNIError)) throw e;
    return { code: e.code, msg: e.message, details: e.details };
  }
  throw new Error('expected a CNIError');
}

/** macvlan's result for the tutorial's net1 in 0.3.1, with a field no version defines. */
const net1Result = (): CNIResult => ({
  cniVersion: '0.3.1',
  interfaces: [{ name: 'net1', mac: '96:c5:43:d4:67:b0', sandbox: '/var/run/netns/cni-1' }],
  ips: [
    { version: '4', interface: 0, address: '10.7.168.173/16', gateway: '10.7.0.1' },
    { version: '6', interface: 0, address: 'fd00:7::173/64', gateway: 'fd00:7::1' },
  ],
  routes: [{ dst: '10.96.0.0/12', gw: '10.7.0.254' }],
  dns: { nameservers: ['10.96.0.10'] },
  vendorField: { kept: true },
});

describe('convertResult', () => {
  it.each([
    ['0.3.0', true],
    ['0.3.1', true],
    ['0.4.0', true],
    ['1.0.0', false],
    ['1.1.0', false],
  ] as const)('to %s: version per IP first: %s; every other field kept', (to, legacy) => {
    const out = convertResult(net1Result(), to);
    const v = (family: string): Record<string, string> => (legacy ? { version: family } : {});
    // JSON text, so the key order (version first, as the reference plugins print it) counts.
    expect(JSON.stringify(out)).toBe(
      JSON.stringify({
        cniVersion: to,
        interfaces: [{ name: 'net1', mac: '96:c5:43:d4:67:b0', sandbox: '/var/run/netns/cni-1' }],
        ips: [
          { ...v('4'), interface: 0, address: '10.7.168.173/16', gateway: '10.7.0.1' },
          { ...v('6'), interface: 0, address: 'fd00:7::173/64', gateway: 'fd00:7::1' },
        ],
        routes: [{ dst: '10.96.0.0/12', gw: '10.7.0.254' }],
        dns: { nameservers: ['10.96.0.10'] },
        vendorField: { kept: true },
      }),
    );
  });

  it('derives version from the address, not from a wrong version it was given', () => {
    const out = convertResult({ ips: [{ version: '6', address: '10.6.168.172/16' }] }, '0.3.1');
    expect(out).toEqual({
      cniVersion: '0.3.1',
      ips: [{ version: '4', address: '10.6.168.172/16' }],
    });
  });

  it('adds no ips to a result without them, and leaves its input untouched', () => {
    const input = net1Result();
    const before = JSON.stringify(input);
    expect(convertResult({ cniVersion: '1.0.0', dns: {} }, '0.4.0')).toEqual({
      cniVersion: '0.4.0',
      dns: {},
    });
    convertResult(input, '1.1.0');
    expect(JSON.stringify(input)).toBe(before);
  });
});

describe('parseResult', () => {
  it('returns a valid result as it came (the same object)', () => {
    const r = net1Result();
    expect(parseResult(r)).toBe(r);
    expect(parseResult({})).toEqual({});
  });

  it.each([
    ['not an object', [], 'prevResult: must be an object'],
    ['null', null, 'prevResult: must be an object'],
    ['interfaces not a list', { interfaces: {} }, 'prevResult: interfaces must be an array'],
    [
      'interface without a name',
      { interfaces: [{ name: 'net1' }, { mac: '96:c5:43:d4:67:b0' }] },
      'prevResult: interfaces[1] must be an object with a name',
    ],
    ['ips not a list', { ips: 'x' }, 'prevResult: ips must be an array'],
    [
      'address without prefix',
      { ips: [{ address: '10.7.168.173' }] },
      'prevResult: ips[0].address must be an address with its prefix length',
    ],
    [
      'address not a string',
      { ips: [{ address: '10.6.168.172/16' }, { address: 7 }] },
      'prevResult: ips[1].address must be an address with its prefix length',
    ],
    [
      'interface index past the end',
      { interfaces: [{ name: 'net1' }], ips: [{ address: '10.7.168.173/16', interface: 1 }] },
      'prevResult: ips[0].interface must be an index into interfaces',
    ],
    [
      'interface index without interfaces',
      { ips: [{ address: '10.7.168.173/16', interface: 0 }] },
      'prevResult: ips[0].interface must be an index into interfaces',
    ],
    [
      'negative interface index',
      { interfaces: [{ name: 'net1' }], ips: [{ address: '10.7.168.173/16', interface: -1 }] },
      'prevResult: ips[0].interface must be an index into interfaces',
    ],
    [
      'fractional interface index',
      { interfaces: [{ name: 'net1' }], ips: [{ address: '10.7.168.173/16', interface: 0.5 }] },
      'prevResult: ips[0].interface must be an index into interfaces',
    ],
    [
      'gateway not a string',
      { ips: [{ address: '10.7.168.173/16', gateway: 1 }] },
      'prevResult: ips[0].gateway must be a string',
    ],
    ['routes not a list', { routes: {} }, 'prevResult: routes must be an array'],
  ])('refuses %s with code 7', (_name, raw, msg) => {
    expect(thrown(() => parseResult(raw))).toEqual({ code: 7, msg, details: undefined });
  });
});

describe('parseNetconf', () => {
  it('returns the object and its version', () => {
    expect(parseNetconf('{"cniVersion":"0.3.1","name":"n","type":"veth"}')).toEqual({
      conf: { cniVersion: '0.3.1', name: 'n', type: 'veth' },
      version: '0.3.1',
    });
  });

  it('bad JSON → code 6 with the parser message as details', () => {
    const text = '{"cniVersion":';
    let parserMessage = '';
    try {
      JSON.parse(text);
    } catch (e) {
      parserMessage = (e as Error).message;
    }
    expect(thrown(() => parseNetconf(text))).toEqual({
      code: 6,
      msg: 'cannot decode the network configuration on stdin',
      details: parserMessage,
    });
    expect(thrown(() => parseNetconf(''))).toMatchObject({ code: 6 });
  });

  it.each(['[1]', 'null', '"1.0.0"', '7'])('%s is not an object → code 6', (text) => {
    expect(thrown(() => parseNetconf(text))).toEqual({
      code: 6,
      msg: 'the network configuration on stdin is not a JSON object',
      details: undefined,
    });
  });

  it.each([
    ['{"cniVersion":"0.2.0"}', 'unsupported cniVersion "0.2.0"'],
    ['{"cniVersion":"1.2.0"}', 'unsupported cniVersion "1.2.0"'],
    ['{"cniVersion":1}', 'unsupported cniVersion 1'],
    ['{"name":"n"}', 'unsupported cniVersion undefined'],
  ])('%s → code 1', (text, msg) => {
    expect(thrown(() => parseNetconf(text))).toEqual({
      code: 1,
      msg,
      details: 'supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    });
  });

  it('treats 0.3.x and 0.4.0 as legacy, 1.x not', () => {
    expect(SUPPORTED_VERSIONS.map((v) => [v, isLegacy(v)])).toEqual([
      ['0.3.0', true],
      ['0.3.1', true],
      ['0.4.0', true],
      ['1.0.0', false],
      ['1.1.0', false],
    ]);
    expect([familyOf('10.6.168.172/16'), familyOf('fd00:7::173/64')]).toEqual([4, 6]);
  });
});

describe('parseCNIArgs', () => {
  it('reads K=V pairs, a value may hold "=" or be empty, empty pairs are skipped', () => {
    expect([
      ...parseCNIArgs('IgnoreUnknown=true;;K8S_POD_NAME=a=b;K8S_POD_UID=;K8S_POD_NAMESPACE=x;'),
    ]).toEqual([
      ['IgnoreUnknown', 'true'],
      ['K8S_POD_NAME', 'a=b'],
      ['K8S_POD_UID', ''],
      ['K8S_POD_NAMESPACE', 'x'],
    ]);
    expect(parseCNIArgs(undefined).size).toBe(0);
    expect(parseCNIArgs('').size).toBe(0);
  });

  it.each([
    ['K8S_POD_NAME', 'CNI_ARGS: "K8S_POD_NAME" is not KEY=VALUE'],
    ['IgnoreUnknown=1;=x', 'CNI_ARGS: "=x" is not KEY=VALUE'],
  ])('%s → code 4', (text, msg) => {
    expect(thrown(() => parseCNIArgs(text))).toEqual({ code: 4, msg, details: undefined });
  });
});

describe('requireEnv', () => {
  const env = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/p', CNI_IFNAME: '' };

  it('returns the named values', () => {
    expect(requireEnv(env, 'CNI_CONTAINERID', 'CNI_NETNS')).toEqual({
      CNI_CONTAINERID: 'c1',
      CNI_NETNS: '/var/run/netns/p',
    });
  });

  it('names one missing variable (empty counts as missing)', () => {
    expect(thrown(() => requireEnv(env, 'CNI_CONTAINERID', 'CNI_IFNAME'))).toEqual({
      code: 4,
      msg: 'missing environment variable CNI_IFNAME',
      details: undefined,
    });
  });

  it('names every missing variable, in the order asked', () => {
    expect(
      thrown(() => requireEnv(env, 'CNI_PATH', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_ARGS')),
    ).toEqual({
      code: 4,
      msg: 'missing environment variables CNI_PATH, CNI_IFNAME, CNI_ARGS',
      details: undefined,
    });
  });
});

describe('outputs', () => {
  it('a success is one JSON line; an error object carries details only when given', () => {
    expect(output({ a: 1 })).toEqual({ stdout: '{"a":1}\n', exitCode: 0 });
    expect(NOTHING).toEqual({ stdout: '', exitCode: 0 });
    expect(errorOutput('0.4.0', new CNIError(7, 'bad'))).toEqual({
      stdout: '{"cniVersion":"0.4.0","code":7,"msg":"bad"}\n',
      exitCode: 1,
    });
    expect(errorOutput('1.0.0', new CNIError(11, 'busy', 'why'))).toEqual({
      stdout: '{"cniVersion":"1.0.0","code":11,"msg":"busy","details":"why"}\n',
      exitCode: 1,
    });
  });
});

describe('runPlugin', () => {
  const INTERNAL = { code: CNIErrorCode.generic, msg: 'veth internal error' };
  interface Seen {
    command: string;
    version: Version;
    conf: Readonly<Record<string, unknown>>;
  }
  const recording = (answer: (seen: Seen) => Promise<RunOutput>) => {
    const calls: Seen[] = [];
    const dispatch: Dispatch = (command, version, conf) => {
      calls.push({ command, version, conf });
      return answer({ command, version, conf });
    };
    return { calls, dispatch };
  };

  it('VERSION answers without reading the netconf or dispatching', async () => {
    const r = recording(async () => NOTHING);
    const out = await runPlugin({ CNI_COMMAND: 'VERSION' }, 'not json', r.dispatch, INTERNAL);
    expect(out).toEqual({
      stdout: `{"cniVersion":"${LATEST}","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n`,
      exitCode: 0,
    });
    expect(r.calls).toEqual([]);
  });

  it('dispatches the command with the netconf and its version', async () => {
    const r = recording(async () => output({ ok: true }));
    const out = await runPlugin(
      { CNI_COMMAND: 'ADD' },
      '{"cniVersion":"0.4.0","type":"veth"}',
      r.dispatch,
      INTERNAL,
    );
    expect(out).toEqual({ stdout: '{"ok":true}\n', exitCode: 0 });
    expect(r.calls).toEqual([
      { command: 'ADD', version: '0.4.0', conf: { cniVersion: '0.4.0', type: 'veth' } },
    ]);
  });

  it.each([undefined, ''])('CNI_COMMAND %j → code 4', async (command) => {
    const r = recording(async () => NOTHING);
    const out = await runPlugin({ CNI_COMMAND: command }, 'not json', r.dispatch, INTERNAL);
    expect(out).toEqual({
      stdout: '{"cniVersion":"1.1.0","code":4,"msg":"missing environment variable CNI_COMMAND"}\n',
      exitCode: 1,
    });
    expect(r.calls).toEqual([]);
  });

  it("a missing CNI_COMMAND is reported in the netconf's version when it has one", async () => {
    const r = recording(async () => NOTHING);
    const out = await runPlugin({}, '{"cniVersion":"0.3.1"}', r.dispatch, INTERNAL);
    expect(out).toEqual({
      stdout: '{"cniVersion":"0.3.1","code":4,"msg":"missing environment variable CNI_COMMAND"}\n',
      exitCode: 1,
    });
    expect(r.calls).toEqual([]);
  });

  it('a bad netconf is reported in the latest version, without dispatching', async () => {
    const r = recording(async () => NOTHING);
    const out = await runPlugin({ CNI_COMMAND: 'ADD' }, '{"cniVersion":"9"}', r.dispatch, INTERNAL);
    expect(JSON.parse(out.stdout)).toEqual({
      cniVersion: '1.1.0',
      code: 1,
      msg: 'unsupported cniVersion "9"',
      details: 'supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    });
    expect([out.exitCode, r.calls.length]).toEqual([1, 0]);
  });

  it("a CNIError from dispatch keeps its code, in the netconf's version", async () => {
    const r = recording(async () => {
      throw new CNIError(CNIErrorCode.tryAgainLater, 'in the pod: busy', 'ip said so');
    });
    const out = await runPlugin(
      { CNI_COMMAND: 'ADD' },
      '{"cniVersion":"0.3.1"}',
      r.dispatch,
      INTERNAL,
    );
    expect(out).toEqual({
      stdout: '{"cniVersion":"0.3.1","code":11,"msg":"in the pod: busy","details":"ip said so"}\n',
      exitCode: 1,
    });
  });

  it.each([
    ['a TypeError', new TypeError('boom'), 'boom'],
    ['a string', 'just text', 'just text'],
  ])(
    'a defect (%s) becomes the given internal code, never a success',
    async (_n, thrownValue, details) => {
      // A defect may throw anything at all, an Error or not.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      const dispatch: Dispatch = () => Promise.reject(thrownValue);
      const out = await runPlugin({ CNI_COMMAND: 'DEL' }, '{"cniVersion":"1.0.0"}', dispatch, {
        code: 199,
        msg: 'shim internal error',
      });
      expect(out).toEqual({
        stdout: `${JSON.stringify({ cniVersion: '1.0.0', code: 199, msg: 'shim internal error', details })}\n`,
        exitCode: 1,
      });
    },
  );

  it('a synchronous throw in dispatch is caught as well', async () => {
    const dispatch: Dispatch = () => {
      throw new RangeError('sync');
    };
    const out = await runPlugin(
      { CNI_COMMAND: 'CHECK' },
      '{"cniVersion":"1.1.0"}',
      dispatch,
      INTERNAL,
    );
    expect(JSON.parse(out.stdout)).toEqual({
      cniVersion: '1.1.0',
      code: 999,
      msg: 'veth internal error',
      details: 'sync',
    });
  });
});
