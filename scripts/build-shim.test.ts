import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildShim, SHIPPED } from './build-shim.ts';

const sha256 = (file: string): string =>
  createHash('sha256').update(readFileSync(file)).digest('hex');

// The nicpool image carries the executables, so its digest is only reproducible if they are:
// V8's startup snapshot would otherwise record the building process's id, its random and hash
// seeds, and the bundle's absolute path (scripts/build-shim.ts).
describe('buildShim', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('gives the same bytes for the same sources, in two directories', async () => {
    expect(SHIPPED.useSnapshot).toBe(true);
    const exes: string[] = [];
    for (const name of ['a', 'b']) {
      const dir = mkdtempSync(join(tmpdir(), `nicpool-build-shim-${name}-`));
      dirs.push(dir);
      exes.push(await buildShim(join(dir, 'dist')));
    }
    expect(sha256(exes[1]!)).toBe(sha256(exes[0]!));
    // And it is a working shim, started from its snapshot.
    const out = execFileSync(exes[0]!, { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
    expect(JSON.parse(out)).toMatchObject({ cniVersion: '1.1.0' });
  }, 120_000);
});
