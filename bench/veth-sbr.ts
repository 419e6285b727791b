// nicpool's `veth` plugin ADD beside Debian's `sbr` ADD on the same pod, in one run (issue:
// veth ADD median ≤ 3× sbr ADD, which does less). No cluster: a node netns with the tutorial
// node's NICs (ens192 10.6.168.123/16 with the default route, ens224 without IPv4) and, for
// every sample, a fresh pod netns whose eth0 and net1 are made by Debian's real macvlan with
// static IPAM, so each plugin gets the prevResult macvlan printed. Every plugin is exec'd
// the same way, `nsenter --net=<node netns> <plugin>`, timed from spawn to exit, with
// `nsenter … /bin/true` as the exec yardstick; the cases run round-robin after warm-ups so
// the machine's noise falls on all of them alike.
// Usage (root): node bench/veth-sbr.ts [runs=40] [--veth EXECUTABLE]
//   --veth measures another veth executable instead of apps/cni-veth/dist/veth.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from '../e2e/sim/run.ts';
import { markdownTable } from './lib/report.ts';
import { quantile } from './lib/stats.ts';
import { flag, say, type BenchResult, type Target } from './lib/types.ts';

export const VETH = fileURLToPath(new URL('../apps/cni-veth/dist/veth', import.meta.url));
export const NOT_BUILT = 'apps/cni-veth/dist/veth not built: run make build';
const CNI_PATH = '/usr/lib/cni';
const NODE_NS = 'nicpool-bv-node';
const POD_NS_PREFIX = 'nicpool-bv-pod-';
const SERVICE_CIDR = ['10.96.0.0/12'];

/** The tutorial pod's NICs, each a macvlan on one node NIC (spec/veth.md, "Outcome to test"). */
export const NICS = {
  eth0: {
    name: 'macvlan-conf-ens192',
    master: 'ens192',
    address: '10.6.168.172/16',
    gateway: '10.6.0.1',
    // nicpool's IPAM gives the first NIC the default route, and net1 none (spec A12).
    routes: [{ dst: '0.0.0.0/0', gw: '10.6.0.1' }],
  },
  net1: {
    name: 'macvlan-conf-ens224',
    master: 'ens224',
    address: '10.7.168.173/16',
    gateway: '10.7.0.1',
    routes: [],
  },
} as const;
export type Nic = keyof typeof NICS;

/**
 * One timed exec per sample: a plugin's ADD on a fresh pod (`eth0First`: after an untimed
 * veth ADD on eth0), or a yardstick: `/bin/true` (nsenter and exec), `node -e 0` (the
 * Node 24 the plugin is built from), `veth-version` (the plugin's own start, no work).
 */
export interface Case {
  readonly label: string;
  readonly plugin: 'sbr' | 'veth' | 'true' | 'node' | 'veth-version';
  readonly nic?: Nic;
  readonly eth0First?: boolean;
}

export const CASES: readonly Case[] = [
  { label: '`nsenter … /bin/true` (exec yardstick)', plugin: 'true' },
  { label: '`nsenter … node -e 0` (Node 24 start)', plugin: 'node' },
  { label: 'veth VERSION (the executable’s start, no work)', plugin: 'veth-version' },
  { label: 'sbr ADD net1', plugin: 'sbr', nic: 'net1' },
  { label: 'veth ADD net1 (eth0 had its veth ADD)', plugin: 'veth', nic: 'net1', eth0First: true },
  { label: 'sbr ADD eth0', plugin: 'sbr', nic: 'eth0' },
  { label: 'veth ADD eth0 (first NIC: veth0 and the node-side link)', plugin: 'veth', nic: 'eth0' },
];

/** macvlan in bridge mode on the NIC's master, with static IPAM giving the tutorial's address. */
export function macvlanNetconf(nic: Nic): string {
  const n = NICS[nic];
  return JSON.stringify({
    cniVersion: '0.3.1',
    name: n.name,
    type: 'macvlan',
    master: n.master,
    mode: 'bridge',
    ipam: {
      type: 'static',
      addresses: [{ address: n.address, gateway: n.gateway }],
      ...(n.routes.length > 0 ? { routes: n.routes } : {}),
    },
  });
}

/** The chained netconf Multus hands the plugin after macvlan (the tutorial's NADs). */
export function chainedNetconf(plugin: 'sbr' | 'veth', nic: Nic, prevResult: unknown): string {
  const extra = plugin === 'veth' ? { service_cidr: SERVICE_CIDR } : {};
  return JSON.stringify({
    cniVersion: '0.3.1',
    name: NICS[nic].name,
    type: plugin,
    ...extra,
    prevResult,
  });
}

/** Why `stdout` is not a 0.3.1 CNI result holding `address`, or undefined when it is one. */
export function notAResult(stdout: string, address: string): string | undefined {
  let r: unknown;
  try {
    r = JSON.parse(stdout);
  } catch {
    return 'stdout is not JSON';
  }
  if (typeof r !== 'object' || r === null) return 'stdout is not a JSON object';
  const { cniVersion, ips } = r as { cniVersion?: unknown; ips?: unknown };
  if (cniVersion !== '0.3.1') return `cniVersion ${JSON.stringify(cniVersion)}, not "0.3.1"`;
  if (!Array.isArray(ips)) return 'no ips list';
  if (!ips.some((ip) => (ip as { address?: unknown } | null)?.address === address))
    return `no IP ${address}`;
  return undefined;
}

const ms = (x: number): number => Math.round(x * 10) / 10;
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

/** The measured times (ms) per case, in CASES order, and what the run was on. */
export interface Measured {
  readonly runs: number;
  readonly cases: readonly Case[];
  readonly times: readonly (readonly number[])[];
  /** macvlan ADD times of every pod's eth0 and net1 (the setup), for scale. */
  readonly macvlan: readonly number[];
  /** The veth executable when not apps/cni-veth/dist/veth (`--veth`). */
  readonly otherVeth?: string;
  /** Set when the veth cases did not run. */
  readonly skipped?: string;
  readonly environment: string;
}

/** The BenchResult of a run: the per-case table, the veth/sbr ratios and the ≤ 3× targets. */
export function report(m: Measured): BenchResult {
  const stat = (t: readonly number[]): { p50: number; p90: number } => ({
    p50: quantile(t, 0.5),
    p90: quantile(t, 0.9),
  });
  const stats = m.cases.map((_, i) => stat(m.times[i] ?? []));
  const p50Of = (plugin: Case['plugin']): number =>
    stats[m.cases.findIndex((c) => c.plugin === plugin)]?.p50 ?? Number.NaN;
  const base = p50Of('true');
  const start = p50Of('veth-version');
  const of = (plugin: 'sbr' | 'veth', nic: Nic): { p50: number; p90: number } | undefined =>
    stats[m.cases.findIndex((c) => c.plugin === plugin && c.nic === nic)];
  const nics: readonly Nic[] = ['net1', 'eth0'];
  const pairs = nics.flatMap((nic) => {
    const v = of('veth', nic);
    const s = of('sbr', nic);
    return v !== undefined && s !== undefined ? [{ nic, v, s }] : [];
  });
  const mac = stat(m.macvlan);
  const targets: Target[] = nics.map((nic) => {
    const what = `veth ADD ${nic} ÷ sbr ADD ${nic}, median`;
    const p = pairs.find((x) => x.nic === nic);
    if (p === undefined)
      return { what, target: '≤ 3×', measured: `not run (${m.skipped})`, met: false };
    const r = p.v.p50 / p.s.p50;
    return {
      what,
      target: '≤ 3×',
      measured: `${r.toFixed(2)}× (${ms(p.v.p50)} ms ÷ ${ms(p.s.p50)} ms)`,
      met: r <= 3,
    };
  });
  return {
    id: 'veth',
    title: 'veth plugin ADD beside sbr ADD',
    commands: [
      `node_modules/.bin/node bench/veth-sbr.ts ${m.runs}${m.otherVeth === undefined ? '' : ` --veth ${m.otherVeth}`}`,
    ],
    tables: [
      {
        csv: 'veth-sbr.csv',
        title: `Plugin process under nsenter, spawn to exit (${m.runs} runs each, interleaved)`,
        columns: ['case', 'p50 ms', 'p90 ms', 'p50 − /bin/true (ms)'],
        rows: [
          ...m.cases.map((c, i) => [
            c.label,
            ms(stats[i]!.p50),
            ms(stats[i]!.p90),
            ms(stats[i]!.p50 - base),
          ]),
          [
            `macvlan ADD, the setup of every pod (${m.macvlan.length} runs)`,
            ms(mac.p50),
            ms(mac.p90),
            ms(mac.p50 - base),
          ],
        ],
      },
      {
        csv: 'veth-sbr-ratio.csv',
        title: 'veth ÷ sbr on the same NIC',
        columns: [
          'NIC',
          'veth p50 ms',
          'sbr p50 ms',
          'p50 ratio',
          'p90 ratio',
          'p50 ratio net of /bin/true',
          'veth p50 − veth VERSION p50 (ms)',
        ],
        rows: pairs.map(({ nic, v, s }) => [
          nic,
          ms(v.p50),
          ms(s.p50),
          ratio(v.p50, s.p50),
          ratio(v.p90, s.p90),
          ratio(v.p50 - base, s.p50 - base),
          ms(v.p50 - start),
        ]),
      },
    ],
    plots: [],
    targets,
    notes: [
      m.environment,
      `Per sample a fresh pod netns \`${POD_NS_PREFIX}<n>\`: Debian's macvlan (bridge mode, static IPAM) makes eth0 10.6.168.172/16 on ens192 and net1 10.7.168.173/16 on ens224 from the node netns \`${NODE_NS}\` (cniVersion 0.3.1), then the case's plugin runs once, timed, with macvlan's result as \`prevResult\` (veth with \`service_cidr: ["10.96.0.0/12"]\`); the "net1" veth case first runs veth ADD on eth0, untimed, as in the tutorial's order. Every ADD's exit code is checked and its stdout must be a CNI result holding the NIC's address. The pod netns is deleted after its sample, the node netns at the end.`,
      'Yardsticks, in the same rounds: `nsenter … /bin/true` is the cost of nsenter and an exec; `node -e 0` is the Node 24 the executable is built from; veth VERSION is the executable starting, answering and exiting without touching the kernel, so veth ADD − veth VERSION is the work of the ADD itself.',
      'sbr on net1 adds one rule and moves net1’s routes to table 100; veth on net1 also adds the `to` rule, the routes to the node and the service CIDR through veth0, and on the node a /32 route and a neighbour; veth on eth0 creates veth0 and its node-side link, neighbours both ways, and the routes in main. sbr on eth0 is the same work as on net1, for a second pair.',
      ...(m.skipped === undefined ? [] : [`veth cases not run: ${m.skipped}.`]),
    ],
  };
}

function failure(what: string, cmd: readonly string[], stdin: string, r: RunResult): Error {
  return new Error(
    `${what} failed: ${cmd.join(' ')} (exit ${r.code})\nstdin: ${stdin}\nstdout: ${r.stdout.trim()}\nstderr: ${r.stderr.trim()}`,
  );
}

/** Runs `ip` with a batch on stdin (or plain args); throws with its stderr on failure. */
async function ip(args: readonly string[], batch?: string): Promise<void> {
  const r = await run({ cmd: 'ip', args, input: batch ?? '' });
  if (r.code !== 0) throw failure('ip', ['ip', ...args], batch ?? '', r);
}

/** Whether the case runs the veth executable. */
export const usesVeth = (c: Case): boolean => c.plugin === 'veth' || c.plugin === 'veth-version';

const ownNetns = (): string[] =>
  existsSync('/run/netns')
    ? readdirSync('/run/netns').filter((n) => n === NODE_NS || n.startsWith(POD_NS_PREFIX))
    : [];

/**
 * Measures CASES (the veth ones only if apps/cni-veth/dist/veth exists) `runs` times each,
 * round-robin after 3 warm-up rounds. Needs root; leaves no netns behind, also on failure
 * or SIGINT/SIGTERM.
 */
export async function vethVsSbr(runs: number, opts: { veth?: string } = {}): Promise<BenchResult> {
  const veth = opts.veth ?? VETH;
  const haveVeth = existsSync(veth);
  const skipped = veth === VETH ? NOT_BUILT : `${veth} not found`;
  const cases = CASES.filter((c) => haveVeth || !usesVeth(c));
  const env = {
    PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin`,
    CNI_COMMAND: 'ADD',
    CNI_PATH,
  };
  const node = realpathSync(process.execPath);
  const nodeExec = (exe: string): string[] => [`--net=/run/netns/${NODE_NS}`, exe];
  const made = new Set<string>();
  const removeSync = (): void => {
    for (const ns of made) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      made.delete(ns);
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    removeSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const addNetns = async (ns: string): Promise<void> => {
    made.add(ns);
    await ip(['netns', 'add', ns]);
  };
  const delNetns = async (ns: string): Promise<void> => {
    await ip(['netns', 'del', ns]);
    made.delete(ns);
  };
  /** One plugin exec in the node netns; returns its wall time and parsed result. */
  const plugin = async (
    exe: string,
    nic: Nic,
    pod: string,
    id: string,
    stdin: string,
  ): Promise<{ t: number; result: unknown }> => {
    const args = nodeExec(exe);
    const t0 = process.hrtime.bigint();
    const r = await run({
      cmd: 'nsenter',
      args,
      input: stdin,
      env: { ...env, CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: nic },
    });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    const why = r.code === 0 ? notAResult(r.stdout, NICS[nic].address) : `exit ${r.code}`;
    if (why !== undefined)
      throw failure(`${exe} ADD ${nic} (${why})`, ['nsenter', ...args], stdin, r);
    return { t, result: JSON.parse(r.stdout) };
  };
  /** A yardstick under nsenter; VERSION must print the supported versions. */
  const timed = async (args: readonly string[], command?: 'VERSION'): Promise<number> => {
    const stdin = command === undefined ? '' : '{"cniVersion":"0.3.1"}';
    const t0 = process.hrtime.bigint();
    const r = await run({
      cmd: 'nsenter',
      args,
      input: stdin,
      env: command === undefined ? env : { ...env, CNI_COMMAND: command },
    });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    const ok = command === undefined ? r.stdout === '' : r.stdout.includes('"supportedVersions"');
    if (r.code !== 0 || !ok) throw failure(args[1]!, ['nsenter', ...args], stdin, r);
    return t;
  };
  const exe = (p: 'sbr' | 'veth'): string => (p === 'veth' ? veth : `${CNI_PATH}/sbr`);
  const macvlan: number[] = [];
  let n = 0;
  const sample = async (c: Case): Promise<number> => {
    if (c.plugin === 'true') return timed(nodeExec('/bin/true'));
    if (c.plugin === 'node') return timed([...nodeExec(node), '-e', '0']);
    if (c.plugin === 'veth-version') return timed(nodeExec(veth), 'VERSION');
    const nic = c.nic!;
    const pod = `${POD_NS_PREFIX}${n++}`;
    const id = randomBytes(32).toString('hex');
    await addNetns(pod);
    try {
      const prev: Partial<Record<Nic, unknown>> = {};
      for (const k of ['eth0', 'net1'] as const) {
        const m = await plugin(`${CNI_PATH}/macvlan`, k, pod, id, macvlanNetconf(k));
        macvlan.push(m.t);
        prev[k] = m.result;
      }
      if (c.eth0First)
        await plugin(veth, 'eth0', pod, id, chainedNetconf('veth', 'eth0', prev.eth0));
      const p = c.plugin;
      return (await plugin(exe(p), nic, pod, id, chainedNetconf(p, nic, prev[nic]))).t;
    } finally {
      // A failed delete is retried at the end; it must not hide the sample's own error.
      await delNetns(pod).catch(() => undefined);
    }
  };

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const ns of ownNetns()) {
      say(`removing ${ns}, left by an interrupted run`);
      made.add(ns);
    }
    removeSync();
    await addNetns(NODE_NS);
    await ip(
      ['-n', NODE_NS, '-batch', '-'],
      [
        'link set lo up',
        'link add ens192 type veth peer name ens192p',
        'link add ens224 type veth peer name ens224p',
        ...['ens192', 'ens192p', 'ens224', 'ens224p'].map((l) => `link set ${l} up`),
        'addr add 10.6.168.123/16 dev ens192',
        'route add default via 10.6.0.1 dev ens192',
      ].join('\n') + '\n',
    );
    if (!haveVeth) say(`veth cases skipped: ${skipped}`);
    const load0 = loadavg()[0]!;
    const warmups = 3;
    for (let i = 0; i < warmups; i++) for (const c of cases) await sample(c);
    macvlan.length = 0;
    const times = cases.map((): number[] => []);
    say(`${cases.length} cases × ${runs} runs, interleaved`);
    for (let i = 0; i < runs; i++)
      for (const [j, c] of cases.entries()) times[j]!.push(await sample(c));
    const load1 = loadavg()[0]!;
    return report({
      runs,
      cases,
      times,
      macvlan,
      ...(haveVeth ? {} : { skipped }),
      ...(veth === VETH ? {} : { otherVeth: veth }),
      environment: await environment(haveVeth ? veth : undefined, warmups, load0, load1),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const left = [...made];
    made.clear();
    for (const ns of left) await ip(['netns', 'del', ns]).catch(() => undefined);
  }
}

/** Machine, kernel, plugin versions and load, for the notes. */
async function environment(
  veth: string | undefined,
  warmups: number,
  load0: number,
  load1: number,
): Promise<string> {
  const out = async (cmd: string, args: string[]): Promise<string> => {
    const r = await run({ cmd, args });
    return r.code === 0 ? r.stdout.trim() : 'unknown';
  };
  const debian = await out('dpkg-query', ['-W', '-f', '${Version}', 'containernetworking-plugins']);
  const commit = await out('git', [
    '-C',
    fileURLToPath(new URL('..', import.meta.url)),
    'rev-parse',
    '--short',
    'HEAD',
  ]);
  const built =
    veth === undefined
      ? NOT_BUILT
      : `${veth === VETH ? 'apps/cni-veth/dist/veth' : veth} built ${statSync(veth).mtime.toISOString()}, repository at ${commit}`;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return (
    `${cpus().length} × ${cpu}, Linux ${release()}; sbr, macvlan and static from Debian's containernetworking-plugins ${debian}; ${built}. ` +
    `Load average ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end. ` +
    `Each case ran ${warmups} warm-up times, then round-robin with the others; a run is timed from the spawn of nsenter to its exit.`
  );
}

if (import.meta.main) {
  const veth = flag('--veth');
  const runs = Number(
    process.argv.slice(2).find((a, i, all) => all[i - 1] !== '--veth' && a !== '--veth') ?? 40,
  );
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error('runs: a positive integer');
  const result = await vethVsSbr(runs, veth === undefined ? {} : { veth });
  for (const t of result.tables) process.stderr.write(`\n${t.title}\n${markdownTable(t)}`);
  for (const t of result.targets)
    process.stderr.write(`${t.met ? 'met' : 'MISSED'}: ${t.what} ${t.target}: ${t.measured}\n`);
  console.log(JSON.stringify(result, null, 2));
}
