// Builds nicpool's CNI plugins as self-contained executables (Node single-executable
// applications): the IPAM shim apps/cni-shim/dist/spiderpool and the chained plugin
// apps/cni-veth/dist/veth. Hosts need no Node installation; the allocator DaemonSet's init
// container copies both to /opt/cni/bin. bench/shim-exec.ts builds the other variants with
// buildShim() to measure them against the shipped one.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** How the executable starts: the fields of Node's SEA config that change start-up. */
export interface ShimBuild {
  /** Start from a V8 startup snapshot taken after the bundle loaded (main.ts). */
  readonly useSnapshot: boolean;
  /** V8 code cache of the bundle (ignored by Node with useSnapshot). */
  readonly useCodeCache: boolean;
  /** Node and V8 flags applied at every start. */
  readonly execArgv: readonly string[];
}

/**
 * What `make build` ships, chosen by bench/shim-exec.ts (README, "CNI shim start-up"): the
 * snapshot spares each exec compiling and running the bundle and loading `node:net` and the
 * streams. The code cache, measured beside it, gained nothing; no Node or V8 flag tried
 * changed the start-up beyond the machine's noise.
 */
export const SHIPPED: ShimBuild = { useSnapshot: true, useCodeCache: false, execArgv: [] };

/** A plugin executable: its entry module and the name the runtime execs (its CNI type). */
export interface Plugin {
  readonly entry: string;
  readonly name: string;
}

export const SHIM: Plugin = {
  entry: join(root, 'apps', 'cni-shim', 'src', 'main.ts'),
  name: 'spiderpool',
};
export const VETH: Plugin = {
  entry: join(root, 'apps', 'cni-veth', 'src', 'main.ts'),
  name: 'veth',
};

/** Bundles a plugin and injects it into a copy of this Node binary; returns the executable. */
export async function buildShim(
  dist: string,
  how: ShimBuild = SHIPPED,
  plugin: Plugin = SHIM,
): Promise<string> {
  mkdirSync(dist, { recursive: true });
  const bundle = join(dist, `${plugin.name}.cjs`);
  await build({
    entryPoints: [plugin.entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    logLevel: 'warning',
  });
  const blob = join(dist, 'sea-prep.blob');
  const config = join(dist, 'sea-config.json');
  // The blob records the main script's absolute path (the snapshot once more), so the bundle is
  // read from /dev/stdin, the same name in every clone; the output is relative to dist.
  writeFileSync(
    config,
    JSON.stringify({
      main: '/dev/stdin',
      output: 'sea-prep.blob',
      disableExperimentalSEAWarning: true,
      useSnapshot: how.useSnapshot,
      useCodeCache: how.useCodeCache,
      execArgv: how.execArgv,
    }),
  );
  const node = realpathSync(process.execPath);
  seaBlob(node, dist, bundle, how);
  const exe = join(dist, plugin.name);
  // Built beside it and renamed over it: a shim being executed (a running soak, a node's
  // Multus) is never written in place (ETXTBSY), and an exec never sees half a file.
  const building = `${exe}.building`;
  copyFileSync(node, building);
  chmodSync(building, 0o755);
  execFileSync(
    join(root, 'node_modules', '.bin', 'postject'),
    [
      building,
      'NODE_SEA_BLOB',
      blob,
      '--sentinel-fuse',
      'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ],
    { stdio: 'pipe' },
  );
  renameSync(building, exe);
  return exe;
}

/**
 * Node flags of the blob's build. A snapshot captures V8's random and hash seeds, so both are
 * fixed (each exec still draws its own Math.random and crypto values: V8 seeds the isolate at
 * start-up); without warnings, no process id in the SEA ExperimentalWarning's text.
 */
const SEA_FLAGS = ['--random-seed=1', '--hash-seed=1', '--no-warnings'];

/**
 * Where the blob's build sees Node. The snapshot records Node's own path (process.execPath,
 * twice), so the build runs in a mount namespace of its own with a tmpfs on /mnt and the
 * repository's Node bind-mounted at /mnt/node: the same path in every clone.
 */
const FIXED_NODE = '/mnt/node';

/**
 * Runs in the new namespaces: mounts the tmpfs, binds Node ($0) at FIXED_NODE and execs it with
 * the remaining arguments.
 */
const IN_NAMESPACE = `mount -t tmpfs nicpool-sea /mnt && : > ${FIXED_NODE} && mount --bind "$0" ${FIXED_NODE} && exec ${FIXED_NODE} "$@"`;

/**
 * Writes `dist/sea-prep.blob` from `dist/sea-config.json`, the bundle on stdin. A snapshot
 * records, besides the seeds (SEA_FLAGS): the building process's id, once, and Node's path. So
 * it is taken in new user, mount and PID namespaces (no root needed): the build is process 1
 * and runs Node at FIXED_NODE. The same sources then give the same executable, and the image
 * that carries it the same digest (docs/images.md). Where the namespaces cannot be made (a
 * container build without the privilege), the blob is built all the same and the build says
 * that it is not reproducible.
 */
function seaBlob(node: string, dist: string, bundle: string, how: ShimBuild): void {
  const args = [...SEA_FLAGS, '--experimental-sea-config', 'sea-config.json'];
  const ns = ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--kill-child'];
  const isolated = ['unshare', ...ns, 'sh', '-c', IN_NAMESPACE, node];
  let command = [node, ...args];
  if (how.useSnapshot) {
    const why = dist.startsWith('/mnt/')
      ? `${dist} is under /mnt, which the build covers`
      : namespaceProblem(isolated);
    if (why === undefined) command = [...isolated, ...args];
    else
      process.stderr.write(
        `build-shim: the startup snapshot is taken outside its namespaces (${why}), so ` +
          `${join(dist, '..')} is not byte-reproducible\n`,
      );
  }
  // Output only on failure (in the thrown error): the snapshot build runs the bundle.
  const fd = openSync(bundle, 'r');
  try {
    execFileSync(command[0]!, command.slice(1), { stdio: [fd, 'pipe', 'pipe'], cwd: dist });
  } finally {
    closeSync(fd);
  }
}

/** Why the namespaces of `isolated` cannot be made here, or undefined when they can. */
function namespaceProblem(isolated: readonly string[]): string | undefined {
  const probe = spawnSync(isolated[0]!, [...isolated.slice(1), '-e', '0'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  return `${isolated.slice(0, -4).join(' ')}: ${(probe.error?.message ?? probe.stderr).trim()}`;
}

if (import.meta.main) {
  console.log(`built ${await buildShim(join(root, 'apps', 'cni-shim', 'dist'))}`);
  console.log(`built ${await buildShim(join(root, 'apps', 'cni-veth', 'dist'), SHIPPED, VETH)}`);
}
