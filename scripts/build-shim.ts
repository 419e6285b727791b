// Builds nicpool's CNI plugins as self-contained executables (Node single-executable
// applications): the IPAM shim apps/cni-shim/dist/spiderpool and the chained plugin
// apps/cni-veth/dist/veth. Hosts need no Node installation; the allocator DaemonSet's init
// container copies both to /opt/cni/bin. bench/shim-exec.ts builds the other variants with
// buildShim() to measure them against the shipped one.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
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
  writeFileSync(
    config,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useSnapshot: how.useSnapshot,
      useCodeCache: how.useCodeCache,
      execArgv: how.execArgv,
    }),
  );
  const node = realpathSync(process.execPath);
  // Output only on failure (in the thrown error): the snapshot build runs the bundle, which
  // would print Node's SEA ExperimentalWarning; postject prints its progress and ELF notes.
  execFileSync(node, ['--experimental-sea-config', config], { stdio: 'pipe' });
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

if (import.meta.main) {
  console.log(`built ${await buildShim(join(root, 'apps', 'cni-shim', 'dist'))}`);
  console.log(`built ${await buildShim(join(root, 'apps', 'cni-veth', 'dist'), SHIPPED, VETH)}`);
}
