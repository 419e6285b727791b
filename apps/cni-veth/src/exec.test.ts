import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CNIError } from '@nicpool/cni';
import { parseFailures, systemKernel } from './exec.ts';

describe('parseFailures', () => {
  it('one failure per "Command failed", with the message before it', () => {
    expect(
      parseFailures(
        'Error: Unknown device type.\nCommand failed -:1\nRTNETLINK answers: File exists\nCommand failed -:7\n',
      ),
    ).toEqual([
      { line: 1, message: 'Error: Unknown device type.' },
      { line: 7, message: 'RTNETLINK answers: File exists' },
    ]);
  });

  it('reads what `ip -force -batch -` printed for eight failing lines', () => {
    // ip -force -batch - in an empty netns, stderr as iproute2 6.1.0 printed it
    const stderr = [
      'RTNETLINK answers: File exists',
      'Command failed -:2',
      'Error: Unknown device type.',
      'Command failed -:3',
      'Cannot find device "veth9"',
      'Command failed -:4',
      'Error: Nexthop has invalid gateway.',
      'Command failed -:5',
      '"zz" is invalid lladdr.',
      'Command failed -:6',
      'Error: Invalid dst address.',
      'Command failed -:7',
      'RTNETLINK answers: No such process',
      'Command failed -:8',
      '',
    ].join('\n');
    expect(parseFailures(stderr)).toEqual([
      { line: 2, message: 'RTNETLINK answers: File exists' },
      { line: 3, message: 'Error: Unknown device type.' },
      { line: 4, message: 'Cannot find device "veth9"' },
      { line: 5, message: 'Error: Nexthop has invalid gateway.' },
      { line: 6, message: '"zz" is invalid lladdr.' },
      { line: 7, message: 'Error: Invalid dst address.' },
      { line: 8, message: 'RTNETLINK answers: No such process' },
    ]);
  });

  it('joins several message lines of one failure; blank lines and trailing text are dropped', () => {
    expect(
      parseFailures(
        'Error: either "to" is duplicate, or "x" is a garbage.\n\n  more detail  \nCommand failed -:12\nWarning: a note with no failure\n',
      ),
    ).toEqual([
      {
        line: 12,
        message: 'Error: either "to" is duplicate, or "x" is a garbage.; more detail',
      },
    ]);
  });

  it('nothing failed: nothing', () => {
    expect(parseFailures('')).toEqual([]);
    expect(parseFailures('Warning: a note with no failure\n')).toEqual([]);
  });

  it('a failure with no message before it', () => {
    expect(parseFailures('Command failed -:3\n')).toEqual([{ line: 3, message: '' }]);
  });
});

describe('sysctl', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nicpool-veth-sysctl-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a value trimmed, undefined when absent; writes it with a newline', () => {
    const path = join(dir, 'rp_filter');
    writeFileSync(path, '1\n');
    expect(systemKernel.readSysctl(path)).toBe('1');
    systemKernel.writeSysctl(path, '2');
    expect(readFileSync(path, 'utf8')).toBe('2\n');
    expect(systemKernel.readSysctl(join(dir, 'absent'))).toBeUndefined();
  });

  it('a failed write is a CNI error naming the path', () => {
    const path = join(dir, 'no-such-dir', 'rp_filter');
    let caught: unknown;
    try {
      systemKernel.writeSysctl(path, '0');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CNIError);
    expect({ code: (caught as CNIError).code, msg: (caught as CNIError).message }).toEqual({
      code: 999,
      msg: `on the node: cannot write ${path}`,
    });
  });
});

/**
 * systemKernel's query and apply against fake `ip` and `nsenter` executables that record
 * their argv and stdin and print what a scenario says. They run in a child process: the
 * child's PATH reaches spawn, the test sandbox's process.env does not.
 */
describe('systemKernel query and apply (fake ip and nsenter on PATH)', () => {
  const FAKE = [
    '#!/bin/sh',
    'for a in "$(basename "$0")" "$@"; do printf "%s\\0" "$a"; done > "$FAKE_LOG.argv"',
    'cat > "$FAKE_LOG.stdin"',
    'printf "%s" "$FAKE_STDOUT"',
    'printf "%s" "$FAKE_STDERR" >&2',
    'exit "${FAKE_CODE:-0}"',
    '',
  ].join('\n');

  interface Scenario {
    readonly name: string;
    readonly stdout?: string;
    readonly stderr?: string;
    readonly code?: number;
    /** PATH without the fakes (nor anything else). */
    readonly noPath?: boolean;
    readonly call: 'query' | 'apply';
    readonly netns?: string;
    readonly lines: readonly string[];
    readonly family?: 4 | 6;
    readonly pod?: {
      readonly ipv6: boolean;
      readonly rpFilter: 0 | 1 | 2 | undefined;
      readonly lines6: readonly string[];
    };
  }
  interface Outcome {
    readonly value?: unknown;
    readonly error?: { code: number; msg: string; details: string | undefined };
    readonly argv?: string[];
    readonly stdin?: string;
  }

  const L1 = '[{"ifindex":1,"ifname":"lo"}]';
  const L2 = '[{"ifindex":1,"ifname":"lo","addr_info":[]}]';
  const L4 = '[{"priority":0,"src":"all","table":"local"}]';
  const RULES6 = [
    'rule add priority 32765 to fd00:7::173/64 lookup 100',
    'rule add priority 32764 from fd00:7::173/128 lookup 100',
  ];
  const SCENARIOS: readonly Scenario[] = [
    {
      name: 'query-node',
      call: 'query',
      lines: ['link show', 'addr show', 'route get 10.7.168.173', 'rule show'],
      stdout: `${L1}\n${L2}\n${L4}\n`,
      stderr: 'RTNETLINK answers: Network is unreachable\nCommand failed -:3\n',
      code: 1,
    },
    {
      name: 'query-pod6',
      call: 'query',
      netns: '/var/run/netns/cni-1',
      lines: ['rule show', 'route show table all'],
      family: 6,
      stdout: '[]\n[]\n',
    },
    {
      name: 'query-short',
      call: 'query',
      lines: ['link show', 'route show dev x'],
      stdout: `${L1}\n`,
    },
    {
      name: 'query-transient',
      call: 'query',
      lines: ['link show'],
      stderr: 'Cannot open netlink socket: Resource temporarily unavailable\n',
      code: 1,
    },
    {
      name: 'query-no-netns',
      call: 'query',
      netns: '/var/run/netns/gone',
      lines: ['link show'],
      stderr: 'nsenter: cannot open /var/run/netns/gone: No such file or directory\n',
      code: 1,
    },
    { name: 'query-garbage', call: 'query', lines: ['link show'], stdout: 'not json\n' },
    { name: 'apply-node', call: 'apply', lines: ['link set vethx up', 'link set vethx alias a'] },
    {
      name: 'apply-node-fails',
      call: 'apply',
      lines: ['link set vethx up', 'neigh replace 10.7.168.173 lladdr 4a:b9:7d:d3:43:3f dev vethx'],
      stderr: 'RTNETLINK answers: File exists\nCommand failed -:2\n',
      code: 1,
    },
    {
      name: 'apply-pod',
      call: 'apply',
      netns: '/var/run/netns/cni-1',
      lines: ['link set veth0 up'],
      pod: { ipv6: true, rpFilter: 0, lines6: RULES6 },
    },
    {
      name: 'apply-pod-no-rp',
      call: 'apply',
      netns: '/var/run/netns/cni-1',
      lines: ['link set veth0 up'],
      pod: { ipv6: false, rpFilter: undefined, lines6: [] },
    },
    {
      name: 'apply-pod-rp-only',
      call: 'apply',
      netns: '/var/run/netns/cni-1',
      lines: [],
      pod: { ipv6: false, rpFilter: 2, lines6: [] },
    },
    {
      name: 'apply-pod-busy',
      call: 'apply',
      netns: '/var/run/netns/cni-1',
      lines: ['link add veth0 type veth peer name vethx'],
      pod: { ipv6: false, rpFilter: 0, lines6: [] },
      stderr: 'RTNETLINK answers: Device or resource busy\nCommand failed -:1\n',
      code: 1,
    },
    {
      name: 'apply-pod-sh-fails',
      call: 'apply',
      netns: '/var/run/netns/cni-1',
      lines: ['link set veth0 up'],
      pod: { ipv6: false, rpFilter: 0, lines6: [] },
      stderr: 'sh: 1: cannot create /proc/sys/net/ipv4/conf/all/rp_filter: Permission denied\n',
      code: 1,
    },
    {
      name: 'apply-pod-v4-fails',
      call: 'apply',
      netns: '/var/run/netns/cni-1',
      lines: ['link set veth0 up', 'route replace 10.96.0.0/12 via 10.6.168.123 dev veth0'],
      pod: { ipv6: true, rpFilter: 0, lines6: RULES6 },
      // what the pod's script prints: each batch announced, then ip's own failure
      stderr: '@batch 4\nError: Nexthop has invalid gateway.\nCommand failed -:2\n',
      code: 1,
    },
    {
      name: 'apply-pod-v6-fails',
      call: 'apply',
      netns: '/var/run/netns/cni-1',
      lines: ['link set veth0 up'],
      pod: { ipv6: true, rpFilter: 0, lines6: RULES6 },
      stderr: '@batch 4\n@batch 6\nError: Invalid source address.\nCommand failed -:2\n',
      code: 1,
    },
    {
      name: 'query-pod4',
      call: 'query',
      netns: '/var/run/netns/cni-1',
      lines: ['link show'],
      family: 4,
      stdout: `${L1}\n`,
    },
    { name: 'apply-nothing', call: 'apply', lines: [] },
    { name: 'no-ip', call: 'query', lines: ['link show'], noPath: true },
  ];

  const CHILD = `
import { existsSync, readFileSync, rmSync } from 'node:fs';
const [execUrl, dir, scenariosJson, UNDEFINED] = process.argv.slice(2);
const { systemKernel } = await import(execUrl);
const out = {};
for (const s of JSON.parse(scenariosJson)) {
  const log = dir + '/log-' + s.name;
  Object.assign(process.env, {
    FAKE_LOG: log,
    FAKE_STDOUT: s.stdout ?? '',
    FAKE_STDERR: s.stderr ?? '',
    FAKE_CODE: String(s.code ?? 0),
    PATH: s.noPath ? dir + '/empty' : dir + '/bin:' + process.env.ORIGINAL_PATH,
  });
  const o = {};
  try {
    const where = { netns: s.netns };
    if (s.call === 'query') {
      const r = await systemKernel.query(where, s.lines, s.family);
      // JSON has no undefined: mark a failed line's output so the test can restore it.
      o.value = { ...r, outputs: r.outputs.map((x) => (x === undefined ? UNDEFINED : x)) };
    } else o.value = (await systemKernel.apply(where, s.lines, s.pod)) ?? null;
  } catch (e) {
    o.error = { code: e.code, msg: e.message, details: e.details };
  }
  if (existsSync(log + '.argv')) {
    o.argv = readFileSync(log + '.argv', 'utf8').split('\\0').slice(0, -1);
    o.stdin = readFileSync(log + '.stdin', 'utf8');
  }
  out[s.name] = o;
}
// A spawn that failed leaves its kill timer pending: exit as main.ts does.
process.stdout.write(JSON.stringify(out), () => process.exit(0));
`;

  let dir = '';
  let outcomes: Record<string, Outcome> = {};
  const UNDEFINED = '<undefined output>';
  const outcome = (name: string): Outcome => {
    const o = outcomes[name];
    if (o === undefined) throw new Error(`no outcome for ${name}`);
    const v = o.value as { outputs?: unknown[] } | null | undefined;
    if (v?.outputs === undefined) return o;
    return {
      ...o,
      value: { ...v, outputs: v.outputs.map((x) => (x === UNDEFINED ? undefined : x)) },
    };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nicpool-veth-exec-'));
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'empty'));
    for (const name of ['ip', 'nsenter']) {
      writeFileSync(join(dir, 'bin', name), FAKE);
      chmodSync(join(dir, 'bin', name), 0o755);
    }
    writeFileSync(join(dir, 'child.mjs'), CHILD);
    const execTs = join(fileURLToPath(new URL('.', import.meta.url)), 'exec.ts');
    const r = spawnSync(
      process.execPath,
      [
        join(dir, 'child.mjs'),
        pathToFileURL(execTs).href,
        dir,
        JSON.stringify(SCENARIOS),
        UNDEFINED,
      ],
      {
        encoding: 'utf8',
        env: { ORIGINAL_PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        timeout: 60_000,
      },
    );
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    outcomes = JSON.parse(r.stdout) as Record<string, Outcome>;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('query: `ip -json -force -batch -` on the node, one output per line, a failed line undefined', () => {
    expect(outcome('query-node')).toEqual({
      value: {
        outputs: [JSON.parse(L1), JSON.parse(L2), undefined, JSON.parse(L4)],
        failures: [{ line: 3, message: 'RTNETLINK answers: Network is unreachable' }],
      },
      argv: ['ip', '-json', '-force', '-batch', '-'],
      stdin: 'link show\naddr show\nroute get 10.7.168.173\nrule show\n',
    });
  });

  it('query in the pod through nsenter, -6 first', () => {
    expect(outcome('query-pod6')).toEqual({
      value: { outputs: [[], []], failures: [] },
      argv: ['nsenter', '--net=/var/run/netns/cni-1', 'ip', '-6', '-json', '-force', '-batch', '-'],
      stdin: 'rule show\nroute show table all\n',
    });
  });

  it('query: a line that printed nothing reads as an empty list', () => {
    expect(outcome('query-short').value).toEqual({ outputs: [JSON.parse(L1), []], failures: [] });
  });

  it('query: ip failing without a failed line is code 11 when transient, else 999', () => {
    expect(outcome('query-transient').error).toEqual({
      code: 11,
      msg: "cannot read the node's network state",
      details:
        'ip -json -force -batch -: Cannot open netlink socket: Resource temporarily unavailable',
    });
    expect(outcome('query-no-netns').error).toEqual({
      code: 999,
      msg: "cannot read the pod's network state",
      details:
        'nsenter --net=/var/run/netns/gone ip -json -force -batch -: nsenter: cannot open /var/run/netns/gone: No such file or directory',
    });
  });

  it('query: output that is not JSON is an error naming the line', () => {
    expect(outcome('query-garbage').error).toEqual({
      code: 999,
      msg: "cannot read the node's network state",
      details: 'ip printed "not json" for "link show"',
    });
  });

  it('apply on the node: `ip -batch -` with the lines', () => {
    expect(outcome('apply-node')).toEqual({
      value: null,
      argv: ['ip', '-batch', '-'],
      stdin: 'link set vethx up\nlink set vethx alias a\n',
    });
  });

  it('apply: a failed line is named with what ip said', () => {
    expect(outcome('apply-node-fails').error).toEqual({
      code: 999,
      msg: 'in the node: ip neigh replace 10.7.168.173 lladdr 4a:b9:7d:d3:43:3f dev vethx: RTNETLINK answers: File exists',
      details: undefined,
    });
    expect(outcome('apply-pod-busy').error).toEqual({
      code: 11,
      msg: 'in the pod: ip link add veth0 type veth peer name vethx: RTNETLINK answers: Device or resource busy',
      details: undefined,
    });
  });

  it('apply in the pod: one sh through nsenter, IPv6 and rp_filter as positional arguments', () => {
    const pod = outcome('apply-pod');
    expect(pod.argv?.slice(0, 3)).toEqual(['nsenter', '--net=/var/run/netns/cni-1', 'sh']);
    expect(pod.argv?.[3]).toBe('-c');
    expect(pod.argv?.[4]).toContain('ip -batch - || exit $?');
    expect(pod.argv?.slice(5)).toEqual(['veth', '1', '0', RULES6.join('\n')]);
    expect(pod.stdin).toBe('link set veth0 up\n');
    expect(outcome('apply-pod-no-rp').argv?.slice(5)).toEqual(['veth', '0', '', '']);
    expect(outcome('apply-pod-rp-only').argv?.slice(5)).toEqual(['veth', '0', '2', '']);
  });

  it('apply in the pod: a failure is named by the line of the batch that failed', () => {
    expect(outcome('apply-pod-v4-fails').error).toEqual({
      code: 999,
      msg: 'in the pod: ip route replace 10.96.0.0/12 via 10.6.168.123 dev veth0: Error: Nexthop has invalid gateway.',
      details: undefined,
    });
    expect(outcome('apply-pod-v6-fails').error).toEqual({
      code: 999,
      msg: 'in the pod: ip -6 rule add priority 32764 from fd00:7::173/128 lookup 100: Error: Invalid source address.',
      details: undefined,
    });
  });

  it('query with -4 for one family', () => {
    expect(outcome('query-pod4').argv).toEqual([
      'nsenter',
      '--net=/var/run/netns/cni-1',
      'ip',
      '-4',
      '-json',
      '-force',
      '-batch',
      '-',
    ]);
  });

  it('apply in the pod: the script failing outside ip is named by its command', () => {
    expect(outcome('apply-pod-sh-fails').error).toEqual({
      code: 999,
      msg: 'in the pod: nsenter --net=/var/run/netns/cni-1 sh: sh: 1: cannot create /proc/sys/net/ipv4/conf/all/rp_filter: Permission denied',
      details: undefined,
    });
  });

  it('apply with nothing to do runs nothing', () => {
    expect(outcome('apply-nothing')).toEqual({ value: null });
  });

  it('no ip on PATH: a CNI error saying which command could not run', () => {
    expect(outcome('no-ip').error).toEqual({
      code: 999,
      msg: 'cannot run ip',
      details: 'spawn ip ENOENT',
    });
  });
});
