import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildShim, SHIPPED } from './build-shim.ts';

const sha256 = (file: string): string =>
  createHash('sha256').update(readFileSync(file)).digest('hex');

// The nicpool image carries the executables, so its digest is only reproducible if they are:
// V8's startup snapshot would otherwise record the building process's id, its random and hash
// seeds, the bundle's absolute path and Node's (scripts/build-shim.ts).
describe('buildShim', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('gives the same bytes for the same sources, in two directories and from two Node paths', async () => {
    expect(SHIPPED.useSnapshot).toBe(true);
    const [a, b] = ['a', 'b'].map((name) => {
      const dir = mkdtempSync(join(tmpdir(), `nicpool-build-shim-${name}-`));
      dirs.push(dir);
      return dir;
    }) as [string, string];
    const first = await buildShim(join(a, 'dist'));
    // The second as another clone would build it: another directory, its own Node binary.
    const node = join(b, 'node');
    copyFileSync(realpathSync(process.execPath), node);
    const script = `import('${join(import.meta.dirname, 'build-shim.ts')}').then((m) => m.buildShim('${join(b, 'dist')}'))`;
    execFileSync(node, ['-e', script], { stdio: 'pipe' });
    expect(sha256(join(b, 'dist', 'spiderpool'))).toBe(sha256(first));
    // And it is a working shim, started from its snapshot.
    const out = execFileSync(first, { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
    expect(JSON.parse(out)).toMatchObject({ cniVersion: '1.1.0' });
  }, 120_000);
});
