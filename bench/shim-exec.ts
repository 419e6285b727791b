// Per-exec cost of the CNI shim. Multus execs it once per NIC, and a pod's second NIC is
// answered from the allocator's cache, so the shim's own start dominates that answer.
// Whole processes, spawned one at a time, round-robin across the variants after warm-ups,
// so the machine's noise falls on all of them alike: `node -e 0` (the same Node 24, the
// yardstick), the shipped shim doing VERSION and ADD, and every build variant tried
// (scripts/build-shim.ts), each built here from the current sources. ADD goes to a Unix
// socket server in this process that answers at once with a recorded allocator reply, so
// the figures are the shim's cost, not the allocator's.
// Usage: node bench/shim-exec.ts [runs=40] [--also NAME=EXECUTABLE]…
//   --also measures another shim executable's ADD beside them (a previous build, another
//   runtime's build of apps/cni-shim/src/main.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddRequest, AddResponse } from '@nicpool/wire';
import { Paths } from '@nicpool/wire/codes';
import { buildShim, SHIPPED, type ShimBuild } from '../scripts/build-shim.ts';
import { say, type BenchResult } from './lib/types.ts';

/**
 * What the allocator answers `ADD net1` of a pod whose NICs it allocated at `ADD eth0` (the
 * tutorial's pools; apps/allocator/src/app.int.test.ts asserts this very reply).
 */
const CACHED_REPLY: AddResponse = {
  ips: [
    {
      version: 4,
      address: '10.7.168.176/16',
      nic: 'net1',
      ipPool: 'ippool-test-ens224',
      gateway: '10.7.0.1',
    },
  ],
  routes: [],
};
/** What the shim must print for it (cniVersion 0.3.1: `version` per IP). */
const ADD_OUTPUT = `${JSON.stringify({
  cniVersion: '0.3.1',
  ips: [{ version: '4', address: '10.7.168.176/16', gateway: '10.7.0.1' }],
  routes: [],
  dns: {},
})}\n`;

/** Debian's containernetworking-plugins, which the harness's nodes use. */
const GO_PLUGIN = '/usr/lib/cni/macvlan';

/** The build variants tried besides the shipped one (scripts/build-shim.ts `SHIPPED`). */
const TRIED: readonly { name: string; how: ShimBuild }[] = [
  { name: 'SEA, bundle only', how: { useSnapshot: false, useCodeCache: false, execArgv: [] } },
  { name: 'SEA + code cache', how: { useSnapshot: false, useCodeCache: true, execArgv: [] } },
  ...['--jitless', '--max-semi-space-size=1', '--single-threaded'].map((flag) => ({
    name: `SEA + snapshot + ${flag}`,
    how: { useSnapshot: true, useCodeCache: false, execArgv: [flag] },
  })),
];

interface Variant {
  readonly name: string;
  readonly exe: string;
  readonly args: readonly string[];
  readonly command?: 'ADD' | 'VERSION';
  /** Checks one run's stdout. */
  readonly expect: (stdout: string) => boolean;
}

const quantile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const ms = (x: number): number => Math.round(x * 10) / 10;

/**
 * Measures `node -e 0`, the shipped shim (VERSION, ADD) and each variant in `TRIED`, plus
 * `also` (ADD), and reports p50/p90 per variant and the difference to `node -e 0`.
 */
export async function shimExec(
  opts: { runs?: number; also?: readonly { name: string; exe: string }[] } = {},
): Promise<BenchResult> {
  const runs = opts.runs ?? 40;
  const dir = mkdtempSync(join(tmpdir(), 'nicpool-shim-exec-'));
  const socket = join(dir, 'spiderpool.sock');
  let served = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const add = req.method === 'POST' && req.url === Paths.ip;
      const ok = add && (JSON.parse(body) as AddRequest).ifName === 'net1';
      const text = JSON.stringify(ok ? CACHED_REPLY : { code: 'BAD_REQUEST', message: body });
      served += ok ? 1 : 0;
      res.writeHead(ok ? 200 : 400, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const netconf = JSON.stringify({
    cniVersion: '0.3.1',
    name: 'macvlan-conf-ens224',
    type: 'macvlan',
    ipam: { type: 'spiderpool', ipam_unix_socket_path: socket },
  });
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    CNI_CONTAINERID: 'bench',
    CNI_NETNS: '/var/run/netns/bench',
    CNI_IFNAME: 'net1',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: 'IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=uid-1',
  };
  try {
    say(`building the shipped shim and ${TRIED.length} variants in ${dir}`);
    const shipped = await buildShim(join(dir, 'shipped'));
    const built: Variant[] = [];
    for (const [i, t] of TRIED.entries()) {
      const exe = await buildShim(join(dir, `v${i}`), t.how);
      built.push({ name: `${t.name}: ADD`, exe, args: [], command: 'ADD', expect: isAdd });
    }
    const node = realpathSync(process.execPath);
    const variants: Variant[] = [
      { name: 'node -e 0', exe: node, args: ['-e', '0'], expect: (o) => o === '' },
      {
        name: 'shim VERSION',
        exe: shipped,
        args: [],
        command: 'VERSION',
        expect: (o) => o.startsWith('{"cniVersion":"1.1.0","supportedVersions"'),
      },
      { name: 'shim ADD', exe: shipped, args: [], command: 'ADD', expect: isAdd },
      // A Go CNI plugin's start, the yardstick of another runtime (Debian's plugins).
      ...(existsSync(GO_PLUGIN)
        ? [
            {
              name: 'macvlan VERSION (a Go CNI plugin)',
              exe: GO_PLUGIN,
              args: [],
              command: 'VERSION' as const,
              expect: (o: string) => o.startsWith('{"cniVersion":'),
            },
          ]
        : []),
      ...built,
      ...(opts.also ?? []).map((a): Variant => ({
        name: `${a.name}: ADD`,
        exe: a.exe,
        args: [],
        command: 'ADD',
        expect: isAdd,
      })),
    ];
    const once = (v: Variant): Promise<number> =>
      new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const child = spawn(v.exe, v.args, {
          env: v.command === undefined ? env : { ...env, CNI_COMMAND: v.command },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
        child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
        child.on('error', reject);
        child.on('close', (code) => {
          const t = Number(process.hrtime.bigint() - t0) / 1e6;
          if (code === 0 && v.expect(out)) resolve(t);
          else
            reject(
              new Error(`${v.name}: exit ${code}, stdout ${out.trim()}, stderr ${err.trim()}`),
            );
        });
        child.stdin.end(netconf);
      });
    const load0 = loadavg()[0]!;
    const warmups = 3;
    for (let i = 0; i < warmups; i++) for (const v of variants) await once(v);
    const times = variants.map((): number[] => []);
    say(`${variants.length} variants × ${runs} runs, interleaved`);
    for (let i = 0; i < runs; i++)
      for (const [j, v] of variants.entries()) times[j]!.push(await once(v));
    // CPU per exec (user + system of the process and its threads): on a busy node the CPU a
    // plugin burns, not its wall time, is what it takes from everything else. bash runs each
    // variant `runs` times and reports its children's CPU with `times`.
    say(`CPU per exec: ${variants.length} variants × ${runs} runs under bash`);
    const cpuMs: number[] = [];
    for (const v of variants) cpuMs.push(await cpuPerExec(v, runs, env, netconf, dir));
    const adds = variants.filter((v) => v.command === 'ADD').length * (warmups + 2 * runs);
    if (served !== adds) throw new Error(`${served} ADD answers served for ${adds} ADD runs`);
    const stats = times.map((t) => {
      const s = [...t].sort((a, b) => a - b);
      return { p50: quantile(s, 0.5), p90: quantile(s, 0.9) };
    });
    const base = stats[0]!.p50;
    const add = stats[2]!.p50;
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    return {
      id: 'shim',
      title: 'CNI shim: cost of one exec',
      commands: [
        [
          `node_modules/.bin/node bench/shim-exec.ts ${runs}`,
          ...(opts.also ?? []).map((a) => `--also '${a.name}=${a.exe}'`),
        ].join(' '),
      ],
      tables: [
        {
          csv: 'shim-exec.csv',
          title: `Whole process, spawn to exit (${runs} runs each, interleaved)`,
          columns: [
            'variant',
            'p50 ms',
            'p90 ms',
            'p50 − node -e 0 (ms)',
            'p50 / node -e 0',
            'CPU per exec (ms)',
          ],
          rows: variants.map((v, j) => [
            v.name,
            ms(stats[j]!.p50),
            ms(stats[j]!.p90),
            ms(stats[j]!.p50 - base),
            Math.round((stats[j]!.p50 / base) * 100) / 100,
            ms(cpuMs[j]!),
          ]),
        },
      ],
      plots: [],
      targets: [
        {
          what: 'Shim exec → answer for a NIC already allocated (answered from the cache), p50',
          target: '≤ node -e 0 + 10 ms',
          measured: `${ms(add)} ms vs ${ms(base)} ms (${add - base >= 0 ? '+' : ''}${ms(add - base)} ms)`,
          met: add - base <= 10,
        },
      ],
      notes: [
        `Node ${process.version}, ${cpus().length} × ${cpu}; load average ${load0.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end. ` +
          `Each variant ran ${warmups} warm-up times, then ${runs} times round-robin with the others; a run is timed from spawn to exit, its stdout checked.`,
        `The shipped build (scripts/build-shim.ts \`SHIPPED\`): ${describe(SHIPPED)}. ` +
          'The ADD rows answer `ADD net1` with a recorded reply from a socket server in the bench process: the shim reads the netconf, makes one HTTP request over the Unix socket and prints the CNI result.',
        `CPU per exec: bash runs each variant ${runs} times more and prints its children's user + system time (\`times\`, every thread included); on a node busy with sandboxes it is the CPU, not the wall time, that a plugin takes from the rest. The shim costs what Node's own start costs (the node -e 0 row); "macvlan VERSION" is a Go CNI plugin's start, the yardstick of a compiled runtime.`,
        'Variants: "bundle only" runs the bundled script in the SEA, without a snapshot; "code cache" adds V8\'s code cache of the bundle; "snapshot" starts from a V8 startup snapshot taken after the bundle, `node:net` and the streams loaded (`node:http` cannot be in a snapshot, one reason the client speaks HTTP/1.1 on `node:net`); the flag variants add one Node/V8 flag to the snapshot build.',
      ],
    };
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Mean CPU ms (user + system) of one exec of `v`: bash runs it `runs` times with the same
 * environment and stdin, then prints its children's times (`times`, second line).
 */
async function cpuPerExec(
  v: Variant,
  runs: number,
  env: Record<string, string>,
  netconf: string,
  dir: string,
): Promise<number> {
  const input = join(dir, 'netconf.json');
  writeFileSync(input, netconf);
  const cmd = [v.exe, ...v.args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `for i in $(seq ${runs}); do ${cmd} < '${input}' > /dev/null || exit 1; done; times`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      env: v.command === undefined ? env : { ...env, CNI_COMMAND: v.command },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (text += c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`${v.name}: bash loop exit ${code}`)),
    );
  });
  // `times`: the shell's own user/sys, then its children's, e.g. "0m1.234s 0m0.567s".
  const children = out.trim().split('\n').at(-1) ?? '';
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(
    (m) => Number(m[1]) * 60 + Number(m[2]),
  );
  if (secs.length !== 2) throw new Error(`${v.name}: cannot read bash's times: ${out}`);
  return ((secs[0]! + secs[1]!) * 1000) / runs;
}

function isAdd(stdout: string): boolean {
  return stdout === ADD_OUTPUT;
}

function describe(b: ShimBuild): string {
  const parts = [
    b.useSnapshot ? 'startup snapshot' : 'no snapshot',
    b.useCodeCache ? 'code cache' : 'no code cache',
    b.execArgv.length === 0 ? 'no flags' : `flags ${b.execArgv.join(' ')}`,
  ];
  return parts.join(', ');
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const also: { name: string; exe: string }[] = [];
  let runs: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--also') {
      const [name = '', exe = ''] = (args[++i] ?? '').split('=');
      if (name === '' || exe === '') throw new Error('--also NAME=EXECUTABLE');
      also.push({ name, exe });
    } else runs = Number(a);
  }
  if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1))
    throw new Error('runs: a positive integer');
  console.log(JSON.stringify(await shimExec({ runs, also }), null, 2));
}
