// Bundles each app into apps/<app>/dist/. Services keep their npm dependencies external
// (installed in their image); the CNI shim becomes a single executable.
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
// The CNI shim: one self-contained executable (scripts/build-shim.ts).
await import('./build-shim.ts');
