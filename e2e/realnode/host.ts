/**
 * What the real node changes on the host and how it is undone: links, the guard table,
 * sysctls, host paths, mounts, cgroups and leftover processes. Every undo works from the
 * state directory alone (a crashed run leaves no other memory) and is idempotent.
 */
import {
  existsSync,
  lstatSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { run } from '../sim/run.ts';
import {
  BRIDGE,
  GUARD_TABLE,
  HOST_NICS,
  HOST_PATHS,
  LINK_ALIAS,
  MULTUS_CONF_NAME,
  NET1_ROUTE,
  NODE_IP,
  PATHS,
  RN,
  SAVED_SYSCTLS,
  TEST_RANGES,
} from './config.ts';

export interface HostRecord {
  /** Value of each SAVED_SYSCTLS key before up (absent keys are left out). */
  readonly sysctls: Record<string, string>;
  /** Which HOST_PATHS existed before up. */
  readonly existed: Record<string, boolean>;
  /** The allocator socket dir's entries before up, if it existed (down removes the others). */
  readonly spidernet?: readonly string[];
}

/** nicpool's allocator DaemonSet mounts this host path (hostPath DirectoryOrCreate). */
const SOCKET_DIR = '/var/run/spidernet';

async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run({ cmd, args, ...(input === undefined ? {} : { input }) });
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

const sysctlPath = (key: string): string => join('/proc/sys', ...key.split('.'));

function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(sysctlPath(key), 'utf8').trim();
  } catch {
    return undefined;
  }
}

function writeSysctl(key: string, value: string): void {
  writeFileSync(sysctlPath(key), `${value}\n`);
}

/**
 * Records the host's state before anything changes. A record left by a crashed run is
 * kept: it holds the values from before that run, not the ones it left behind.
 */
export function recordHost(): HostRecord {
  if (existsSync(PATHS.host)) return JSON.parse(readFileSync(PATHS.host, 'utf8')) as HostRecord;
  const sysctls: Record<string, string> = {};
  for (const k of SAVED_SYSCTLS) {
    const v = readSysctl(k);
    if (v !== undefined) sysctls[k] = v;
  }
  const existed = Object.fromEntries(HOST_PATHS.map((p) => [p, existsSync(p)]));
  const rec: HostRecord = {
    sysctls,
    existed,
    ...(existed[SOCKET_DIR] === true && { spidernet: list(SOCKET_DIR) }),
  };
  writeFileSync(PATHS.host, JSON.stringify(rec, null, 2));
  return rec;
}

export function readHostRecord(): HostRecord | undefined {
  try {
    return JSON.parse(readFileSync(PATHS.host, 'utf8')) as HostRecord;
  } catch {
    return undefined;
  }
}

/** Writes back every saved sysctl that changed; returns the ones it restored. */
export function restoreSysctls(rec: HostRecord): string[] {
  const restored: string[] = [];
  for (const [k, v] of Object.entries(rec.sysctls)) {
    const now = readSysctl(k);
    if (now !== undefined && now !== v) {
      writeSysctl(k, v);
      restored.push(`${k} ${now}→${v}`);
    }
  }
  return restored;
}

interface Link {
  readonly ifname: string;
  readonly ifalias?: string;
  readonly master?: string;
  readonly link_type?: string;
}

async function links(): Promise<Link[]> {
  return JSON.parse(await must('ip', ['-j', 'link', 'show'])) as Link[];
}

/** rn-br0 (node IP, pod gateway), the tutorial's host NICs and forwarding on rn-br0 only. */
export async function createLinks(): Promise<void> {
  const existing = new Map((await links()).map((l) => [l.ifname, l]));
  for (const name of [BRIDGE, ...HOST_NICS.flatMap((n) => [n.name, n.peer])]) {
    const l = existing.get(name);
    if (l !== undefined && l.ifalias !== LINK_ALIAS)
      throw new Error(
        `the host already has a link named ${name} that the real node did not create; it needs that name (remove the link or run on another machine)`,
      );
  }
  const ip = (...args: string[]): Promise<string> => must('ip', args);
  await ip('link', 'add', BRIDGE, 'type', 'bridge');
  await ip('link', 'set', BRIDGE, 'alias', LINK_ALIAS);
  await ip('addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE);
  await ip('link', 'set', BRIDGE, 'up');
  for (const nic of HOST_NICS) {
    await ip('link', 'add', nic.name, 'type', 'veth', 'peer', 'name', nic.peer);
    for (const l of [nic.name, nic.peer]) {
      await ip('link', 'set', l, 'alias', LINK_ALIAS);
      await ip('link', 'set', l, 'up');
    }
    if (nic.address !== undefined) await ip('addr', 'add', nic.address, 'dev', nic.name);
  }
  await ip('route', 'add', NET1_ROUTE.to, 'via', NET1_ROUTE.via, 'dev', NET1_ROUTE.dev);
  // Service traffic from a pod back to a pod on the bridge is forwarded; the check is per
  // input device, so only rn-br0 forwards (ip_forward stays as it is), and the guard below
  // keeps what it forwards on rn-br0.
  writeSysctl(`net.ipv4.conf.${BRIDGE}.forwarding`, '1');
}

/**
 * Nothing of the test leaves the machine: what rn-br0 forwards stays on rn-br0, and no
 * packet to or from a test range goes out of a link that is not the node's own (the
 * uplink), whichever path (forwarded, or the host's own after kube-proxy's DNAT).
 */
export async function createGuard(): Promise<void> {
  const ranges = `{ ${TEST_RANGES.join(', ')} }`;
  await must(
    'nft',
    ['-f', '-'],
    `table ip ${GUARD_TABLE} {
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${BRIDGE}" oifname != "${BRIDGE}" counter drop
  }
  chain postrouting {
    type filter hook postrouting priority 100; policy accept;
    oifname { "lo", "${BRIDGE}", ${HOST_NICS.map((n) => `"${n.name}", "${n.peer}"`).join(', ')} } accept
    oifname "veth*" accept
    ip daddr ${ranges} counter drop
    ip saddr ${ranges} counter drop
  }
}
`,
  );
}

/** Deletes the node's links: the bridge's ports first, then everything carrying its alias. */
export async function deleteLinks(): Promise<string[]> {
  const all = await links();
  const ours = new Set(
    all
      .filter(
        (l) =>
          l.master === BRIDGE ||
          l.ifalias === LINK_ALIAS ||
          l.ifname === BRIDGE ||
          HOST_NICS.some((n) => n.peer === l.ifname),
      )
      .map((l) => l.ifname),
  );
  // Ports of the bridge first (the pods' veths), the bridge itself and the NICs last.
  const order = [...ours].sort((a, b) => Number(a === BRIDGE) - Number(b === BRIDGE));
  const gone: string[] = [];
  for (const name of order) {
    const r = await run({ cmd: 'ip', args: ['link', 'delete', name] });
    if (r.code === 0) gone.push(name);
  }
  return gone;
}

/** Deletes the guard and kube-proxy's tables. */
export async function deleteNftTables(): Promise<string[]> {
  const gone: string[] = [];
  for (const [family, table] of [
    ['ip', GUARD_TABLE],
    ['ip', 'kube-proxy'],
    ['ip6', 'kube-proxy'],
  ] as const) {
    const r = await run({ cmd: 'nft', args: ['delete', 'table', family, table] });
    if (r.code === 0) gone.push(`${family} ${table}`);
  }
  return gone;
}

/** Mount points under the state dir and the node's host paths, deepest first. */
export function ourMounts(): string[] {
  const prefixes = [RN, '/run/containerd', '/var/lib/kubelet'];
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => prefixes.some((pre) => p === pre || p.startsWith(`${pre}/`)));
  return [...new Set(points)].sort((a, b) => b.split('/').length - a.split('/').length);
}

/** Unmounts everything ourMounts() lists, a busy one lazily; repeats while some are left. */
export async function unmountAll(): Promise<number> {
  let count = 0;
  for (let round = 0; round < 5; round++) {
    const points = ourMounts();
    if (points.length === 0) break;
    for (const p of points) {
      const r = await run({ cmd: 'umount', args: [p] });
      if (r.code !== 0) await run({ cmd: 'umount', args: ['-l', p] });
      count++;
    }
  }
  return count;
}

/** The cgroup trees the kubelet (kubepods) and containerd (k8s.io) create, in every hierarchy. */
function cgroupRoots(): string[] {
  const base = '/sys/fs/cgroup';
  const out: string[] = [];
  for (const h of readdirSync(base)) {
    for (const tree of ['kubepods', 'k8s.io']) {
      const p = join(base, h, tree);
      if (existsSync(p)) out.push(p);
    }
  }
  return out;
}

function cgroupDirs(root: string): string[] {
  const out: string[] = [root];
  for (const e of readdirSync(root, { withFileTypes: true }))
    if (e.isDirectory()) out.push(...cgroupDirs(join(root, e.name)));
  return out;
}

/** Pids still in the node's cgroups: pod processes a killed shim left behind. */
export function cgroupPids(): number[] {
  const pids = new Set<number>();
  for (const root of cgroupRoots())
    for (const d of cgroupDirs(root)) {
      try {
        for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n'))
          if (l.trim() !== '') pids.add(Number(l));
      } catch {
        // gone meanwhile
      }
    }
  return [...pids];
}

/** rmdir's the node's cgroup trees, deepest first; returns how many are left. */
export function removeCgroups(): number {
  let left = 0;
  for (const root of cgroupRoots()) {
    const dirs = cgroupDirs(root).sort((a, b) => b.length - a.length);
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        left++;
      }
    }
  }
  return left;
}

/**
 * Removes what the components wrote into host paths: the whole path if up did not find it,
 * else only the node's entries (libcni's results for Multus' network, the kubelet's log
 * symlinks into the state dir, its device-plugins dir).
 */
export function cleanHostPaths(rec: HostRecord | undefined): string[] {
  const removed: string[] = [];
  const rm = (p: string): void => {
    if (!existsSync(p) && !isLink(p)) return;
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  };
  for (const p of HOST_PATHS) {
    // Without a record (lost with the state dir), only what is certainly the node's goes.
    if (rec !== undefined && rec.existed[p] === false) {
      rm(p);
      continue;
    }
    if (p === '/var/lib/cni')
      for (const f of list(join(p, 'results')))
        if (f.startsWith(`${MULTUS_CONF_NAME}-`)) rm(join(p, 'results', f));
    if (p === '/var/log/containers')
      for (const f of list(p)) if (linkTarget(join(p, f))?.startsWith(RN)) rm(join(p, f));
    if (p === '/var/lib/kubelet' && rec?.existed[p] === true) rm(join(p, 'device-plugins'));
    // The allocator's socket, if its pod did not remove it.
    if (p === SOCKET_DIR && rec?.spidernet !== undefined)
      for (const f of list(p)) if (!rec.spidernet.includes(f)) rm(join(p, f));
  }
  return removed;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function linkTarget(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}
