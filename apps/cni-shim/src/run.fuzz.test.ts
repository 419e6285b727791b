// Property-based fuzzing of the shim's `run` (issue #12 item 5b): random CNI environment,
// netconf on stdin and allocator replies. `make test` runs a fixed-seed sample.
import { describe, expect, it } from '@jest/globals';
import fc, { type Arbitrary } from 'fast-check';
import {
  anyTree,
  FUZZ_TEST_TIMEOUT_MS,
  fuzzParams,
  jsonText,
  nameish,
  prototypePollution,
  type JsonTree,
} from '@nicpool/testing';
import { AllocatorErrorCode } from '@nicpool/wire/codes';
import type { AllocatorClient, ClientReply } from './client.ts';
import { CNIErrorCode } from './codes.ts';
import { SUPPORTED_VERSIONS } from '@nicpool/cni';
import { run } from './run.ts';

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

const envValue = (good: string): Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(good) },
    { weight: 4, arbitrary: nameish },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
    { weight: 1, arbitrary: fc.nat(5000).map((n) => 'x'.repeat(n)) },
  );

const cniArgPair: Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'K8S_POD_UID=uid-1',
    'K8S_POD_INFRA_CONTAINER_ID=abc',
    'IgnoreUnknown=true',
    'K8S_POD_NAME=',
    '=x',
    'novalue',
    'K=V=W',
    '',
  ),
  fc
    .tuple(fc.constantFrom('K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_UID'), nameish)
    .map(([k, v]) => `${k}=${v}`),
  fc.string({ maxLength: 20 }),
);

const cniArgs: Arbitrary<string | undefined> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .array(cniArgPair, { maxLength: 3 })
      .map((extra) =>
        ['IgnoreUnknown=true', 'K8S_POD_NAMESPACE=default', 'K8S_POD_NAME=p', ...extra].join(';'),
      ),
  },
  { weight: 2, arbitrary: fc.array(cniArgPair, { maxLength: 6 }).map((p) => p.join(';')) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const env = fc.record({
  CNI_COMMAND: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...COMMANDS) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, '', 'add', 'Add ', 'VERSION\n') },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  ),
  CNI_ARGS: cniArgs,
  CNI_IFNAME: envValue('net1'),
  CNI_CONTAINERID: envValue('abc'),
  CNI_NETNS: envValue('/var/run/netns/x'),
  CNI_PATH: fc.constantFrom('/opt/cni/bin', undefined),
});

const poolList: Arbitrary<JsonTree> = fc.oneof(
  { weight: 4, arbitrary: fc.array(nameish, { maxLength: 4 }).map((arr) => ({ arr })) },
  { weight: 1, arbitrary: anyTree },
);

const ipam: Arbitrary<JsonTree> = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constant('type'), fc.oneof(fc.constant('spiderpool'), anyTree)),
      fc.tuple(fc.constantFrom('default_ipv4_ippool', 'default_ipv6_ippool'), poolList),
      fc.tuple(fc.constant('clean_gateway'), fc.oneof(fc.boolean(), anyTree)),
      fc.tuple(
        fc.constant('ipam_unix_socket_path'),
        fc.oneof(fc.constantFrom('/run/x.sock', ''), anyTree),
      ),
      fc.tuple(fc.constantFrom('__proto__', 'constructor'), anyTree),
    ),
    { maxLength: 6 },
  )
  .map((obj) => ({ obj }));

const attachments: Arbitrary<JsonTree> = fc.oneof(
  fc
    .array(
      fc
        .array(
          fc.tuple(
            fc.constantFrom('containerID', 'ifname', '__proto__', 'other'),
            fc.oneof(nameish, anyTree),
          ),
          { maxLength: 3 },
        )
        .map((obj): JsonTree => ({ obj })),
      { maxLength: 4 },
    )
    .map((arr) => ({ arr })),
  anyTree,
);

const netconfField: Arbitrary<readonly [string, JsonTree]> = fc.oneof(
  fc.tuple(fc.constantFrom('name', 'type'), fc.oneof(nameish, anyTree)),
  fc.tuple(fc.constant('ipam'), fc.oneof({ weight: 5, arbitrary: ipam }, anyTree)),
  fc.tuple(fc.constantFrom('cni.dev/valid-attachments', 'cni.dev/attachments'), attachments),
  fc.tuple(fc.constantFrom('__proto__', 'prevResult', 'cniVersion'), anyTree),
);

/** Netconfs: mostly shaped like Multus's, some with every field wrong, some garbage. */
const netconf: Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.oneof(
          { weight: 10, arbitrary: fc.constantFrom(...SUPPORTED_VERSIONS) },
          { weight: 1, arbitrary: anyTree },
        ),
        fc.array(netconfField, { maxLength: 5 }),
      )
      .map(([v, rest]) => jsonText({ obj: [['cniVersion', v], ...rest] })),
  },
  { weight: 1, arbitrary: anyTree.map(jsonText) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(ipam.map(jsonText), fc.nat())
      .map(([t, n]) => `{"cniVersion":"1.0.0","ipam":${t}`.slice(0, 20 + (n % t.length))),
  },
);

/** What a conforming allocator may answer (the wire schemas), or a socket failure. */
const goodReply: Arbitrary<ClientReply | Error> = fc.oneof(
  fc.constant({
    status: 200,
    json: {
      ips: [
        { version: 4, address: '10.6.168.176/16', nic: 'eth0', ipPool: 'p', gateway: '10.6.0.1' },
      ],
      routes: [{ ifName: 'eth0', dst: '10.96.0.0/12', gw: '10.6.0.254' }],
    },
  } satisfies ClientReply),
  fc.constant({ status: 200, json: { ready: true, message: 'ok' } } satisfies ClientReply),
  fc.constant({ status: 200, json: {} } satisfies ClientReply),
  fc
    .tuple(
      fc.constantFrom(...Object.values(AllocatorErrorCode)),
      fc.constantFrom(400, 404, 409, 413, 500, 503),
      nameish,
    )
    .map(([code, status, message]) => ({ status, json: { code, message, retryable: false } })),
  fc.constantFrom(
    Object.assign(new Error('connect ENOENT /var/run/spidernet/spiderpool.sock'), {
      code: 'ENOENT',
    }),
    new Error('no answer within 60000 ms'),
  ),
);

/** Anything at all: a broken or hostile allocator (or a different one on the socket). */
const anyReply: Arbitrary<ClientReply | Error> = fc.oneof(
  goodReply,
  fc.record({
    status: fc.integer({ min: 0, max: 999 }),
    json: anyTree.map(jsonText).map((t) => JSON.parse(t) as unknown),
  }),
  fc.record({ status: fc.constant(200), json: fc.constant(undefined) }),
);

function fakeClient(reply: ClientReply | Error): { client: AllocatorClient; calls: number } {
  const state = { calls: 0 };
  return {
    get calls() {
      return state.calls;
    },
    client: {
      async request() {
        state.calls++;
        if (reply instanceof Error) throw reply;
        return reply;
      },
    },
  };
}

// What a shim-made error must name: an environment variable, a netconf field or stdin.
const NAMES_FIELD = /CNI_[A-Z]+|K8S_POD_[A-Z]+|cniVersion|stdin|ipam\.[a-z_0-9]+|cni\.dev\/|CHECK/;

/**
 * What is wrong with one run's output, or undefined. `allocatorCalled`: errors may carry
 * the allocator's own message; `trusted`: the allocator answered per the wire schemas, so
 * CNI 199 (a shim defect) is wrong.
 */
function outputProblem(
  command: string | undefined,
  out: { stdout: string; exitCode: number },
  allocatorCalled: boolean,
  trusted: boolean,
): string | undefined {
  if (out.exitCode !== 0 && out.exitCode !== 1) return `exit code ${out.exitCode}`;
  if (out.exitCode === 0 && out.stdout === '')
    return command === 'DEL' || command === 'CHECK' || command === 'GC' || command === 'STATUS'
      ? undefined
      : `empty success for ${command}`;
  if (!out.stdout.endsWith('\n')) return 'stdout does not end with a newline';
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(out.stdout) as Record<string, unknown>;
  } catch {
    return 'stdout is not JSON';
  }
  if (typeof body['cniVersion'] !== 'string') return 'no cniVersion';
  if (out.exitCode === 0) {
    if (command === 'VERSION')
      return Array.isArray(body['supportedVersions'])
        ? undefined
        : 'VERSION without supportedVersions';
    if (command !== 'ADD') return `${command} printed a result`;
    const ips = body['ips'];
    if (!Array.isArray(ips) || ips.length === 0) return 'ADD succeeded without addresses';
    return undefined;
  }
  const { code, msg, details } = body;
  if (typeof code !== 'number' || !Number.isInteger(code)) return 'error without an integer code';
  if (typeof msg !== 'string' || msg === '') return 'error without msg';
  if (details !== undefined && typeof details !== 'string') return 'details is not a string';
  // The allocator's own INTERNAL maps to 199 too (details say so); any other 199 is the shim's.
  if (code === CNIErrorCode.internal && trusted && !String(details).includes('allocator INTERNAL'))
    return `CNI 199 (a shim defect): ${msg} / ${String(details)}`;
  if (
    !allocatorCalled &&
    code !== CNIErrorCode.tryAgainLater &&
    code !== CNIErrorCode.pluginNotAvailable &&
    !NAMES_FIELD.test(msg)
  )
    return `error does not name the field: ${msg}`;
  return undefined;
}

async function check(
  e: Record<string, string | undefined>,
  stdin: string,
  reply: ClientReply | Error,
  trusted: boolean,
): Promise<void> {
  const f = fakeClient(reply);
  const out = await run({ env: e, stdin, client: f.client, waitForAllocatorMs: 0 });
  const p = outputProblem(e['CNI_COMMAND'], out, f.calls > 0, trusted);
  if (p !== undefined) throw new Error(`${p}\nstdout: ${out.stdout.slice(0, 500)}`);
  const polluted = prototypePollution();
  if (polluted.length > 0) throw new Error(`prototype polluted: ${polluted.join(', ')}`);
}

describe('CNI shim fuzzing', () => {
  it(
    'conforming allocator: a CNI result or an error object naming the field, never CNI 199, a throw or a hang',
    async () => {
      await fc.assert(
        fc.asyncProperty(env, netconf, goodReply, (e, stdin, reply) =>
          check(e, stdin, reply, true),
        ),
        fuzzParams('cni-shim/run', 16_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'any allocator reply: still a CNI result or error object, never a throw or a hang',
    async () => {
      await fc.assert(
        fc.asyncProperty(env, netconf, anyReply, (e, stdin, reply) =>
          check(e, stdin, reply, false),
        ),
        fuzzParams('cni-shim/run-any-reply', 4_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});

describe('CNI shim fuzz helpers', () => {
  it('the output check rejects a success without addresses and an error naming nothing', () => {
    expect(
      outputProblem(
        'ADD',
        { stdout: '{"cniVersion":"1.0.0","ips":[]}\n', exitCode: 0 },
        true,
        true,
      ),
    ).toBe('ADD succeeded without addresses');
    expect(
      outputProblem(
        'ADD',
        { stdout: '{"cniVersion":"1.0.0","code":7,"msg":"bad"}\n', exitCode: 1 },
        false,
        true,
      ),
    ).toMatch(/does not name the field/);
    expect(
      outputProblem(
        'ADD',
        {
          stdout:
            '{"cniVersion":"1.0.0","code":7,"msg":"ipam.clean_gateway must be true or false"}\n',
          exitCode: 1,
        },
        false,
        true,
      ),
    ).toBeUndefined();
  });
});

// Counterexamples fuzzing found in run.ts, fixed; kept as deterministic regressions.
describe('counterexamples fuzzing found (run.ts, fixed in 4e3b579)', () => {
  const gcEnv = { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' };
  const ok200 = fakeClient({ status: 200, json: { released: [] } }).client;

  it('GC with null in cni.dev/valid-attachments is CNI 7 naming the field, not CNI 199', async () => {
    const out = await run({
      env: gcEnv,
      stdin: '{"cniVersion":"1.1.0","cni.dev/valid-attachments":[null]}',
      client: ok200,
    });
    expect(JSON.parse(out.stdout)).toMatchObject({
      code: CNIErrorCode.invalidNetconf,
      msg: expect.stringContaining('cni.dev/valid-attachments'),
    });
  });

  it('an allocator error with an empty message still gives a non-empty msg', async () => {
    const out = await run({
      env: { CNI_COMMAND: 'STATUS' },
      stdin: '{"cniVersion":"1.1.0"}',
      client: fakeClient({
        status: 400,
        json: { code: 'BAD_REQUEST', message: '', retryable: false },
      }).client,
    });
    expect(JSON.parse(out.stdout)).toMatchObject({ code: 50, msg: expect.stringMatching(/./) });
  });
});
