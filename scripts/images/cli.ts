// make images [IMAGES=nicpool,busybox] [GZIP=1] → node scripts/images/cli.ts [--only …] [--gzip]
// Builds the OCI archives into dist/images/ (docs/images.md); progress on stderr, the
// archives' names and digests on stdout.
import { parseArgs } from 'node:util';
import { buildImages, IMAGE_KEYS, type ImageKey } from './index.ts';
import { stopChildren } from './run.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    gzip: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const only = values.only
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = only?.filter((k) => !(IMAGE_KEYS as readonly string[]).includes(k)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown image ${unknown.join(', ')}; images: ${IMAGE_KEYS.join(', ')}`);
  process.exit(2);
}

// Interrupted: stop the tools, let buildImages() remove its scratch tree, then exit.
let interrupted: NodeJS.Signals | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    interrupted = sig;
    stopChildren();
  });

try {
  const built = await buildImages({
    ...(only !== undefined && { only: only as ImageKey[] }),
    ...(values.out !== undefined && { outDir: values.out }),
    ...(process.env['NICPOOL_CACHE'] !== undefined && { cacheDir: process.env['NICPOOL_CACHE'] }),
    gzip: values.gzip,
  });
  for (const b of built) console.log(`${b.name}\t${b.archive}\t${b.digest}`);
} catch (e) {
  console.error(
    interrupted !== undefined
      ? `images: stopped (${interrupted})`
      : `images: ${(e as Error).message}`,
  );
  process.exit(interrupted === 'SIGINT' ? 130 : interrupted === 'SIGTERM' ? 143 : 1);
}
