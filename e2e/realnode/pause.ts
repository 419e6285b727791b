/**
 * The node's sandbox image, `nicpool.local/pause:3.10`, for as long as `make images` has not
 * written dist/images/pause.oci.tar: a static pause after Kubernetes' build/pause/linux/pause.c
 * (gcc -Os -static, stripped) as /pause, in an OCI image-layout archive written by hand
 * (realnode.md §2.3). Nothing is pulled; `ctr images import` takes the archive as is.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PAUSE_IMAGE = 'nicpool.local/pause:3.10';

// Sleeps until SIGINT/SIGTERM; as PID 1 of the sandbox it also reaps orphans (SIGCHLD).
const PAUSE_C = `#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void sigdown(int signo) {
  psignal(signo, "Shutting down, got signal");
  exit(0);
}

static void sigreap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

int main(void) {
  if (getpid() != 1) fprintf(stderr, "Warning: pause should be the first process\\n");
  struct sigaction down = {.sa_handler = sigdown}, reap = {.sa_handler = sigreap, .sa_flags = SA_NOCLDSTOP};
  if (sigaction(SIGINT, &down, NULL) < 0 || sigaction(SIGTERM, &down, NULL) < 0 ||
      sigaction(SIGCHLD, &reap, NULL) < 0)
    return 1;
  for (;;) pause();
}
`;

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A deterministic tar of `dir` (sorted, mtime 0, root-owned). */
async function tarDir(dir: string, out: string): Promise<void> {
  await run('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-cf',
    out,
    '-C',
    dir,
    '.',
  ]);
}

/**
 * Writes a one-layer OCI image-layout archive of `rootfs` to `out`, named `name` (the
 * `io.containerd.image.name` annotation `ctr images import` uses).
 */
export async function writeOciArchive(
  rootfs: string,
  name: string,
  imageConfig: Record<string, unknown>,
  work: string,
  out: string,
): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  const blobs = join(work, 'layout', 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layerTar = join(work, 'layer.tar');
  await tarDir(rootfs, layerTar);
  const layer = readFileSync(layerTar);
  const layerDigest = sha256(layer);
  writeFileSync(join(blobs, layerDigest), layer);
  const blob = (json: unknown): { digest: string; size: number } => {
    const b = Buffer.from(JSON.stringify(json));
    const digest = sha256(b);
    writeFileSync(join(blobs, digest), b);
    return { digest: `sha256:${digest}`, size: b.length };
  };
  const config = blob({
    architecture: 'amd64',
    os: 'linux',
    config: imageConfig,
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
    history: [{ created_by: 'e2e/realnode/pause.ts' }],
  });
  const manifest = blob({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: `sha256:${layerDigest}`,
        size: layer.length,
      },
    ],
  });
  writeFileSync(
    join(work, 'layout', 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: {
            'io.containerd.image.name': name,
            'org.opencontainers.image.ref.name': name.split(':').pop() ?? 'latest',
          },
        },
      ],
    }),
  );
  writeFileSync(
    join(work, 'layout', 'oci-layout'),
    JSON.stringify({ imageLayoutVersion: '1.0.0' }),
  );
  await tarDir(join(work, 'layout'), out);
  rmSync(work, { recursive: true, force: true });
}

/** Builds the pause image archive into `dir` (gcc, strip, tar); returns its path. */
export async function buildPauseArchive(dir: string): Promise<string> {
  const src = join(dir, 'pause-src');
  const rootfs = join(dir, 'pause-rootfs');
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(src, 'pause.c'), PAUSE_C);
  try {
    await run('gcc', ['-Os', '-static', '-s', '-o', join(rootfs, 'pause'), join(src, 'pause.c')]);
  } catch (e) {
    throw new Error(
      `building the pause image needs gcc with a static libc (apt-get install gcc libc6-dev), or run \`make images\` for dist/images/pause.oci.tar: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const out = join(dir, 'pause.oci.tar');
  await writeOciArchive(
    rootfs,
    PAUSE_IMAGE,
    { Entrypoint: ['/pause'], User: '65535:65535' },
    join(dir, 'pause-oci'),
    out,
  );
  rmSync(src, { recursive: true, force: true });
  rmSync(rootfs, { recursive: true, force: true });
  return out;
}
