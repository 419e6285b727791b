// deploy/images/Containerfile builds, for users with an engine, the same content as
// `make images` (scripts/images/): the same Debian packages and trimming, the same pruning
// of node_modules, the same /app files, Node at the same place, the same /etc files, user,
// environment and working directory. This test cannot build it; it keeps the two recipes
// from drifting apart.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRIM } from './debian.ts';
import { IMAGES } from './images.ts';
import { APP_FILES, NODE_PATH, PRUNE } from './nicpool.ts';

const REPO = join(import.meta.dirname, '..', '..');
const containerfile = readFileSync(join(REPO, 'deploy', 'images', 'Containerfile'), 'utf8');
// Continuation lines joined: one string per instruction.
const instructions = containerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'));
const nicpool = IMAGES.nicpool;

describe('deploy/images/Containerfile', () => {
  it('extracts the same Debian packages with mmdebstrap', () => {
    expect(containerfile).toContain(`--include=${nicpool.debian.join(',')} bookworm`);
    expect(containerfile).toContain('--variant=extract');
  });

  it('removes what trimRootfs() removes', () => {
    const rm = instructions.find((l) => l.includes('rm -rf dev etc/apt'));
    expect(rm).toBeDefined();
    const removed = /rm -rf ([^&]+)&&/.exec(rm!)![1]!.trim().split(/\s+/);
    expect([...removed].sort()).toEqual([...TRIM].sort());
    expect(rm).toContain('find usr/share/doc -mindepth 2 -maxdepth 2 ! -name copyright');
    expect(rm).toContain('chmod 1777 tmp');
  });

  it('prunes node_modules as nicpool.ts does', () => {
    const prune = instructions.find((l) => l.includes('npm ci --omit=dev --ignore-scripts'))!;
    for (const s of PRUNE.suffixes) expect(prune).toContain(`-name '*${s}'`);
    for (const d of PRUNE.directories) expect(prune).toContain(`-type d -name '${d}'`);
    expect(prune).toContain(`rm -rf node_modules/${PRUNE.workspaceScope}`);
  });

  it('copies every /app file, Node, and the /etc files of scripts/images/rootfs/nicpool', () => {
    const copies = instructions.filter((l) => l.startsWith('COPY '));
    for (const f of APP_FILES)
      expect(copies.some((c) => c.includes(`/src/${f} `) || c.endsWith(`/src/${f}`))).toBe(true);
    expect(copies).toContain(`COPY --from=build /node ${NODE_PATH}`);
    for (const f of ['passwd', 'group', 'nsswitch.conf'])
      expect(copies.some((c) => c.includes(`scripts/images/rootfs/nicpool/etc/${f}`))).toBe(true);
  });

  it('runs as the same user, with the same environment, directory and command', () => {
    for (const e of nicpool.run.env) expect(instructions).toContain(`ENV ${e}`);
    expect(instructions).toContain(`USER ${nicpool.run.user}`);
    expect(instructions).toContain(`WORKDIR ${nicpool.run.workingDir}`);
    expect(instructions).toContain(`CMD ${JSON.stringify(nicpool.run.cmd)}`);
  });
});
