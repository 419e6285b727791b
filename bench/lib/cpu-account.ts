// CPU time by component over a window: where a benchmark's CPU goes on this machine, as a
// table per run, so a missed throughput target can say what the time was spent on.
//
// Two sources, because most of a CNI chain's processes live for milliseconds:
// - the kernel's process accounting (acct(2), one 64-byte acct_v3 record per process when it
//   exits: its command name, start time and CPU ticks), switched on for the window only;
// - /proc/<pid>/stat of every process at the start and at the end, for the long-lived ones
//   (kube-apiserver, etcd, the allocators, this process), whose command line says what they are.
// A process that ran across the start counts only its CPU after it. Accounting is
// machine-wide: anything else running meanwhile shows up too (as what it is).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** acct(2) is a system call without a tool in the base system: Python's ctypes calls it. */
const ACCT = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
arg = None if sys.argv[1] == 'off' else sys.argv[1].encode()
if libc.acct(arg) != 0:
    e = ctypes.get_errno()
    sys.exit('acct(%s): %s' % (sys.argv[1], os.strerror(e)))`;

/** USER_HZ: /proc and acct count CPU in these ticks on Linux. */
const HZ = 100;
const RECORD = 64;

/** CPU seconds of one component over the window. */
export interface CpuShare {
  readonly component: string;
  readonly seconds: number;
  /** Processes seen (exited or alive at the end). */
  readonly processes: number;
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  /** Epoch seconds the process started. */
  readonly started: number;
  readonly ticks: number;
  readonly name: string;
}

/** What a process is, from its command name and (when alive) its command line. */
export function componentOf(comm: string, cmdline: readonly string[] = []): string {
  const args = cmdline.join(' ');
  if (/apps\/allocator\/(src|dist)\/main/.test(args)) return 'nicpool allocator';
  if (/apps\/controller\/(src|dist)\/main/.test(args)) return 'nicpool controller';
  if (/apps\/webhook\/(src|dist)\/main/.test(args)) return 'nicpool webhook';
  if (/bench\/|e2e\/sim|jest/.test(args)) return 'bench and node simulator';
  const names: Record<string, string> = {
    'kube-apiserver': 'kube-apiserver',
    etcd: 'etcd',
    'kube-controller': 'kube-controller-manager',
    'kube-scheduler': 'kube-scheduler',
    multus: 'Multus',
    'multus-shim': 'Multus',
    macvlan: 'macvlan',
    spiderpool: 'nicpool CNI shim',
    veth: 'nicpool veth',
    whereabouts: 'Whereabouts',
    ip: 'iproute2 (ip)',
  };
  return names[comm] ?? `other (${comm})`;
}

function bootTime(): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('btime '));
  return Number(line?.split(' ')[1] ?? 0);
}

function snapshot(boot: number): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // comm is in parentheses and may hold spaces or parentheses: split after the last ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat
        .slice(close + 2)
        .split(' ')
        .map(Number);
      // Fields after comm, from field 3: utime is field 14, stime 15, starttime 22.
      const ticks = f[11]! + f[12]!;
      const started = boot + f[19]! / HZ;
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      out.set(Number(d), {
        pid: Number(d),
        ppid: f[1]!,
        started,
        ticks,
        name: componentOf(comm, cmdline),
      });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** comp_t: a 13-bit mantissa and a 3-bit base-8 exponent. */
const compT = (v: number): number => (v & 0x1fff) << (3 * (v >> 13));

/** The acct_v3 records of a file written by the kernel. */
export function parseAcct(buf: Buffer): Proc[] {
  const out: Proc[] = [];
  for (let o = 0; o + RECORD <= buf.length; o += RECORD) {
    if (buf.readUInt8(o + 1) !== 3) throw new Error(`acct record at ${o} is not version 3`);
    const pid = buf.readUInt32LE(o + 16);
    const ppid = buf.readUInt32LE(o + 20);
    const started = buf.readUInt32LE(o + 24);
    const ticks = compT(buf.readUInt16LE(o + 32)) + compT(buf.readUInt16LE(o + 34));
    const comm = buf
      .subarray(o + 48, o + 64)
      .toString('latin1')
      .replace(/\0.*$/s, '');
    out.push({ pid, ppid, started, ticks, name: componentOf(comm) });
  }
  return byParent(out);
}

/**
 * A Node program's record carries the name of its last thread (`SignalInspector`,
 * `MainThread`), not its executable's: the CNI plugins written in Node are told apart by who
 * exec'd them — the IPAM shim by the main plugin (macvlan), `veth` by Multus (chained).
 */
function byParent(records: Proc[]): Proc[] {
  const latest = new Map<number, Proc>();
  const parentOf = (p: Proc): Proc | undefined => latest.get(p.ppid);
  // Records are written at exit, children before parents: index every one first.
  const all = [...records].sort((a, b) => a.started - b.started);
  for (const r of all) latest.set(r.pid, r);
  return records.map((r) => {
    if (!/^other \((SignalInspector|MainThread|node)\)$/.test(r.name)) return r;
    const parent = parentOf(r)?.name;
    if (parent === 'macvlan') return { ...r, name: 'nicpool CNI shim' };
    if (parent === 'Multus') return { ...r, name: 'nicpool veth' };
    return r;
  });
}

/** Process accounting on, and the /proc baseline taken; `stop` gives the shares. Root only. */
export class CpuAccount {
  readonly #dir: string;
  readonly #file: string;
  readonly #boot: number;
  readonly #before: Map<number, Proc>;
  readonly #t0: number;

  private constructor(dir: string, boot: number) {
    this.#dir = dir;
    this.#file = join(dir, 'pacct');
    this.#boot = boot;
    closeSync(openSync(this.#file, 'w'));
    acct(this.#file);
    this.#before = snapshot(boot);
    this.#t0 = Date.now();
  }

  static start(): CpuAccount {
    return new CpuAccount(mkdtempSync(join(tmpdir(), 'nicpool-cpu-')), bootTime());
  }

  /** Accounting off; CPU seconds by component, most first, and the window's length. */
  stop(): { shares: CpuShare[]; wallSeconds: number } {
    const after = snapshot(this.#boot);
    acct('off');
    const wallSeconds = (Date.now() - this.#t0) / 1000;
    const exited = parseAcct(readFileSync(this.#file));
    rmSync(this.#dir, { recursive: true, force: true });
    const by = new Map<string, { ticks: number; processes: number }>();
    const add = (p: Proc): void => {
      // A process alive at the start (same pid, started within a second): only its CPU since.
      const was = this.#before.get(p.pid);
      const since = was !== undefined && Math.abs(was.started - p.started) <= 1 ? was.ticks : 0;
      const name = was?.name.startsWith('other') === false ? was.name : p.name;
      const cur = by.get(name) ?? { ticks: 0, processes: 0 };
      by.set(name, {
        ticks: cur.ticks + Math.max(0, p.ticks - since),
        processes: cur.processes + 1,
      });
    };
    for (const p of exited) {
      // Still alive at the end is counted from /proc; the same pid started anew is another.
      const a = after.get(p.pid);
      if (a === undefined || Math.abs(a.started - p.started) > 1) add(p);
    }
    for (const p of after.values()) add(p);
    const shares = [...by]
      .map(([component, v]) => ({ component, seconds: v.ticks / HZ, processes: v.processes }))
      .filter((s) => s.seconds > 0)
      .sort((a, b) => b.seconds - a.seconds);
    return { shares, wallSeconds };
  }
}

function acct(arg: string): void {
  try {
    execFileSync('python3', ['-c', ACCT, arg], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || String(e);
    throw new Error(`process accounting ${arg === 'off' ? 'off' : 'on'} failed: ${why}`);
  }
}
