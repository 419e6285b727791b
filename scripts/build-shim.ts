// Builds the CNI shim as one self-contained executable (Node single-executable application):
// apps/cni-shim/dist/spiderpool. Hosts need no Node installation; the DaemonSet's init
// container copies it to /opt/cni/bin/spiderpool.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'apps', 'cni-shim', 'dist');
mkdirSync(dist, { recursive: true });
const bundle = join(dist, 'shim.cjs');
await build({
  entryPoints: [join(root, 'apps', 'cni-shim', 'src', 'main.ts')],
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
// No V8 code cache: measured with and without (bench/shim-startup.sh), the ratio was 1.00.
writeFileSync(
  config,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: false,
  }),
);
const node = realpathSync(process.execPath);
execFileSync(node, ['--experimental-sea-config', config], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const exe = join(dist, 'spiderpool');
copyFileSync(node, exe);
chmodSync(exe, 0o755);
execFileSync(
  join(root, 'node_modules', '.bin', 'postject'),
  [exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
  { stdio: 'inherit' },
);
console.log(`built ${exe}`);
