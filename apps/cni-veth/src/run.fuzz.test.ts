// Property-based fuzzing of the veth plugin's `run`: random CNI environment, netconf (the
// veth fields and prevResult, well-formed and not) and kernel answers (recorded `ip -json`
// output, garbage JSON, failed lines, failing batches). `make test` runs a fixed-seed sample.
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
import { CNIError, SUPPORTED_VERSIONS } from '@nicpool/cni';
import type { Kernel } from './exec.ts';
import { run } from './run.ts';

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

const envValue = (good: string): Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constant(good) },
    { weight: 3, arbitrary: nameish },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('') },
  );

const env = (ifName: string) =>
  fc.record({
    CNI_COMMAND: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...COMMANDS) },
      { weight: 1, arbitrary: fc.constantFrom(undefined, '', 'add', 'DEL ') },
    ),
    CNI_CONTAINERID: envValue('3f1c9e7b2a4d8f0611aa22bb33cc44dd'),
    CNI_NETNS: envValue('/var/run/netns/cni-6f3e2a51'),
    CNI_IFNAME: envValue(ifName),
  });

const cidrish: Arbitrary<JsonTree> = fc.oneof(
  fc.constantFrom(
    '10.96.0.0/12',
    '10.96.1.1/12',
    '10.244.0.0/16',
    'fd00:96::/108',
    '0.0.0.0/0',
    '::/0',
    '10.96.0.0',
    '10.300.0.0/16',
    '10.0.0.0/33',
    '',
  ),
  nameish,
  anyTree,
);
const cidrList: Arbitrary<JsonTree> = fc.oneof(
  { weight: 5, arbitrary: fc.array(cidrish, { maxLength: 3 }).map((arr) => ({ arr })) },
  { weight: 1, arbitrary: anyTree },
);

const address: Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '10.6.168.172/16',
    '10.7.168.173/16',
    'fd00:7::173/64',
    '10.7.168.173/32',
    '10.7.168.173',
    '/',
    'x/16',
    '10.7.168.173/x',
  ),
  nameish.map((s) => `${s}/16`),
);
const resultIP: Arbitrary<JsonTree> = fc
  .record({
    address: fc.oneof({ weight: 8, arbitrary: address.map((a): JsonTree => a) }, anyTree),
    gateway: fc.option(fc.constantFrom<JsonTree>('10.7.0.1', 'fd00:7::1', 7, ''), {
      nil: undefined,
    }),
    interface: fc.option(fc.constantFrom<JsonTree>(0, 1, 2, -1, 0.5, '0'), { nil: undefined }),
    version: fc.option(fc.constantFrom<JsonTree>('4', '6'), { nil: undefined }),
  })
  .map((r) => ({
    obj: Object.entries(r).filter((e): e is [string, JsonTree] => e[1] !== undefined),
  }));
const prevResult: Arbitrary<JsonTree> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.array(fc.constantFrom('eth0', 'net1', 'net2', 'lo'), { maxLength: 3 }),
        fc.array(resultIP, { maxLength: 3 }),
      )
      .map(([names, ips]) => ({
        obj: [
          ['cniVersion', '0.3.1'],
          ['interfaces', { arr: names.map((n): JsonTree => ({ obj: [['name', n]] })) }],
          ['ips', { arr: ips }],
          ['dns', { obj: [] }],
        ] as const,
      })),
  },
  { weight: 1, arbitrary: anyTree },
);

const vethField: Arbitrary<readonly [string, JsonTree]> = fc.oneof(
  fc.tuple(
    fc.constantFrom(
      'service_cidr',
      'cluster_cidr',
      'additional_cidr',
      'service_hijack_subnet',
      'overlay_hijack_subnet',
      'additional_hijack_subnet',
    ),
    cidrList,
  ),
  fc.tuple(
    fc.constant('rp_filter'),
    fc.oneof(
      fc
        .tuple(fc.oneof(fc.boolean(), anyTree), fc.constantFrom<JsonTree>(0, 1, 2, 3, '0'))
        .map(([enabled, value]): JsonTree => ({
          obj: [
            ['enabled', enabled],
            ['value', value],
          ],
        })),
      anyTree,
    ),
  ),
  fc.tuple(
    fc.constant('move_routes'),
    fc.oneof(fc.boolean(), fc.constantFrom<JsonTree>(-1, 0, 1, 2, 3), anyTree),
  ),
  fc.tuple(
    fc.constant('hardware_prefix'),
    fc.oneof(fc.constantFrom<JsonTree>('0a:1b', '01:00', '0A:1B', '0a1b', ''), anyTree),
  ),
  fc.tuple(fc.constant('only_hardware'), fc.oneof(fc.boolean(), anyTree)),
  fc.tuple(fc.constant('prevResult'), prevResult),
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'name', 'type'), anyTree),
);

/** prevResult as macvlan prints it for IF: its addresses (v4, v6 or both) with gateways. */
const goodPrev = (ifName: string): Arbitrary<JsonTree> =>
  fc
    .subarray(['10.7.168.173/16', 'fd00:7::173/64', '10.6.168.172/16'], { minLength: 1 })
    .chain((addrs) =>
      fc.tuple(fc.constant(addrs), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 })),
    )
    .map(([addrs, gw]) => ({
      obj: [
        ['cniVersion', '0.3.1'],
        ['interfaces', { arr: [{ obj: [['name', ifName]] }] }],
        [
          'ips',
          {
            arr: addrs.map((a, i): JsonTree => ({
              obj: [
                ['version', a.includes(':') ? '6' : '4'],
                ['interface', 0],
                ['address', a],
                ...(gw[i] === true
                  ? [['gateway', a.includes(':') ? 'fd00:7::1' : '10.7.0.1'] as const]
                  : []),
              ],
            })),
          },
        ],
      ],
    }));

/** The veth fields with valid values, as a NAD would set them. */
const goodField: Arbitrary<readonly [string, JsonTree]> = fc.oneof(
  fc.tuple(
    fc.constantFrom('service_cidr', 'cluster_cidr', 'additional_cidr', 'service_hijack_subnet'),
    fc
      .subarray(['10.96.0.0/12', '10.244.0.0/16', 'fd00:96::/108', '10.96.1.1/12'])
      .map((arr): JsonTree => ({ arr })),
  ),
  fc.tuple(
    fc.constant('rp_filter'),
    fc.tuple(fc.boolean(), fc.constantFrom(0, 1, 2)).map(([enabled, value]): JsonTree => ({
      obj: [
        ['enabled', enabled],
        ['value', value],
      ],
    })),
  ),
  fc.tuple(fc.constant('move_routes'), fc.oneof(fc.boolean(), fc.constantFrom(-1, 0, 1, 2))),
  fc.tuple(fc.constant('hardware_prefix'), fc.constantFrom('0a:1b', '02:00')),
);

/** Netconfs: the tutorial's veth entry with valid fields and prevResult, hostile ones, garbage. */
const netconf = (ifName: string): Arbitrary<string> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...SUPPORTED_VERSIONS),
          fc.array(goodField, { maxLength: 4 }),
          goodPrev(ifName),
          fc.boolean(),
        )
        .map(([v, fields, prev, onlyHardware]) =>
          jsonText({
            obj: [
              ['cniVersion', v],
              ['type', 'veth'],
              ...fields,
              // only_hardware rarely: it skips nearly everything else.
              ...(onlyHardware && fields.length === 4 ? [['only_hardware', true] as const] : []),
              ['prevResult', prev],
            ],
          }),
        ),
    },
    {
      weight: 8,
      arbitrary: fc
        .tuple(
          fc.oneof(
            { weight: 10, arbitrary: fc.constantFrom(...SUPPORTED_VERSIONS) },
            { weight: 1, arbitrary: anyTree },
          ),
          fc.array(vethField, { maxLength: 6 }),
        )
        .map(([v, rest]) => jsonText({ obj: [['cniVersion', v], ['type', 'veth'], ...rest] })),
    },
    { weight: 1, arbitrary: anyTree.map(jsonText) },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
  );

const IF_NAMES = ['eth0', 'net1', 'net2', 'eth1'];
const runCase = fc
  .constantFrom(...IF_NAMES)
  .chain((ifName) => fc.tuple(env(ifName), netconf(ifName)));

// Recorded `ip -json` output (iproute2 6.1.0, the tutorial node and pod; see run.test.ts).
const RECORDED: readonly string[] = [
  '[{"ifindex":1,"ifname":"lo","address":"00:00:00:00:00:00"},{"ifindex":2,"link_index":8,"ifname":"veth0","address":"72:0c:7a:b2:09:2a","link_netnsid":0},{"ifindex":6,"ifname":"eth0","address":"7e:92:62:fa:51:92"}]',
  '[{"ifindex":3,"ifname":"ens192","address":"3a:53:f1:41:6a:56"},{"ifindex":8,"ifname":"veth3f1c9e7b2a4","address":"de:5f:ac:3a:02:ab","ifalias":"nicpool:first=eth0"}]',
  '[{"ifindex":3,"ifname":"ens192","addr_info":[{"family":"inet","local":"10.6.168.123","prefixlen":16,"scope":"global"},{"family":"inet6","local":"fe80::3853:f1ff:fe41:6a56","prefixlen":64,"scope":"link"}]}]',
  '[{"dst":"10.7.168.173","gateway":"10.6.0.1","dev":"ens192","prefsrc":"10.6.168.123","flags":[],"uid":0,"cache":[]}]',
  '[{"dst":"10.6.168.172","dev":"ens192","prefsrc":"10.6.168.123","flags":[],"uid":0,"cache":[]}]',
  '[{"priority":0,"src":"all","table":"local"},{"priority":32764,"src":"10.7.168.173","table":"100"},{"priority":32765,"src":"all","dst":"10.7.168.173","dstlen":16,"table":"100"},{"priority":32766,"src":"all","table":"main"}]',
  '[{"dst":"default","gateway":"10.6.0.1","dev":"eth0","flags":[]},{"dst":"10.7.0.0/16","dev":"net1","protocol":"kernel","scope":"link","prefsrc":"10.7.168.173","flags":[]},{"dst":"fd00:7::/64","dev":"net1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"type":"local","dst":"10.7.168.173","dev":"net1","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.7.168.173","flags":[]}]',
  '[{"dst":"10.6.168.172","scope":"link","prefsrc":"10.6.168.123","flags":[]}]',
  '[]',
];

/** One query line's answer: recorded output, garbage JSON, or a failed line. */
const answer: Arbitrary<unknown> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(...RECORDED).map((t): unknown => JSON.parse(t)),
  },
  { weight: 2, arbitrary: anyTree.map((t): unknown => JSON.parse(jsonText(t))) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** How one apply ends: most succeed; some fail as exec.ts reports failures. */
const applyEnd: Arbitrary<CNIError | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new CNIError(999, 'in the node: ip link del vethx: Cannot find device "vethx"'),
      new CNIError(
        11,
        'in the pod: ip link set veth0 up: RTNETLINK answers: Device or resource busy',
      ),
      new CNIError(999, 'in the pod: ip rule add priority 32765 to 10.7.0.1/16 lookup 100: boom'),
    ),
  },
);

const kernelScript = fc.record({
  answers: fc.array(answer, { minLength: 1, maxLength: 12 }),
  applies: fc.array(applyEnd, { minLength: 1, maxLength: 4 }),
  allRpFilter: fc.constantFrom('0', '1', '2', undefined),
});

/**
 * A kernel that answers and fails from a script, cycling through it, and keeps every line
 * with a line break it was handed in `broken` (one batch line must stay one line).
 */
function scriptedKernel(
  s: {
    answers: readonly unknown[];
    applies: readonly (CNIError | undefined)[];
    allRpFilter: string | undefined;
  },
  broken: string[],
): Kernel {
  let q = 0;
  let a = 0;
  const keep = (lines: readonly string[]): void => {
    for (const l of lines) if (/[\n\r]/.test(l)) broken.push(l);
  };
  return {
    pid: 4242,
    async query(_where, lines) {
      keep(lines);
      const outputs = lines.map(() => s.answers[q++ % s.answers.length]);
      const failures = outputs.flatMap((o, i) =>
        o === undefined
          ? [{ line: i + 1, message: 'RTNETLINK answers: Network is unreachable' }]
          : [],
      );
      return { outputs, failures };
    },
    async apply(_where, lines, pod) {
      keep([...lines, ...(pod?.lines6 ?? [])]);
      const e = s.applies[a++ % s.applies.length];
      if (e !== undefined) throw e;
    },
    readSysctl: (path) => (path.endsWith('/all/rp_filter') ? s.allRpFilter : undefined),
    writeSysctl: (path) => keep([path]),
    log: () => undefined,
  };
}

/** What is wrong with one run's output, or undefined. */
function outputProblem(
  e: Readonly<Record<string, string | undefined>>,
  stdin: string,
  out: { stdout: string; exitCode: number },
): string | undefined {
  const command = e['CNI_COMMAND'];
  if (out.exitCode !== 0 && out.exitCode !== 1) return `exit code ${out.exitCode}`;
  let conf: Record<string, unknown> | undefined;
  try {
    const c: unknown = JSON.parse(stdin);
    conf =
      typeof c === 'object' && c !== null && !Array.isArray(c)
        ? (c as Record<string, unknown>)
        : undefined;
  } catch {
    conf = undefined;
  }
  const version = conf?.['cniVersion'];
  const supported = (SUPPORTED_VERSIONS as readonly unknown[]).includes(version);
  // D1: DEL with a container ID and a readable netconf never fails.
  if (
    command === 'DEL' &&
    supported &&
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(e['CNI_CONTAINERID'] ?? '') &&
    (out.exitCode !== 0 || out.stdout !== '')
  )
    return `DEL did not exit 0 silently: ${out.stdout}`;
  if (out.exitCode === 0 && out.stdout === '')
    return command === 'ADD' || command === 'VERSION' ? `empty success for ${command}` : undefined;
  if (!out.stdout.endsWith('\n')) return 'stdout does not end with a newline';
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(out.stdout) as Record<string, unknown>;
  } catch {
    return 'stdout is not JSON';
  }
  if (typeof body['cniVersion'] !== 'string') return 'no cniVersion';
  if (out.exitCode === 0) {
    if (command === 'VERSION') return undefined;
    if (command !== 'ADD') return `${command} printed a result`;
    // A17: prevResult, in the netconf's version.
    if (body['cniVersion'] !== version) return 'ADD result not in the netconf version';
    const prev = conf?.['prevResult'] as { ips?: unknown[] } | undefined;
    const ips = body['ips'];
    if (!Array.isArray(ips) || ips.length !== (prev?.ips?.length ?? -1))
      return 'ADD printed other addresses than prevResult';
    return undefined;
  }
  const { code, msg, details } = body;
  if (typeof code !== 'number' || !Number.isInteger(code)) return 'error without an integer code';
  if (typeof msg !== 'string' || msg === '') return 'error without msg';
  if (details !== undefined && typeof details !== 'string') return 'details is not a string';
  // The kernel here only fails with CNI errors: 999 "veth internal error" is a plugin defect.
  if (msg === 'veth internal error') return `a defect: ${String(details)}`;
  if (supported && body['cniVersion'] !== version && command !== undefined && command !== '')
    return 'error not in the netconf version';
  return undefined;
}

describe('veth plugin fuzzing', () => {
  it(
    'a CNI result or an error object, never a defect, a throw, a hang or a line break in a batch; DEL exits 0',
    async () => {
      await fc.assert(
        fc.asyncProperty(runCase, kernelScript, async ([e, stdin], script) => {
          let seq = 0;
          const broken: string[] = [];
          const out = await run({
            env: e,
            stdin,
            kernel: scriptedKernel(script, broken),
            mac: () => `02:00:00:00:00:${(seq++ % 256).toString(16).padStart(2, '0')}`,
          });
          if (broken.length > 0)
            throw new Error(`a batch line with a line break: ${JSON.stringify(broken[0])}`);
          const p = outputProblem(e, stdin, out);
          if (p !== undefined) throw new Error(`${p}\nstdout: ${out.stdout.slice(0, 500)}`);
          const polluted = prototypePollution();
          if (polluted.length > 0) throw new Error(`prototype polluted: ${polluted.join(', ')}`);
        }),
        fuzzParams('cni-veth/run', 20_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});

describe('veth fuzz helpers', () => {
  const addEnv = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0', CNI_NETNS: '/n' };
  const conf = '{"cniVersion":"1.0.0","prevResult":{"ips":[{"address":"10.6.168.172/16"}]}}';

  it('the output check rejects a defect, a failed DEL and a result that is not prevResult', () => {
    expect(
      outputProblem(addEnv, conf, {
        stdout: '{"cniVersion":"1.0.0","code":999,"msg":"veth internal error","details":"x"}\n',
        exitCode: 1,
      }),
    ).toBe('a defect: x');
    expect(
      outputProblem({ ...addEnv, CNI_COMMAND: 'DEL' }, conf, {
        stdout: '{"cniVersion":"1.0.0","code":999,"msg":"in the node: boom"}\n',
        exitCode: 1,
      }),
    ).toBe(
      'DEL did not exit 0 silently: {"cniVersion":"1.0.0","code":999,"msg":"in the node: boom"}\n',
    );
    expect(
      outputProblem(addEnv, conf, { stdout: '{"cniVersion":"1.0.0","ips":[]}\n', exitCode: 0 }),
    ).toBe('ADD printed other addresses than prevResult');
    expect(
      outputProblem(addEnv, conf, {
        stdout: '{"cniVersion":"1.0.0","ips":[{"address":"10.6.168.172/16"}]}\n',
        exitCode: 0,
      }),
    ).toBeUndefined();
  });
});
