// Bundles each app into apps/<app>/dist/. Services keep their npm dependencies external
// (installed in their image); the CNI shim is one self-contained file with no dependencies.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const external = Object.keys(pkg.dependencies);

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: true,
  logLevel: 'info',
} as const;

for (const app of ['webhook', 'allocator', 'controller']) {
  await build({
    ...common,
    entryPoints: [join(root, 'apps', app, 'src', 'main.ts')],
    outfile: join(root, 'apps', app, 'dist', 'main.js'),
    external,
  });
}
await build({
  ...common,
  sourcemap: false,
  entryPoints: [join(root, 'apps', 'cni-shim', 'src', 'main.ts')],
  outfile: join(root, 'apps', 'cni-shim', 'dist', 'spiderpool.mjs'),
});
