// `make soak SOAK_MINUTES=N SEED=S`: the soak (soak.ts) on this machine's local control plane;
// writes its figures into docs/reliability.md ("Soak") and the whole result as JSON, and
// exits 1 unless every fault kind was injected and nothing was doubled, leaked or stuck.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCluster, REPO, stopCluster } from '../cluster/control-plane.ts';
import { renderSoak, verdict, withSoakSection } from './report.ts';
import { runSoak, saveResult } from './soak.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const minutes = Number(arg('--minutes') ?? '30');
const seedText = arg('--seed') ?? '';
const seed =
  seedText === '' || seedText === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
if (!Number.isFinite(minutes) || minutes <= 0 || !Number.isInteger(seed) || seed < 0) {
  console.error(
    'usage: soak/cli.ts --minutes N (> 0) --seed S (a non-negative integer, or random)',
  );
  process.exit(2);
}
// 30 minutes: every kind at least 20 times (docs/reliability.md); shorter runs: once.
const minFaults = minutes >= 30 ? 20 : 1;
// A control plane this command started is stopped at the end; a running one is reused.
const { started } = await ensureCluster();
const r = await runSoak({ minutes, seed });
const json = saveResult(r);
const doc = join(REPO, 'docs', 'reliability.md');
writeFileSync(
  doc,
  withSoakSection(
    readFileSync(doc, 'utf8'),
    renderSoak(r, `make soak SOAK_MINUTES=${minutes} SEED=${seed}`, minFaults),
  ),
);
if (started) await stopCluster();
const problems = verdict(r, minFaults);
console.log(`soak seed ${seed}: ${problems.length === 0 ? 'held' : problems.join('; ')}`);
console.log(`result: ${json}; figures: docs/reliability.md (Soak)`);
process.exit(problems.length === 0 ? 0 : 1);
