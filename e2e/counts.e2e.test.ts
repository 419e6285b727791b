/**
 * Status counts of huge pools on the real API server (review finding #9). The CRD declares
 * `totalIPCount` / `allocatedIPCount` as `integer` (int64); the API server checks a JSON
 * number as an integer only up to 2^53. A /64 pool holds 2^64 addresses: written as
 * `Number(count)` (1.8e19) every status write of the pool is refused, so the pool could
 * never hand out an address. API server only, no node simulator.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  API_VERSION,
  decodeAllocatedIPs,
  MAX_STATUS_COUNT,
  type SpiderIPPool,
} from '@nicpool/crds';
import { RangeSet } from '@nicpool/ip';
import {
  apiStatus,
  ClusterObjects,
  createKubeClients,
  loadKubeConfig,
  Plural,
} from '@nicpool/kube';
import { GroupCommitter } from '../apps/allocator/src/pool-commit.ts';
import { cluster, uniqueName } from './harness/helpers.ts';
import { expectInvariants } from './harness/invariants.ts';

describe('status counts of a /64 IPv6 pool on the real API server', () => {
  const pools = new ClusterObjects<SpiderIPPool>(
    createKubeClients(loadKubeConfig({ kind: 'file', path: cluster().kubeconfig })).custom,
    Plural.ippool,
  );
  const name = uniqueName('counts-v6-64');
  // The allocator's own write path: group commit over a fresh read, conditional write.
  const committer = new GroupCommitter(
    { readPool: (n) => pools.get(n), writePoolStatus: (p) => pools.replaceStatus(p) },
    {
      retry: { attempts: 5, baseDelayMs: 5, maxDelayMs: 50 },
      maxRecords: 5000,
      reserved: (f) => RangeSet.empty(f),
    },
  );

  // The record this suite makes is released before the pool goes, as a DEL would: the pool
  // then leaves nothing behind for the invariant check (a pod that never existed).
  afterAll(async () => {
    await committer
      .submit(name, { kind: 'release', podUid: 'uid-counts-1' })
      .catch(() => undefined);
    await pools.delete(name).catch((e: unknown) => {
      if (apiStatus(e) !== 404) throw e;
    });
  });

  it('accepts the saturated totalIPCount the allocator writes and refuses the unsaturated one', async () => {
    await pools.create({
      apiVersion: API_VERSION,
      kind: 'SpiderIPPool',
      metadata: { name },
      spec: {
        ipVersion: 6,
        subnet: 'fd00:64::/64',
        ips: ['fd00:64::-fd00:64::ffff:ffff:ffff:ffff'],
      },
    });

    const r = await committer.submit(name, {
      kind: 'allocate',
      podUid: 'uid-counts-1',
      pod: 'default/counts-1',
      ifName: 'eth0',
      sticky: false,
    });
    expect(r).toEqual({ kind: 'allocated', ip: 'fd00:64::', reused: false });
    const stored = await pools.get(name);
    expect(stored.status?.totalIPCount).toBe(MAX_STATUS_COUNT);
    expect(stored.status?.allocatedIPCount).toBe(1);
    const records = decodeAllocatedIPs(stored.status?.allocatedIPs);
    expect(records.ok && [...records.value.keys()]).toEqual(['fd00:64::']);

    // What the allocator wrote before the fix: Number(2n ** 64n). The API server refuses it,
    // so before the fix no allocation from this pool could ever be recorded.
    const unsaturated = await pools
      .replaceStatus({
        ...stored,
        status: { ...stored.status, totalIPCount: Number(2n ** 64n) },
      })
      .then(
        () => 'written',
        (e: unknown) => e,
      );
    expect(apiStatus(unsaturated)).toBe(422);
    expect(String((unsaturated as Error).message)).toMatch(/totalIPCount/);
    expect((await pools.get(name)).status?.totalIPCount).toBe(MAX_STATUS_COUNT);
  });
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
