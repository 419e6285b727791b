// Bundles each app into apps/<app>/dist/. Services keep their npm dependencies external
// (installed in their image); the CNI plugins (the IPAM shim, veth) become single executables.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildShim, SHIPPED, VETH } from './build-shim.ts';

const root = join(import.meta.dirname, '..');
const dependencies = (dir: string): string[] =>
  Object.keys(
    (
      JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      }
    ).dependencies ?? {},
  );
const shared = dependencies(root);

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
    // An app's own dependencies too (the webhook's node-forge): bundled CommonJS cannot
    // require Node's built-ins from an ES module.
    external: [...shared, ...dependencies(join(root, 'apps', app))],
  });
}
// The CNI plugins: one self-contained executable each.
console.log(`built ${await buildShim(join(root, 'apps', 'cni-shim', 'dist'))}`);
console.log(`built ${await buildShim(join(root, 'apps', 'cni-veth', 'dist'), SHIPPED, VETH)}`);
