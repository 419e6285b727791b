// Writes a root filesystem as one reproducible layer and packs it with its documents
// (oci.ts) into an OCI image-layout archive. GNU tar does the tarring; this file only fixes
// every input that would change the bytes: names sorted, mtime 0, owner 0:0, GNU format, C locale.
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { imageDocuments, MEDIA, type ImageSpec, type Layer } from './oci.ts';
import { runStreaming } from './run.ts';

/** The tar options that make the same tree give the same bytes on any machine. */
export const REPRODUCIBLE_TAR = [
  '--sort=name',
  '--mtime=@0',
  '--owner=0',
  '--group=0',
  '--numeric-owner',
  '--format=gnu',
] as const;

export interface Archive {
  readonly path: string;
  /** Bytes of the `*.oci.tar`. */
  readonly size: number;
  /** sha256 of the archive file itself (not the image digest). */
  readonly sha256: string;
  /** The manifest digest: the image's digest once imported. */
  readonly digest: string;
  readonly layer: Layer;
}

/** A pass-through stream that feeds every chunk to `hashes` and counts the bytes. */
function tap(...hashes: Hash[]): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (const h of hashes) h.update(chunk);
      t.bytes += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

function hex(hash: Hash): string {
  return `sha256:${hash.digest('hex')}`;
}

function tar(args: readonly string[], consume: (out: Readable) => Promise<void>): Promise<void> {
  return runStreaming(
    'tar',
    ['--create', '--file=-', ...REPRODUCIBLE_TAR, ...args],
    { env: { ...process.env, LC_ALL: 'C' }, install: 'apt-get install tar (GNU tar)' },
    consume,
  );
}

/**
 * Tars `rootfs` (its top-level entries, so that member names have no `./`) into `out`:
 * uncompressed, or gzip (Node's zlib, no name or time in the header) with `gzip: true`.
 */
export async function writeLayer(rootfs: string, out: string, gzip = false): Promise<Layer> {
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const written = tap(blob);
  const entries = readdirSync(rootfs).sort();
  await tar(['-C', rootfs, '--', ...entries], (stdout) =>
    gzip
      ? pipeline(stdout, tap(diff), createGzip({ level: 6 }), written, createWriteStream(out))
      : pipeline(stdout, tap(diff), written, createWriteStream(out)),
  );
  const diffId = hex(diff);
  return {
    mediaType: gzip ? MEDIA.layerGzip : MEDIA.layer,
    digest: gzip ? hex(blob) : diffId,
    diffId,
    size: written.bytes,
  };
}

/**
 * Packs the image into `out` (an `*.oci.tar`): oci-layout, index.json and blobs/sha256/ with
 * the config, the manifest and the layer file at `layerPath` (moved, not copied). `stage` is an
 * empty scratch directory on the same file system as `layerPath`.
 */
export async function writeArchive(
  spec: ImageSpec,
  layer: Layer,
  layerPath: string,
  stage: string,
  out: string,
): Promise<Archive> {
  const docs = imageDocuments(spec, layer);
  const blobs = join(stage, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blobPath = (digest: string): string => join(blobs, digest.slice('sha256:'.length));
  for (const b of docs.blobs) writeFileSync(blobPath(b.digest), b.bytes);
  renameSync(layerPath, blobPath(layer.digest));
  writeFileSync(join(stage, 'index.json'), docs.index);
  writeFileSync(join(stage, 'oci-layout'), docs.layout);
  const hash = createHash('sha256');
  const written = tap(hash);
  const tmp = `${out}.tmp`;
  await tar(
    // The modes of the scratch files depend on the umask; the archive's must not.
    ['--mode=u=rwX,go=rX', '-C', stage, '--', 'oci-layout', 'index.json', 'blobs'],
    (stdout) => pipeline(stdout, written, createWriteStream(tmp)),
  );
  renameSync(tmp, out);
  return { path: out, size: written.bytes, sha256: hex(hash), digest: docs.digest, layer };
}
