// Time budgets (issue #12 item 4) for the webhook's pure decisions at the sizes the limits
// allow: 5000 pools with 253-character names, 64 KiB annotations, 10 000 records in a pool.
// Best of a few runs; bounds, not benchmarks. A pod decision gets 50 ms; pool and subnet
// writes (rare, by an admin or the controller) and the wildcard worst case get more, each
// several times what it takes here under a loaded Jest (docs/reliability.md).
import { describe, expect, it } from '@jest/globals';
import { MultusAnnotation as M, PodAnnotation as P } from '@nicpool/annotations';
import type { SpiderIPPool, SpiderSubnet } from '@nicpool/crds';
import {
  BUDGET_TEST_TIMEOUT_MS,
  bestOfMs,
  fullPool,
  ipv4,
  longPoolName,
  manyPools,
} from '@nicpool/testing';
import { decide, type AdmissionReview } from './admission.ts';
import { decidePodLike } from './decide-pod.ts';
import { mutate, validate } from './decide-pool.ts';
import type { Snapshot } from './snapshot.ts';

const POOLS = 5000;
const KIB64 = 64 * 1024;

function snapshotOf(pools: SpiderIPPool[], subnets: SpiderSubnet[] = []): Snapshot {
  return {
    pools,
    subnets,
    reservedIPs: [],
    namespaces: new Map([['default', { labels: { team: 'x' } }]]),
    nads: [],
  };
}

/** Items from `item(i)` joined into a JSON array, as many as fit in 64 KiB. */
function fill(item: (i: number) => string): string {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; ; i++) {
    const next = item(i);
    if (size + next.length + 1 > KIB64) break;
    parts.push(next);
    size += next.length + 1;
  }
  return `[${parts.join(',')}]`;
}

const pod = (annotations: Record<string, string>): unknown => ({
  metadata: { name: 'p', namespace: 'default', labels: { app: 'web' }, annotations },
});

describe('webhook decision budgets', () => {
  it(
    'decidePodLike: ippool naming one of 5000 pools with 253-char names, index cold (after a watch event): under 250 ms',
    () => {
      const name = longPoolName('pool-', 4321);
      const a = { [P.ippool]: JSON.stringify({ ipv4: [name] }) };
      // A fresh pool array each run: the per-snapshot index of 5000 pools is built, as after
      // every pool watch event (about 70 ms under a loaded Jest: more than a decision's 50).
      const fresh = Array.from({ length: 4 }, () => snapshotOf(manyPools(POOLS)));
      expect(bestOfMs(() => decidePodLike('Pod', pod(a), 'default', fresh.pop()!))).toBeLessThan(
        250,
      );
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'decidePodLike: 64 KiB ippool of exact 253-char names against 5000 pools: under 50 ms',
    () => {
      const snap = snapshotOf(manyPools(POOLS));
      const a = { [P.ippool]: `{"ipv4":${fill((i) => `"${longPoolName('pool-', i)}"`)}}` };
      let d = decidePodLike('Pod', pod(a), 'default', snap);
      const ms = bestOfMs(() => (d = decidePodLike('Pod', pod(a), 'default', snap)));
      expect(d.reason).toBeUndefined();
      expect(ms).toBeLessThan(50);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'decidePodLike: 64 KiB ippool of 253-char patterns with 8 "*" against 5000 pools: under 250 ms',
    () => {
      // Each pattern is matched against every name: patterns × names × name length. The
      // budget is looser than a decision's 50 ms; see docs/reliability.md.
      const snap = snapshotOf(manyPools(POOLS));
      const pattern = (i: number): string =>
        `pool-${String(i).padStart(6, '0')}-${'*x'.repeat(8)}`.padEnd(253, 'x');
      const a = { [P.ippool]: `{"ipv4":${fill((i) => `"${pattern(i)}"`)}}` };
      expect(bestOfMs(() => decidePodLike('Pod', pod(a), 'default', snap))).toBeLessThan(250);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'review #1: the 92-char pattern "*[a-y0-9-]"×10 + "*z" against 5000 pools and an auto-pool name: under 50 ms',
    () => {
      // Refused since (at most 8 "*"), but the refusal itself must be quick, and so must a
      // matcher handed it by any other path.
      const snap = snapshotOf([
        ...manyPools(POOLS),
        { ...manyPools(1)[0]!, metadata: { name: 'auto-web-frontend-v4-eth0-5f1c2a9d7e3b' } },
      ]);
      const a = { [P.ippool]: JSON.stringify({ ipv4: [`${'*[a-y0-9-]'.repeat(10)}*z`] }) };
      expect(bestOfMs(() => decidePodLike('Pod', pod(a), 'default', snap))).toBeLessThan(50);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'decidePodLike: one wildcard matching all 5000 pools, every one disabled: under 50 ms',
    () => {
      const pools = manyPools(POOLS).map((p) => ({ ...p, spec: { ...p.spec, disable: true } }));
      const snap = snapshotOf(pools);
      const a = { [P.ippool]: '{"ipv4":["pool-*"]}' };
      let d = decidePodLike('Pod', pod(a), 'default', snap);
      const ms = bestOfMs(() => (d = decidePodLike('Pod', pod(a), 'default', snap)));
      expect(d.allowed).toBe(false);
      expect(ms).toBeLessThan(50);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'decidePodLike: Deployment with 64 KiB networks and 64 KiB named ippools: under 250 ms',
    () => {
      const snap = snapshotOf(manyPools(POOLS));
      const ifName = (i: number): string => `n${String(i).padStart(14, '0')}`;
      const networks = fill((i) => `{"name":"nad-${i}","interface":"${ifName(i)}"}`);
      const ippools = fill(
        (i) => `{"interface":"${ifName(i)}","ipv4":["${longPoolName('pool-', i % POOLS)}"]}`,
      );
      const obj = {
        spec: {
          replicas: 1000,
          template: {
            metadata: {
              labels: { app: 'web' },
              annotations: { [M.networks]: networks, [P.ippools]: ippools },
            },
          },
        },
      };
      expect(bestOfMs(() => decidePodLike('Deployment', obj, 'default', snap))).toBeLessThan(250);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'decide: UPDATE of a Pod whose network annotations did not change (64 KiB each): under 50 ms',
    () => {
      const a = { [P.ippool]: `{"ipv4":${fill((i) => `"${longPoolName('pool-', i)}"`)}}` };
      const review: AdmissionReview = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'u',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          operation: 'UPDATE',
          namespace: 'default',
          object: pod(a),
          oldObject: pod(a),
        },
      };
      const snap = snapshotOf(manyPools(POOLS));
      expect(bestOfMs(() => decide(review, false, snap))).toBeLessThan(50);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  const newPool = (ranges: number): SpiderIPPool => ({
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata: { name: longPoolName('new-', 0) },
    spec: {
      subnet: '10.200.0.0/16',
      // The CRD allows 4096 entries: single addresses, every other one.
      ips: Array.from({ length: ranges }, (_, i) => ipv4((200 << 16) + 2 * i + 1)),
      gateway: '10.200.255.1',
    },
  });

  it(
    'validate: CREATE of a pool with 4096 ips entries among 5000 pools: under 250 ms',
    () => {
      const snap = snapshotOf(manyPools(POOLS));
      let d = validate('CREATE', newPool(4096), undefined, snap);
      const ms = bestOfMs(() => (d = validate('CREATE', newPool(4096), undefined, snap)));
      expect(d.allowed).toBe(true);
      expect(ms).toBeLessThan(250);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'validate: CREATE of a pool in the same /16 as 5000 pools of 16 ranges each: under 1000 ms',
    () => {
      // The overlap check parses every same-network pool's ranges: pools × ranges.
      const pools = manyPools(POOLS).map((p, i) => ({
        ...p,
        spec: {
          subnet: '10.200.0.0/16',
          ips: Array.from({ length: 16 }, (_, k) => ipv4((200 << 16) + ((i * 16 + k) % 65000) + 1)),
        },
      }));
      const obj = { ...newPool(1), spec: { subnet: '10.200.0.0/16', ips: ['10.200.255.254'] } };
      expect(bestOfMs(() => validate('CREATE', obj, undefined, snapshotOf(pools)))).toBeLessThan(
        1000,
      );
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'validate: UPDATE shrinking a pool that holds 10 000 records: under 500 ms',
    () => {
      const old = fullPool('big', 10_000);
      const next = { ...old, spec: { ...old.spec, ips: ['10.128.0.1-10.128.100.0'] } };
      const snap = snapshotOf(manyPools(POOLS));
      let d = validate('UPDATE', next, old, snap);
      const ms = bestOfMs(() => (d = validate('UPDATE', next, old, snap)));
      expect(d.allowed).toBe(true);
      expect(ms).toBeLessThan(500);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'validate: UPDATE removing every address of a pool with 10 000 records (all listed): under 500 ms',
    () => {
      const old = fullPool('big', 10_000);
      const next = { ...old, spec: { ...old.spec, excludeIPs: ['10.128.0.1-10.128.255.254'] } };
      let d = validate('UPDATE', next, old, snapshotOf([]));
      const ms = bestOfMs(() => (d = validate('UPDATE', next, old, snapshotOf([]))));
      expect(d.allowed).toBe(false);
      expect(ms).toBeLessThan(500);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'mutate: a pool with 4096 ips and 4096 excludeIPs entries among 5000 pools: under 250 ms',
    () => {
      const p = newPool(4096);
      const obj = { ...p, spec: { ...p.spec, excludeIPs: p.spec.ips } };
      const snap = snapshotOf(manyPools(POOLS));
      expect(bestOfMs(() => mutate(obj, snap))).toBeLessThan(250);
    },
    BUDGET_TEST_TIMEOUT_MS,
  );
});
