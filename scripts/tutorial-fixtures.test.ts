// The tutorial's manifests under e2e/fixtures/tutorial are kept byte for byte as published:
// every file listed in SHA256SUMS still has its digest, and nothing unlisted sneaks in.
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(import.meta.dirname, '..', 'e2e', 'fixtures', 'tutorial');

const listed = readFileSync(join(DIR, 'SHA256SUMS'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [digest, name] = line.split(/\s+/);
    return { digest: digest!, name: name! };
  });

describe('e2e/fixtures/tutorial', () => {
  it.each(listed)('$name is unchanged', ({ digest, name }) => {
    const actual = createHash('sha256')
      .update(readFileSync(join(DIR, name)))
      .digest('hex');
    expect(actual).toBe(digest);
  });

  it('holds only the listed files, the README and SHA256SUMS', () => {
    const names = new Set(listed.map((l) => l.name));
    const extra = readdirSync(DIR).filter(
      (f) => !names.has(f) && f !== 'README.md' && f !== 'SHA256SUMS',
    );
    expect(extra).toEqual([]);
  });

  it("deploy/examples/multus-conf.yaml is the tutorial's file, byte for byte (veth included)", () => {
    const examples = join(import.meta.dirname, '..', 'deploy', 'examples', 'multus-conf.yaml');
    expect(readFileSync(examples)).toEqual(readFileSync(join(DIR, 'multus-conf.yaml')));
  });
});
