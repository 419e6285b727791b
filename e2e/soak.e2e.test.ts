/**
 * The soak in `make test`: two minutes, a fixed seed (`make soak` runs it longer, any seed).
 * Churn and every fault kind of the soak (kills aimed and not, API and socket windows); no
 * address may be held twice at any check, nothing may leak after GC, every pod that lived
 * a minute must have run, and every fault kind must have been injected.
 */
import { describe, expect, it } from '@jest/globals';
import { FAULTS, runSoak, saveResult } from './soak/soak.ts';

const SEED = 20261201;

describe('soak: 2 minutes of churn and faults, fixed seed', () => {
  it(`seed ${SEED}: no duplicate at any instant, no leak after GC, every pod ran, every fault injected`, async () => {
    // Faults closer together than in a long run, so two minutes inject every kind.
    const r = await runSoak({
      minutes: 2,
      seed: SEED,
      faultEvery: { aimed: [8, 20], kills: [5, 10], control: [3, 8] },
      say: () => undefined,
    });
    const summary = {
      duplicates: r.duplicates,
      leaksAtEnd: r.leaksAtEnd,
      neverRunning: r.neverRunning,
      faultKindsMissing: FAULTS.filter((f) => r.faults[f] === 0),
    };
    const held = Object.values(summary).every((v) => v.length === 0);
    // The whole result (and the components' logs it names) only when it failed.
    expect({ ...summary, result: held ? 'held' : saveResult(r) }).toEqual({
      duplicates: [],
      leaksAtEnd: [],
      neverRunning: [],
      faultKindsMissing: [],
      result: 'held',
    });
    // The churn did something: pods came and went.
    expect(r.podsRunning).toBeGreaterThan(10);
    expect(r.checks).toBeGreaterThan(10);
  }, 420_000);
});
