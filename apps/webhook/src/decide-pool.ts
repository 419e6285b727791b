/**
 * Admission of SpiderIPPool, SpiderSubnet and SpiderReservedIP (webhook.md): mutation by
 * diffing a mutated copy, and validation of the rules that need other objects or more
 * than CEL can say. Pure.
 */
import {
  autoPoolApplication,
  escapeControl,
  FINALIZER,
  Label,
  labelValueOf,
} from '@nicpool/annotations';
import {
  API_VERSION,
  cidrLabel,
  decodeAllocatedIPs,
  decodeControlledIPPools,
  specAddresses,
  specFamily,
  type AddressSpec,
  type SpiderIPPool,
  type SpiderReservedIP,
  type SpiderSubnet,
} from '@nicpool/crds';
import {
  formatCIDRNetwork,
  parseCIDR,
  parseIP,
  RangeSet,
  type Cidr,
  type IPFamily,
} from '@nicpool/ip';
import fastJsonPatch from 'fast-json-patch';
import type { Decision } from './decision.ts';
import type { Snapshot } from './snapshot.ts';

type Obj = SpiderIPPool | SpiderSubnet | SpiderReservedIP;
type Op = 'CREATE' | 'UPDATE';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON value's type as messages name it. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`;
}

/** `field` absent, or a list whose items pass `item` (named `itemName` when one does not). */
function checkList(
  out: string[],
  field: string,
  v: unknown,
  listName: string,
  itemName: string,
  item: (x: unknown) => boolean,
): v is unknown[] | undefined {
  if (v === undefined) return true;
  if (!Array.isArray(v)) {
    out.push(`${field}: must be ${listName}, not ${typeOf(v)}`);
    return false;
  }
  const bad = v.findIndex((x) => !item(x));
  if (bad >= 0) out.push(`${field}[${bad}]: must be ${itemName}, not ${typeOf(v[bad])}`);
  return bad < 0;
}

const isString = (x: unknown): x is string => typeof x === 'string';

/**
 * Why the request's object lacks the shape mutation and validation read, one problem per
 * entry; [] when it has it. The API server runs mutating webhooks before it checks the CRD
 * schema (validating ones after), so the mutating webhook sees whatever JSON a client sent:
 * a field of another type must be named, not thrown on (a 500 for every such request) nor
 * mutated blindly (a string of finalizers spread into characters).
 */
function shapeProblems(v: unknown): string[] {
  if (!isRecord(v)) return [`request.object: must be a JSON object, not ${typeOf(v)}`];
  const kind = v['kind'];
  if (kind !== 'SpiderIPPool' && kind !== 'SpiderSubnet' && kind !== 'SpiderReservedIP')
    return [
      `kind: ${typeof kind === 'string' ? JSON.stringify(kind) : typeOf(kind)} is not SpiderIPPool, SpiderSubnet or SpiderReservedIP`,
    ];
  const out: string[] = [];
  const meta = v['metadata'];
  if (!isRecord(meta))
    out.push(
      meta === undefined
        ? 'metadata: required'
        : `metadata: must be an object, not ${typeOf(meta)}`,
    );
  else {
    const labels = meta['labels'];
    if (labels !== undefined && !isRecord(labels))
      out.push(`metadata.labels: must be an object of strings, not ${typeOf(labels)}`);
    else
      for (const [k, x] of Object.entries(labels ?? {}))
        if (typeof x !== 'string')
          out.push(`metadata.labels[${JSON.stringify(k)}]: must be a string, not ${typeOf(x)}`);
    checkList(
      out,
      'metadata.finalizers',
      meta['finalizers'],
      'a list of strings',
      'a string',
      isString,
    );
    checkList(
      out,
      'metadata.ownerReferences',
      meta['ownerReferences'],
      'a list of objects',
      'an object',
      isRecord,
    );
  }
  const spec = v['spec'];
  if (!isRecord(spec)) {
    out.push(
      spec === undefined ? 'spec: required' : `spec: must be an object, not ${typeOf(spec)}`,
    );
    return out;
  }
  const ipVersion = spec['ipVersion'];
  if (ipVersion !== undefined && ipVersion !== 4 && ipVersion !== 6)
    out.push(
      `spec.ipVersion: must be the number 4 or 6, not ${typeof ipVersion === 'number' ? ipVersion : typeOf(ipVersion)}`,
    );
  if (kind !== 'SpiderReservedIP') {
    const subnet = spec['subnet'];
    if (subnet === undefined) out.push('spec.subnet: required: a CIDR such as 10.6.0.0/16');
    else if (typeof subnet !== 'string')
      out.push(`spec.subnet: must be a string (a CIDR such as 10.6.0.0/16), not ${typeOf(subnet)}`);
  }
  const ranges = 'a list of strings (addresses or ranges)';
  checkList(out, 'spec.ips', spec['ips'], ranges, 'a string', isString);
  if (kind === 'SpiderReservedIP') return out;
  checkList(out, 'spec.excludeIPs', spec['excludeIPs'], ranges, 'a string', isString);
  const gateway = spec['gateway'];
  if (gateway !== undefined && typeof gateway !== 'string')
    out.push(`spec.gateway: must be a string (an IP address), not ${typeOf(gateway)}`);
  const routes = spec['routes'];
  if (routes !== undefined && !Array.isArray(routes))
    out.push(`spec.routes: must be a list of objects {dst, gw}, not ${typeOf(routes)}`);
  else
    (routes ?? []).forEach((r: unknown, i) => {
      if (!isRecord(r)) {
        out.push(`spec.routes[${i}]: must be an object {dst, gw}, not ${typeOf(r)}`);
        return;
      }
      for (const f of ['dst', 'gw'] as const) {
        const x = r[f];
        if (x === undefined) out.push(`spec.routes[${i}].${f}: required`);
        else if (typeof x !== 'string')
          out.push(`spec.routes[${i}].${f}: must be a string, not ${typeOf(x)}`);
      }
    });
  return out;
}

function denied(problems: readonly string[], warnings: string[] = []): Decision {
  return { allowed: false, reason: problems.map(escapeControl).join('\n'), warnings };
}

function canonical(family: IPFamily, list: string[] | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const r = RangeSet.parse(family, list);
  return r.ok ? r.value.toStrings() : list;
}

/** The subnet whose CIDR equals this pool's, if any. */
function owningSubnet(pool: SpiderIPPool, snap: Snapshot): SpiderSubnet | undefined {
  const c = parseCIDR(pool.spec.subnet);
  if (!c.ok) return undefined;
  return snap.subnets.find((s) => {
    const sc = parseCIDR(s.spec.subnet);
    return (
      sc.ok &&
      sc.value.family === c.value.family &&
      sc.value.network === c.value.network &&
      sc.value.prefix === c.value.prefix
    );
  });
}

/**
 * Mutates a copy (defaults, labels, canonical ranges, subnet ownership) and returns the diff.
 * `input` is the request's object as sent: any JSON (see shapeProblems).
 */
export function mutate(input: unknown, snap: Snapshot): Decision {
  const shape = shapeProblems(input);
  if (shape.length > 0) return denied(shape);
  const obj = input as Obj; // its shape checked just above
  const next = structuredClone(obj);
  const labels = { ...(next.metadata.labels ?? {}) };
  if (next.kind === 'SpiderReservedIP') {
    const first = next.spec.ips?.[0];
    const fam = first === undefined ? undefined : parseIP(first.split('-')[0]!);
    if (next.spec.ipVersion === undefined && fam?.ok === true)
      next.spec.ipVersion = fam.value.family;
    if (next.spec.ipVersion !== undefined)
      next.spec.ips = canonical(next.spec.ipVersion, next.spec.ips);
  } else {
    const spec: AddressSpec = next.spec;
    const c = parseCIDR(spec.subnet);
    if (!c.ok) return denied([`spec.subnet: ${c.error.message}`]);
    spec.ipVersion ??= c.value.family;
    spec.ips = canonical(c.value.family, spec.ips);
    spec.excludeIPs = canonical(c.value.family, spec.excludeIPs);
    if (spec.ips === undefined) delete spec.ips;
    if (spec.excludeIPs === undefined) delete spec.excludeIPs;
    if (next.kind === 'SpiderSubnet') labels[Label.subnetCIDR] = cidrLabel(c.value);
    else {
      labels[Label.ippoolCIDR] = cidrLabel(c.value);
      const sn = owningSubnet(next, snap);
      if (sn !== undefined && sn.metadata.uid !== undefined) {
        // Label values hold 63 characters; subnet names up to 253.
        labels[Label.ownerSpiderSubnet] = labelValueOf(sn.metadata.name);
        const refs = (next.metadata.ownerReferences ?? []).filter((r) => r.kind !== 'SpiderSubnet');
        next.metadata.ownerReferences = [
          ...refs,
          {
            apiVersion: API_VERSION,
            kind: 'SpiderSubnet',
            name: sn.metadata.name,
            uid: sn.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ];
        if (next.spec.gateway === undefined && sn.spec.gateway !== undefined)
          next.spec.gateway = sn.spec.gateway;
        if (next.spec.routes === undefined && sn.spec.routes !== undefined)
          next.spec.routes = structuredClone(sn.spec.routes);
      }
    }
  }
  next.metadata.labels = labels;
  // Pools and subnets stay until the controller knows them free (crds.md). Never re-added
  // to an object being deleted: that would undo the controller's removal forever.
  if (next.kind !== 'SpiderReservedIP' && next.metadata.deletionTimestamp === undefined) {
    const finalizers = next.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) next.metadata.finalizers = [...finalizers, FINALIZER];
  }
  const patch = fastJsonPatch.compare(obj, next);
  return patch.length > 0
    ? { allowed: true, warnings: [], patch }
    : { allowed: true, warnings: [] };
}

/** Problems of the address fields of a pool or subnet, each with its field path. */
function addressProblems(
  spec: AddressSpec,
  errors: string[],
): { family: IPFamily; cidr: Cidr; ips: RangeSet; usable: RangeSet } | undefined {
  const c = parseCIDR(spec.subnet);
  if (!c.ok) {
    errors.push(`spec.subnet: ${c.error.message}`);
    return undefined;
  }
  const family = c.value.family;
  if (spec.ipVersion !== undefined && spec.ipVersion !== family)
    errors.push(
      `spec.ipVersion: ${spec.ipVersion} does not match subnet ${spec.subnet} (IPv${family})`,
    );
  const net = RangeSet.fromCIDR(c.value);
  const read = (field: 'ips' | 'excludeIPs'): RangeSet => {
    const r = RangeSet.parse(family, spec[field] ?? []);
    if (!r.ok) {
      errors.push(`spec.${field}[${r.error.index}]: ${r.error.message}`);
      return RangeSet.empty(family);
    }
    const outside = r.value.subtract(net);
    if (!outside.isEmpty())
      errors.push(`spec.${field}: ${outside.toStrings().join(', ')} outside subnet ${spec.subnet}`);
    return r.value;
  };
  const ips = read('ips');
  const excluded = read('excludeIPs');
  const usable = ips.subtract(excluded);
  if (spec.gateway !== undefined) {
    const g = parseIP(spec.gateway);
    if (!g.ok || g.value.family !== family)
      errors.push(`spec.gateway: ${JSON.stringify(spec.gateway)} is not an IPv${family} address`);
    else if (!net.contains(g.value.value))
      errors.push(`spec.gateway: ${spec.gateway} is outside subnet ${spec.subnet}`);
    else if (usable.contains(g.value.value))
      errors.push(
        `spec.gateway: ${spec.gateway} is inside spec.ips; add it to spec.excludeIPs so no pod gets it`,
      );
  }
  const seen = new Set<string>();
  (spec.routes ?? []).forEach((r, i) => {
    const d = parseCIDR(r.dst);
    const g = parseIP(r.gw);
    if (!d.ok || d.value.family !== family)
      errors.push(`spec.routes[${i}].dst: ${JSON.stringify(r.dst)} is not an IPv${family} CIDR`);
    else if (d.value.prefix === 0)
      errors.push(`spec.routes[${i}].dst: a default route belongs in spec.gateway`);
    else if (seen.has(formatCIDRNetwork(d.value)))
      errors.push(`spec.routes[${i}].dst: ${r.dst} is routed twice`);
    else seen.add(formatCIDRNetwork(d.value));
    if (!g.ok || g.value.family !== family)
      errors.push(`spec.routes[${i}].gw: ${JSON.stringify(r.gw)} is not an IPv${family} address`);
    else if (!net.contains(g.value.value))
      errors.push(`spec.routes[${i}].gw: ${r.gw} is not inside subnet ${spec.subnet}`);
  });
  return { family, cidr: c.value, ips, usable };
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
function canonicalJSON(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

function sameNetwork(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network === b.network && a.prefix === b.prefix;
}

function overlapCIDR(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network <= b.last && b.network <= a.last;
}

/** Labels that tie an auto-pool to its workload; only the controller sets them. */
const AUTO_POOL_LABELS = [
  Label.ownerApplicationGV,
  Label.ownerApplicationKind,
  Label.ownerApplicationNamespace,
  Label.ownerApplicationName,
  Label.ownerApplicationUID,
  Label.interface,
  Label.ippoolReclaim,
  Label.ipVersion,
  Label.ownerSpiderSubnet,
];

/**
 * Why a write by someone other than the controller must not make or change an auto-pool,
 * undefined when it may. The allocator serves a workload's pods from the pools whose labels
 * name it, so whoever sets those labels chooses the workload's addresses: CREATE with them,
 * or an UPDATE that adds them to an ordinary pool, is a forged auto-pool (review #17); an
 * UPDATE of a real one may not touch its spec or owner labels. A Terminating pool is left
 * to the finalizer rules.
 */
function forgedAutoPool(op: Op, obj: Obj, old: Obj | undefined): string | undefined {
  if (obj.kind !== 'SpiderIPPool') return undefined;
  if (old !== undefined && old.metadata.deletionTimestamp !== undefined) return undefined;
  const before = op === 'UPDATE' ? autoPoolApplication(old?.metadata.labels) : undefined;
  if (before !== undefined) {
    const owned = (o: Obj): string =>
      canonicalJSON({ spec: o.spec, labels: AUTO_POOL_LABELS.map((l) => o.metadata.labels?.[l]) });
    return old !== undefined && owned(old) !== owned(obj)
      ? `SpiderIPPool ${obj.metadata.name} is the auto-pool of ${before.kind} ${before.namespace}/${before.nameLabel}, kept by the nicpool controller: change the workload's ipam.spidernet.io/ippool-ip-number or subnets annotation instead (or delete the workload)`
      : undefined;
  }
  const app = autoPoolApplication(obj.metadata.labels);
  return app === undefined
    ? undefined
    : `SpiderIPPool ${obj.metadata.name} carries the auto-pool labels of ${app.kind} ${app.namespace}/${app.nameLabel} (ipam.spidernet.io/owner-application-*); only the nicpool controller makes auto-pools: remove those labels, or give the workload's pod template an ipam.spidernet.io/subnets annotation`;
}

/** Records named in a message; the rest are counted. */
const SHOWN = 5;

function listed(items: readonly string[]): string {
  const more = items.length - SHOWN;
  return more > 0 ? `${items.slice(0, SHOWN).join(', ')} and ${more} more` : items.join(', ');
}

/**
 * Why nicpool's finalizer must stay on a Terminating pool or subnet, undefined when it may
 * go (review #4). It is the controller's to remove, when the last address is released
 * (pools) or the last pool is gone (subnets): removed earlier, the object disappears while
 * pods hold its addresses, and a pool re-created under the same name (an auto-pool is)
 * starts with an empty status and hands them out again. The controller's own writes skip
 * this webhook (ADR 0011) and are let through here too, by user name, in case they do not.
 */
function finalizerStillNeeded(obj: Obj, old: Obj, snap: Snapshot): string | undefined {
  const had = old.metadata.finalizers?.includes(FINALIZER) === true;
  if (!had || obj.metadata.finalizers?.includes(FINALIZER) === true) return undefined;
  const what = `${obj.kind} ${obj.metadata.name}`;
  if (old.kind === 'SpiderIPPool') {
    // The stored status is authoritative: an update of the object carries it unchanged.
    const records = decodeAllocatedIPs(old.status?.allocatedIPs);
    if (!records.ok)
      return `metadata.finalizers: ${what} has unreadable status.allocatedIPs (${records.error.message}); its finalizer ${FINALIZER} stays while its addresses may be in use`;
    if (records.value.size === 0) return undefined;
    const held = [...records.value.entries()].map(
      ([ip, r]) => `${ip} ${r.pod}${r.interface === undefined ? '' : ` ${r.interface}`}`,
    );
    return `metadata.finalizers: ${what} still holds ${held.length} allocated address${held.length === 1 ? '' : 'es'} (${listed(held)}); its finalizer ${FINALIZER} stays until they are released, or an address live pods use would be handed out again. Delete those pods (kubectl get spiderendpoints -A shows which pod holds which address); the nicpool controller removes the finalizer after the last release`;
  }
  if (old.kind === 'SpiderSubnet') {
    const label = labelValueOf(old.metadata.name);
    const pools = snap.pools
      .filter(
        (p) =>
          p.metadata.labels?.[Label.ownerSpiderSubnet] === label ||
          (old.metadata.uid !== undefined &&
            p.metadata.ownerReferences?.some((o) => o.uid === old.metadata.uid) === true),
      )
      .map((p) => p.metadata.name);
    if (pools.length === 0) return undefined;
    return `metadata.finalizers: ${what} still has pools ${listed(pools)}; its finalizer ${FINALIZER} stays until they are gone (the nicpool controller deletes them and removes the finalizer after)`;
  }
  return undefined;
}

/**
 * Addresses of a pool's `spec.ips` that a subnet has promised to another pool in
 * `status.controlledIPPools` (review #5). The controller promises addresses there before it
 * creates or grows the auto-pool, so a pool not created yet (or not grown yet) holds them
 * only there. A pool's own entry is its own, except an auto-pool's entry at the CREATE of a
 * namesake by someone else. Addresses the other pool's spec already holds are reported by
 * the pool-against-pool check.
 */
function promisedElsewhere(
  op: Op,
  obj: SpiderIPPool,
  a: { family: IPFamily; ips: RangeSet },
  snap: Snapshot,
  byController: boolean,
): string[] {
  const errors: string[] = [];
  let byName: Map<string, SpiderIPPool> | undefined;
  for (const s of snap.subnets) {
    if (specFamily(s.spec) !== a.family) continue;
    // Promises lie inside the subnet's CIDR: a subnet elsewhere is not decoded at all.
    const cidr = parseCIDR(s.spec.subnet);
    if (cidr.ok && !RangeSet.fromCIDR(cidr.value).overlaps(a.ips)) continue;
    const claims = decodeControlledIPPools(s.status?.controlledIPPools);
    if (!claims.ok) {
      const range = specAddresses(s.spec);
      if (!range.ok || range.value.overlaps(a.ips))
        errors.push(
          `spec.ips: the promises of SpiderSubnet ${s.metadata.name} (status.controlledIPPools) cannot be read (${claims.error.message}); a pool inside it is refused until they can`,
        );
      continue;
    }
    for (const [name, c] of claims.value) {
      const own = name === obj.metadata.name;
      if (own && (op === 'UPDATE' || byController || c.application === undefined)) continue;
      const claimed = RangeSet.parse(a.family, c.ips);
      if (!claimed.ok) {
        errors.push(
          `spec.ips: the promise of SpiderSubnet ${s.metadata.name} to pool ${name} cannot be read (${claimed.error.message})`,
        );
        continue;
      }
      let clash = a.ips.intersect(claimed.value);
      if (clash.isEmpty()) continue;
      byName ??= new Map(snap.pools.map((p) => [p.metadata.name, p]));
      const target = own ? undefined : byName.get(name);
      const inSpec =
        target === undefined ? undefined : RangeSet.parse(a.family, target.spec.ips ?? []);
      if (inSpec?.ok === true) clash = clash.subtract(inSpec.value);
      if (!clash.isEmpty())
        errors.push(
          `spec.ips: ${clash.toStrings().join(', ')} promised by SpiderSubnet ${s.metadata.name} to pool ${name}${target === undefined ? ' (not created yet)' : ''}`,
        );
    }
  }
  return errors;
}

/**
 * Validates CREATE and UPDATE of a pool, subnet or reserved IP against the others.
 * `input` and `stored` are the request's object and oldObject as sent (any JSON; the
 * schema has checked them by now, but a 500 is no answer if it ever did not).
 * `byController`: the request comes from the nicpool controller, the one writer of auto-pools.
 */
export function validate(
  op: Op,
  input: unknown,
  stored: unknown,
  snap: Snapshot,
  byController = false,
): Decision {
  const shape = shapeProblems(input);
  if (shape.length > 0) return denied(shape);
  // The API server sends `oldObject: null` on CREATE: no stored object.
  if (stored === null) stored = undefined;
  // Stored objects passed the schema when written; one that no longer does is refused
  // rather than compared field by field with what it lacks.
  const storedShape = stored === undefined ? [] : shapeProblems(stored);
  if (storedShape.length > 0)
    return denied(storedShape.map((p) => `${p} (in the stored object, request.oldObject)`));
  const obj = input as Obj; // shapes checked just above
  const old = stored as Obj | undefined;
  const errors: string[] = [];
  const warnings: string[] = [];
  const forged = byController ? undefined : forgedAutoPool(op, obj, old);
  if (forged !== undefined) return denied([forged]);
  if (op === 'UPDATE' && old !== undefined && old.metadata.deletionTimestamp !== undefined) {
    // What an admin set, compared by value: the API server itself moves resourceVersion,
    // generation and managedFields on every write, so those never count as a change.
    const meaningful = (o: Obj): string =>
      canonicalJSON({
        spec: o.spec,
        labels: o.metadata.labels ?? {},
        annotations: o.metadata.annotations ?? {},
        ownerReferences: o.metadata.ownerReferences ?? [],
      });
    const onlyFinalizers = meaningful(old) === meaningful(obj);
    if (!onlyFinalizers)
      return denied(
        [`${obj.kind} ${obj.metadata.name} is being deleted; only its finalizers may change`],
        warnings,
      );
    const held = byController ? undefined : finalizerStillNeeded(obj, old, snap);
    if (held !== undefined) return denied([held], warnings);
    // Nothing else changed, and what others hold now must not keep a dying object alive:
    // an overlap that arose meanwhile (say, while the webhook was down) is no reason to
    // refuse its finalizers.
    return { allowed: true, warnings };
  }
  if (obj.kind === 'SpiderReservedIP') {
    const fam = obj.spec.ipVersion ?? (obj.spec.ips?.[0]?.includes(':') === true ? 6 : 4);
    const r = RangeSet.parse(fam, obj.spec.ips ?? []);
    if (!r.ok) errors.push(`spec.ips[${r.error.index}]: ${r.error.message}`);
    return errors.length > 0 ? denied(errors, warnings) : { allowed: true, warnings };
  }
  const a = addressProblems(obj.spec, errors);
  if (a === undefined) return denied(errors, warnings);
  if (op === 'UPDATE' && old !== undefined && old.kind === obj.kind) {
    if (old.spec.subnet !== obj.spec.subnet)
      errors.push(`spec.subnet: immutable (was ${old.spec.subnet})`);
    if (old.spec.ipVersion !== undefined && old.spec.ipVersion !== obj.spec.ipVersion)
      errors.push(`spec.ipVersion: immutable (was ${old.spec.ipVersion})`);
  }

  if (obj.kind === 'SpiderIPPool') {
    for (const other of snap.pools) {
      if (other.metadata.name === obj.metadata.name) continue;
      const oc = parseCIDR(other.spec.subnet);
      if (!oc.ok) continue;
      if (sameNetwork(oc.value, a.cidr)) {
        const ov = RangeSet.parse(a.family, other.spec.ips ?? []);
        if (ov.ok && a.ips.overlaps(ov.value))
          errors.push(
            `spec.ips: ${a.ips.intersect(ov.value).toStrings().join(', ')} also in SpiderIPPool ${other.metadata.name}`,
          );
      } else if (overlapCIDR(oc.value, a.cidr)) {
        errors.push(
          `spec.subnet: ${obj.spec.subnet} overlaps ${other.spec.subnet} of SpiderIPPool ${other.metadata.name}`,
        );
      }
    }
    errors.push(...promisedElsewhere(op, obj, a, snap, byController));
    const sn = owningSubnet(obj, snap);
    if (sn !== undefined) {
      const sips = RangeSet.parse(a.family, sn.spec.ips ?? []);
      if (sips.ok) {
        const outside = a.ips.subtract(sips.value);
        if (!outside.isEmpty())
          errors.push(
            `spec.ips: ${outside.toStrings().join(', ')} not in SpiderSubnet ${sn.metadata.name}'s ips`,
          );
      }
    }
    if (op === 'UPDATE') {
      // The stored status is authoritative: a spec update carries it unchanged.
      const recorded =
        old?.kind === 'SpiderIPPool'
          ? (old.status?.allocatedIPs ?? obj.status?.allocatedIPs)
          : obj.status?.allocatedIPs;
      const recs = decodeAllocatedIPs(recorded);
      if (recs.ok) {
        const lost = [...recs.value.entries()].filter(([ip]) => !a.usable.containsText(ip));
        if (lost.length > 0) {
          errors.push(
            `spec.ips/excludeIPs: ${lost.map(([ip, r]) => `${ip} (allocated to ${r.pod}${r.interface === undefined ? '' : ` ${r.interface}`})`).join(', ')} cannot be removed while allocated`,
          );
        }
      }
    }
  } else {
    for (const other of snap.subnets) {
      if (other.metadata.name === obj.metadata.name) continue;
      const oc = parseCIDR(other.spec.subnet);
      if (oc.ok && overlapCIDR(oc.value, a.cidr))
        errors.push(
          `spec.subnet: ${obj.spec.subnet} overlaps ${other.spec.subnet} of SpiderSubnet ${other.metadata.name}`,
        );
    }
    if (op === 'UPDATE') {
      const ctl = decodeControlledIPPools(
        old?.kind === 'SpiderSubnet'
          ? (old.status?.controlledIPPools ?? obj.status?.controlledIPPools)
          : obj.status?.controlledIPPools,
      );
      if (ctl.ok) {
        for (const [pool, c] of ctl.value) {
          const held = RangeSet.parse(a.family, [...c.ips]);
          if (held.ok && !a.usable.covers(held.value))
            errors.push(
              `spec.ips/excludeIPs: addresses of pool ${pool} (${held.value.subtract(a.usable).toStrings().join(', ')}) cannot be removed while the pool holds them`,
            );
        }
      }
    }
  }
  if (specFamily(obj.spec) === undefined) errors.push('spec.subnet: unknown IP family');
  return errors.length > 0 ? denied(errors, warnings) : { allowed: true, warnings };
}
