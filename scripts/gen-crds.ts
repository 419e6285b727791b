// Writes deploy/crds/*.yaml from libs/crds. `--check` writes nothing and fails on drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCRDFiles } from '@nicpool/crds';

const dir = join(import.meta.dirname, '..', 'deploy', 'crds');
const check = process.argv.includes('--check');
let drift = 0;
for (const [file, yaml] of renderCRDFiles()) {
  const path = join(dir, file);
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // missing counts as drift
  }
  if (current === yaml) continue;
  if (check) {
    console.error(`deploy/crds/${file} is out of date; run \`npm run gen\``);
    drift++;
  } else {
    writeFileSync(path, yaml);
    console.log(`wrote deploy/crds/${file}`);
  }
}
process.exit(drift === 0 ? 0 : 1);
