import {
  canonicalIP,
  formatCIDRNetwork,
  parseCIDR,
  parseIP,
  parseRange,
  RangeSet,
  type Cidr,
  type IPFamily,
} from '@nicpool/ip';
import { err, ok, type Result } from '@nicpool/result';
import type { AddressSpec } from './types.ts';

/** Why a status string or spec could not be read; `path` is inside the decoded JSON. */
export interface CodecError {
  readonly field: string;
  readonly path: string;
  readonly message: string;
}

/** One record of `SpiderIPPool.status.allocatedIPs`. */
export interface PoolIPAllocation {
  /** `namespace/name` of the pod. */
  readonly pod: string;
  readonly podUid: string;
  /** nicpool's addition; readers that ignore unknown keys stay compatible. */
  readonly interface?: string;
}

const ALLOCATED = 'status.allocatedIPs';
const CONTROLLED = 'status.controlledIPPools';

function parseObject(field: string, text: string): Result<Record<string, unknown>, CodecError> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return err({
      field,
      path: '',
      message: `${field} is not valid JSON (${e instanceof Error ? e.message : String(e)})`,
    });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return err({ field, path: '', message: `${field} must be a JSON object` });
  }
  return ok(v as Record<string, unknown>);
}

/**
 * Decodes `status.allocatedIPs` (absent or empty → no records). Keys are made canonical;
 * a malformed record is an error, never silently dropped, so nothing recorded is lost.
 */
export function decodeAllocatedIPs(
  text: string | undefined,
): Result<Map<string, PoolIPAllocation>, CodecError> {
  const out = new Map<string, PoolIPAllocation>();
  if (text === undefined || text === '') return ok(out);
  const o = parseObject(ALLOCATED, text);
  if (!o.ok) return o;
  for (const [key, raw] of Object.entries(o.value)) {
    const ip = canonicalIP(key);
    const fail = (message: string): Result<never, CodecError> =>
      err({ field: ALLOCATED, path: key, message: `${ALLOCATED}: ${message}` });
    if (ip === undefined) return fail(`key ${JSON.stringify(key)} is not an IP address`);
    if (out.has(ip)) return fail(`${JSON.stringify(key)} is recorded twice (as ${ip})`);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      return fail(`record of ${key} is not an object`);
    const r = raw as Record<string, unknown>;
    const pod = r['pod'];
    const podUid = r['podUid'];
    const ifName = r['interface'];
    if (typeof pod !== 'string' || !/^[^/]+\/[^/]+$/.test(pod))
      return fail(`record of ${key} has no "pod" of the form namespace/name`);
    if (typeof podUid !== 'string' || podUid === '')
      return fail(`record of ${key} has no "podUid"`);
    if (ifName !== undefined && typeof ifName !== 'string')
      return fail(`record of ${key} has a non-string "interface"`);
    out.set(ip, ifName === undefined ? { pod, podUid } : { pod, podUid, interface: ifName });
  }
  return ok(out);
}

/** Encodes records in address order; undefined when there are none (the field is then absent). */
export function encodeAllocatedIPs(
  records: ReadonlyMap<string, PoolIPAllocation>,
): string | undefined {
  return encodeAllocatedIPsOrdered(records).text;
}

/**
 * Encodes records in address order, and gives them back in that order: the map
 * decodeAllocatedIPs would read from the text, so a writer can keep it instead of decoding.
 */
export function encodeAllocatedIPsOrdered(records: ReadonlyMap<string, PoolIPAllocation>): {
  readonly text: string | undefined;
  readonly ordered: ReadonlyMap<string, PoolIPAllocation>;
} {
  if (records.size === 0) return { text: undefined, ordered: new Map() };
  // Each address parsed once, then sorted by (family, value): compareIPText as the comparator
  // parsed both sides of every comparison, 2 × n log n parses (most of the allocator's write
  // cost at 10 000 records, docs/benchmarks.md B4).
  const keyed = [...records.entries()].map(([ip, rec]) => {
    const a = parseIP(ip);
    return a.ok
      ? { ip, rec, family: a.value.family, value: a.value.value }
      : { ip, rec, family: 0, value: 0n };
  });
  keyed.sort(
    (x, y) =>
      x.family - y.family ||
      (x.value < y.value ? -1 : x.value > y.value ? 1 : 0) ||
      (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0),
  );
  const o: Record<string, PoolIPAllocation> = {};
  const ordered = new Map<string, PoolIPAllocation>();
  for (const { ip, rec } of keyed) {
    o[ip] =
      rec.interface === undefined
        ? { pod: rec.pod, podUid: rec.podUid }
        : { pod: rec.pod, podUid: rec.podUid, interface: rec.interface };
    ordered.set(ip, rec);
  }
  return { text: JSON.stringify(o), ordered };
}

/** One entry of `SpiderSubnet.status.controlledIPPools`. */
export interface ControlledPool {
  readonly ips: readonly string[];
  /** `group_version_Kind_namespace_name`, e.g. `apps_v1_Deployment_default_test-app`. */
  readonly application?: string;
}

export function decodeControlledIPPools(
  text: string | undefined,
): Result<Map<string, ControlledPool>, CodecError> {
  const out = new Map<string, ControlledPool>();
  if (text === undefined || text === '') return ok(out);
  const o = parseObject(CONTROLLED, text);
  if (!o.ok) return o;
  for (const [pool, raw] of Object.entries(o.value)) {
    const fail = (message: string): Result<never, CodecError> =>
      err({ field: CONTROLLED, path: pool, message: `${CONTROLLED}: ${message}` });
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      return fail(`entry of ${pool} is not an object`);
    const r = raw as Record<string, unknown>;
    const ipsRaw = r['ips'];
    const application = r['application'];
    if (!Array.isArray(ipsRaw) || ipsRaw.some((x) => typeof x !== 'string'))
      return fail(`entry of ${pool} has no "ips" list`);
    const ips = ipsRaw as string[];
    for (const range of ips) {
      const p = parseRange(range);
      if (!p.ok) return fail(`entry of ${pool}: ${p.error.message}`);
    }
    if (application !== undefined && typeof application !== 'string')
      return fail(`entry of ${pool} has a non-string "application"`);
    out.set(pool, application === undefined ? { ips } : { ips, application });
  }
  return ok(out);
}

export function encodeControlledIPPools(
  pools: ReadonlyMap<string, ControlledPool>,
): string | undefined {
  if (pools.size === 0) return undefined;
  const o: Record<string, ControlledPool> = {};
  for (const name of [...pools.keys()].sort()) {
    const p = pools.get(name)!;
    o[name] =
      p.application === undefined
        ? { ips: [...p.ips] }
        : { ips: [...p.ips], application: p.application };
  }
  return JSON.stringify(o);
}

/** Orders address strings numerically within a family, IPv4 before IPv6. */
export function compareIPText(a: string, b: string): number {
  const ra = RangeSet.parse(a.includes(':') ? 6 : 4, [a]);
  const rb = RangeSet.parse(b.includes(':') ? 6 : 4, [b]);
  if (!ra.ok || !rb.ok) return a < b ? -1 : a > b ? 1 : 0;
  if (ra.value.family !== rb.value.family) return ra.value.family - rb.value.family;
  const x = ra.value.intervals[0]!.start;
  const y = rb.value.intervals[0]!.start;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The family of a pool or subnet: `ipVersion`, else the family of `subnet`. */
export function specFamily(spec: AddressSpec): IPFamily | undefined {
  if (spec.ipVersion === 4 || spec.ipVersion === 6) return spec.ipVersion;
  const c = parseCIDR(spec.subnet);
  return c.ok ? c.value.family : undefined;
}

/** The usable addresses of a pool or subnet: `ips` minus `excludeIPs` (their count is totalIPCount). */
export function specAddresses(spec: AddressSpec): Result<RangeSet, CodecError> {
  const family = specFamily(spec);
  if (family === undefined)
    return err({
      field: 'spec.subnet',
      path: '',
      message: `spec.subnet ${JSON.stringify(spec.subnet)} is not a CIDR`,
    });
  const ips = RangeSet.parse(family, spec.ips ?? []);
  if (!ips.ok)
    return err({
      field: 'spec.ips',
      path: `[${ips.error.index}]`,
      message: `spec.ips[${ips.error.index}]: ${ips.error.message}`,
    });
  const ex = RangeSet.parse(family, spec.excludeIPs ?? []);
  if (!ex.ok)
    return err({
      field: 'spec.excludeIPs',
      path: `[${ex.error.index}]`,
      message: `spec.excludeIPs[${ex.error.index}]: ${ex.error.message}`,
    });
  return ok(ips.value.subtract(ex.value));
}

/** `10.6.0.0/16` → `10-6-0-0-16`: the CIDR labels' value (label values cannot hold `.`, `:` or `/` runs). */
export function cidrLabel(c: Cidr): string {
  return formatCIDRNetwork(c)
    .replace(/[.:/]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * The largest count a status field holds: 2^53 − 1. The CRDs declare counts `integer`
 * (int64), and every client of them (kubectl, JavaScript, JSON decoders into float64) reads
 * them exactly only up to 2^53 − 1; a /64 pool has 2^64 addresses, which the API server
 * refuses as an integer. Larger counts saturate here (docs/crds.md, "Counts").
 */
export const MAX_STATUS_COUNT = Number.MAX_SAFE_INTEGER;

/** A count of addresses as a status field writes it: exact up to MAX_STATUS_COUNT, then saturated. */
export function statusCount(n: bigint): number {
  if (n <= 0n) return 0;
  return n >= BigInt(MAX_STATUS_COUNT) ? MAX_STATUS_COUNT : Number(n);
}
