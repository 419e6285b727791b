// The layer and the archive depend on the tree's names, contents, modes and links only:
// not on mtimes, owners, the order files were created in, or the umask of the build.
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArchive, writeLayer } from './archive.ts';
import { MEDIA, sha256, type ImageSpec } from './oci.ts';

const scratch = mkdtempSync(join(tmpdir(), 'nicpool-images-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const spec: ImageSpec = {
  name: 'nicpool.local/test:1',
  run: { env: ['PATH=/bin'], entrypoint: ['/bin/hello'], labels: { x: 'y' } },
};

/** A small tree, written in `order`, with `mtime` on every file. */
function tree(dir: string, order: 'ab' | 'ba', mtime: number): string {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'tmp'));
  chmodSync(join(root, 'tmp'), 0o1777);
  const files: [string, string][] = [
    ['bin/a', 'A\n'],
    ['bin/b', 'B\n'],
  ];
  for (const [p, c] of order === 'ab' ? files : files.reverse()) {
    writeFileSync(join(root, p), c);
    chmodSync(join(root, p), 0o755);
  }
  symlinkSync('/bin/a', join(root, 'bin', 'hello'));
  for (const p of ['bin/a', 'bin/b', 'bin', 'tmp', '.']) utimesSync(join(root, p), mtime, mtime);
  if (process.getuid?.() === 0) chownSync(join(root, 'bin', 'b'), 1234, 1234);
  return root;
}

async function build(name: string, order: 'ab' | 'ba', mtime: number, gzip: boolean) {
  const dir = join(scratch, name);
  mkdirSync(dir);
  const root = tree(dir, order, mtime);
  const layer = await writeLayer(root, join(dir, 'layer'), gzip);
  mkdirSync(join(dir, 'stage'));
  return writeArchive(spec, layer, join(dir, 'layer'), join(dir, 'stage'), join(dir, 'x.oci.tar'));
}

describe('writeLayer + writeArchive', () => {
  it('give the same digests and bytes for the same tree made differently', async () => {
    const a = await build('a', 'ab', 1_000_000, false);
    const b = await build('b', 'ba', 2_000_000, false);
    expect(b.digest).toBe(a.digest);
    expect(b.layer).toEqual(a.layer);
    expect(b.sha256).toBe(a.sha256);
    expect(sha256(readFileSync(b.path))).toBe(a.sha256);
    expect(a.layer.mediaType).toBe(MEDIA.layer);
    expect(a.layer.digest).toBe(a.layer.diffId);
  });

  it('gzip: the same again, with the blob digest differing from the diff id', async () => {
    const a = await build('ga', 'ab', 1_000_000, true);
    const b = await build('gb', 'ba', 3_000_000, true);
    expect(b.sha256).toBe(a.sha256);
    expect(a.layer.mediaType).toBe(MEDIA.layerGzip);
    expect(a.layer.digest).not.toBe(a.layer.diffId);
    const plain = await build('gplain', 'ab', 1_000_000, false);
    expect(a.layer.diffId).toBe(plain.layer.diffId);
  });

  it('writes an OCI layout: oci-layout, index.json, the blobs; the layer as root-owned, mtime 0', async () => {
    const a = await build('list', 'ab', 5, false);
    const members = execFileSync('tar', ['-tf', a.path], { encoding: 'utf8' }).trim().split('\n');
    const hex = (d: string): string => d.slice('sha256:'.length);
    expect(members).toEqual(
      expect.arrayContaining([
        'oci-layout',
        'index.json',
        'blobs/',
        'blobs/sha256/',
        `blobs/sha256/${hex(a.digest)}`,
        `blobs/sha256/${hex(a.layer.digest)}`,
      ]),
    );
    expect(members).toHaveLength(7);
    const layer = execFileSync('tar', ['-xOf', a.path, `blobs/sha256/${hex(a.layer.digest)}`], {
      maxBuffer: 1 << 24,
    });
    writeFileSync(join(scratch, 'layer.tar'), layer);
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', join(scratch, 'layer.tar')], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    expect(listing).toMatch(/^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 bin\/$/m);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +2 1970-01-01 00:00 bin\/b$/m);
    expect(listing).toMatch(/^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 bin\/hello -> \/bin\/a$/m);
    expect(listing).toMatch(/^drwxrwxrwt 0\/0 +0 1970-01-01 00:00 tmp\/$/m);
    // Member names without "./", in name order.
    expect(
      listing
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[5]),
    ).toEqual(['bin/', 'bin/a', 'bin/b', 'bin/hello', 'tmp/']);
  });
});
