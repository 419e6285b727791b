/**
 * Pools at the sizes the budget tests need (issue #12, item 4): thousands of pools with
 * 253-character names, and pools holding 10 000 allocation records. Fresh objects on every
 * call (the webhook memoizes per object, so a new array is a cold cache).
 */
import {
  API_VERSION,
  encodeAllocatedIPs,
  type PoolIPAllocation,
  type SpiderIPPool,
} from '@nicpool/crds';

/** The longest name a pool may have. */
export const MAX_NAME = 253;

/** A distinct 253-character pool name for `i`, starting `prefix`. */
export function longPoolName(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(6, '0')}-`.padEnd(MAX_NAME, 'x');
}

/** IPv4 text of the i-th address after 10.0.0.0 (i < 2^24). */
export function ipv4(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/**
 * `count` IPv4 pools named by {@link longPoolName}, pool i on its own /24 (10.x.y.0/24,
 * addresses .1–.253, gateway .254): every name distinct, no overlaps, all usable.
 */
export function manyPools(count: number, prefix = 'pool-'): SpiderIPPool[] {
  return Array.from({ length: count }, (_, i) => {
    const base = i << 8;
    return {
      apiVersion: API_VERSION,
      kind: 'SpiderIPPool',
      metadata: { name: longPoolName(prefix, i), uid: `uid-${i}`, resourceVersion: '1' },
      spec: {
        subnet: `${ipv4(base)}/24`,
        ips: [`${ipv4(base + 1)}-${ipv4(base + 253)}`],
        gateway: ipv4(base + 254),
      },
    };
  });
}

/** `count` records for addresses 10.128.0.1… (pods `ns/pod-i`, UIDs `u-i`, interface eth0). */
export function manyRecords(count: number, from = 1): Map<string, PoolIPAllocation> {
  const records = new Map<string, PoolIPAllocation>();
  for (let i = 0; i < count; i++)
    records.set(ipv4((128 << 16) + from + i), {
      pod: `ns/pod-${from + i}`,
      podUid: `u-${from + i}`,
      interface: 'eth0',
    });
  return records;
}

/**
 * One pool over 10.128.0.0/16 (65 533 addresses) whose status holds `records` of
 * {@link manyRecords}: issue #12 sizes budgets at 10 000 records per pool (the allocator
 * caps records at NICPOOL_MAX_RECORDS_PER_POOL, 5000 by default).
 */
export function fullPool(name: string, records: number): SpiderIPPool {
  const encoded = encodeAllocatedIPs(manyRecords(records));
  return {
    apiVersion: API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name, uid: `uid-${name}`, resourceVersion: '1' },
    spec: {
      subnet: '10.128.0.0/16',
      ips: ['10.128.0.1-10.128.255.253'],
      gateway: '10.128.255.254',
    },
    status: {
      ...(encoded === undefined ? {} : { allocatedIPs: encoded }),
      allocatedIPCount: records,
      totalIPCount: 65533,
    },
  };
}
