import { parseCIDR, parseIP } from '@nicpool/ip';
import { err, ok, type Result } from '@nicpool/result';
import { AnnotationErrorCode as Code, type AnnotationError } from './errors.ts';
import { NamespaceAnnotation, PodAnnotation } from './keys.ts';
import {
  hasWildcard,
  interfaceNameProblem,
  objectNameProblem,
  poolPatternProblem,
} from './names.ts';
import { describe, join, Reader } from './reader.ts';

/** Pools of one NIC, per family, in the order the user wrote (patterns allowed). */
export interface PoolLists {
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

/** `ipam.spidernet.io/ippool`: pools for the NIC of the current CNI call. */
export interface IPPoolAnnotation extends PoolLists {
  readonly cleangateway: boolean;
}

/** One item of `ipam.spidernet.io/ippools`. `interface` is absent in the unnamed form. */
export interface IPPoolsItem extends PoolLists {
  readonly interface?: string;
  readonly cleangateway: boolean;
}

/**
 * One item of `ipam.spidernet.io/subnet(s)`. Lists are kept as written; only the first
 * name of each family counts (see {@link firstSubnet}).
 */
export interface SubnetItem {
  readonly interface: string;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

/** `ipam.spidernet.io/ippool-ip-number`: `"N"` (fixed) or `"+N"` (replicas + N). */
export type IPNumber =
  | { readonly kind: 'fixed'; readonly count: number }
  | { readonly kind: 'relative'; readonly extra: number };

/** The documented default of `ippool-ip-number`, applied by controller and allocator alike. */
export const DEFAULT_IP_NUMBER: IPNumber = { kind: 'relative', extra: 1 };

/** An extra route from `ipam.spidernet.io/routes`. */
export interface Route {
  readonly dst: string;
  readonly gw: string;
}

type Parsed<T> = Result<T, AnnotationError[]>;

const IPPOOL_FIELDS = ['ipv4', 'ipv6', 'cleangateway'] as const;
const IPPOOLS_FIELDS = ['interface', 'ipv4', 'ipv6', 'cleangateway'] as const;
const SUBNET_FIELDS = ['interface', 'ipv4', 'ipv6'] as const;
const ROUTE_FIELDS = ['dst', 'gw'] as const;

/** Upper bound of `ippool-ip-number`; far above any pool a node could hold. */
export const MAX_IP_NUMBER = 65536;

function done<T>(r: Reader, value: T): Parsed<T> {
  return r.errors.length === 0 ? ok(value) : err(r.errors);
}

/**
 * Checks a list of pool names or patterns; duplicates are reported. An `undefined` entry
 * (an item that was not a string, already reported) keeps the later items' indices.
 */
function checkPools(r: Reader, list: readonly (string | undefined)[], path: string): void {
  const seen = new Set<string>();
  list.forEach((name, i) => {
    if (name === undefined) return;
    const p = `${path}[${i}]`;
    const problem = poolPatternProblem(name);
    if (problem !== undefined) {
      r.fail(p, Code.invalidPoolName, `pool name ${JSON.stringify(name)} ${problem}`);
    } else if (seen.has(name)) {
      r.fail(p, Code.duplicatePool, `pool ${JSON.stringify(name)} is listed twice`);
    }
    seen.add(name);
  });
}

function checkInterface(r: Reader, name: string, path: string): void {
  const problem = interfaceNameProblem(name);
  if (problem !== undefined) {
    r.fail(path, Code.invalidInterface, `interface name ${JSON.stringify(name)} ${problem}`);
  }
}

/** Reads `ipv4`/`ipv6`; "no pool named" is not reported on top of an unknown field. */
function readPoolLists(
  r: Reader,
  obj: Record<string, unknown>,
  path: string,
  unknownFields: number,
): PoolLists | undefined {
  const ipv4 = r.stringList(obj, 'ipv4', path);
  const ipv6 = r.stringList(obj, 'ipv6', path);
  if (ipv4 !== undefined) checkPools(r, ipv4, join(path, 'ipv4'));
  if (ipv6 !== undefined) checkPools(r, ipv6, join(path, 'ipv6'));
  if (ipv4 === undefined || ipv6 === undefined) return undefined;
  if (ipv4.length === 0 && ipv6.length === 0 && unknownFields === 0) {
    r.fail(path, Code.noFamily, 'no pool is named (give `ipv4`, `ipv6` or both)');
  }
  return { ipv4, ipv6 };
}

/** Parses `ipam.spidernet.io/ippool`. */
export function parseIPPool(value: string): Parsed<IPPoolAnnotation> {
  const r = new Reader(PodAnnotation.ippool);
  const j = r.parseJSON(value);
  if (!j.ok) return err(r.errors);
  if (!r.isObject(j.value, '', 'an object like {"ipv4":["pool"]}')) return err(r.errors);
  const unknown = r.checkFields(j.value, IPPOOL_FIELDS, '');
  const lists = readPoolLists(r, j.value, '', unknown);
  const cleangateway = r.optionalBoolean(j.value, 'cleangateway', '');
  if (lists === undefined || cleangateway === null) return err(r.errors);
  return done(r, { ...lists, cleangateway });
}

/** Parses `ipam.spidernet.io/ippools` (per-NIC pools). */
export function parseIPPools(value: string): Parsed<IPPoolsItem[]> {
  const r = new Reader(PodAnnotation.ippools);
  const j = r.parseJSON(value);
  if (!j.ok) return err(r.errors);
  if (!r.isArray(j.value, '', 'an array of items like {"interface":"eth0","ipv4":["pool"]}')) {
    return err(r.errors);
  }
  if (j.value.length === 0) {
    r.fail('', Code.emptyList, 'the list is empty');
    return err(r.errors);
  }
  const items: IPPoolsItem[] = [];
  const named: number[] = [];
  const seenIf = new Map<string, number>();
  j.value.forEach((raw, i) => {
    const path = `[${i}]`;
    if (!r.isObject(raw, path)) return;
    const unknown = r.checkFields(raw, IPPOOLS_FIELDS, path);
    const ifName = r.optionalString(raw, 'interface', path);
    if (typeof ifName === 'string') {
      named.push(i);
      checkInterface(r, ifName, `${path}.interface`);
      const first = seenIf.get(ifName);
      if (first !== undefined) {
        r.fail(
          `${path}.interface`,
          Code.duplicateInterface,
          `interface ${JSON.stringify(ifName)} is also given in item ${first}`,
        );
      } else seenIf.set(ifName, i);
    }
    const lists = readPoolLists(r, raw, path, unknown);
    const cleangateway = r.optionalBoolean(raw, 'cleangateway', path);
    if (lists === undefined || cleangateway === null || ifName === null) return;
    items.push(
      ifName === undefined
        ? { ...lists, cleangateway }
        : { interface: ifName, ...lists, cleangateway },
    );
  });
  if (named.length > 0 && named.length < j.value.length) {
    const missing = j.value.findIndex((_, i) => !named.includes(i));
    r.fail(
      `[${missing}]`,
      Code.mixedInterface,
      '`interface` is missing (set `interface` on every item or on none)',
    );
  }
  return done(r, items);
}

function readSubnetItem(r: Reader, raw: unknown, path: string): SubnetItem | undefined {
  if (!r.isObject(raw, path, 'an object like {"interface":"eth0","ipv4":["subnet"]}'))
    return undefined;
  const unknown = r.checkFields(raw, SUBNET_FIELDS, path);
  const ifName = r.optionalString(raw, 'interface', path);
  if (typeof ifName === 'string') checkInterface(r, ifName, join(path, 'interface'));
  const ipv4 = r.stringList(raw, 'ipv4', path);
  const ipv6 = r.stringList(raw, 'ipv6', path);
  for (const [family, list] of [
    ['ipv4', ipv4],
    ['ipv6', ipv6],
  ] as const) {
    list?.forEach((name, i) => {
      const p = `${join(path, family)}[${i}]`;
      if (hasWildcard(name)) {
        r.fail(
          p,
          Code.wildcardNotAllowed,
          `subnet name ${JSON.stringify(name)} has a wildcard; subnets must be named exactly`,
        );
        return;
      }
      const problem = objectNameProblem(name);
      if (problem !== undefined)
        r.fail(p, Code.invalidSubnetName, `subnet name ${JSON.stringify(name)} ${problem}`);
    });
  }
  if (ipv4 === undefined || ipv6 === undefined || ifName === null) return undefined;
  if (ipv4.length === 0 && ipv6.length === 0 && unknown === 0) {
    r.fail(path, Code.noFamily, 'no subnet is named (give `ipv4`, `ipv6` or both)');
  }
  return { interface: ifName ?? 'eth0', ipv4, ipv6 };
}

/** Parses `ipam.spidernet.io/subnet` (single NIC; `interface` defaults to `eth0`). */
export function parseSubnet(value: string): Parsed<SubnetItem> {
  const r = new Reader(PodAnnotation.subnet);
  const j = r.parseJSON(value);
  if (!j.ok) return err(r.errors);
  const item = readSubnetItem(r, j.value, '');
  return item === undefined ? err(r.errors) : done(r, item);
}

/** Parses `ipam.spidernet.io/subnets` (per-NIC subnets). */
export function parseSubnets(value: string): Parsed<SubnetItem[]> {
  const r = new Reader(PodAnnotation.subnets);
  const j = r.parseJSON(value);
  if (!j.ok) return err(r.errors);
  if (!r.isArray(j.value, '', 'an array of items like {"interface":"eth0","ipv4":["subnet"]}')) {
    return err(r.errors);
  }
  if (j.value.length === 0) {
    r.fail('', Code.emptyList, 'the list is empty');
    return err(r.errors);
  }
  const items: SubnetItem[] = [];
  const seenIf = new Map<string, number>();
  const seenSubnet = new Map<string, string>();
  j.value.forEach((raw, i) => {
    const item = readSubnetItem(r, raw, `[${i}]`);
    if (item === undefined) return;
    items.push(item);
    const first = seenIf.get(item.interface);
    if (first !== undefined) {
      r.fail(
        `[${i}].interface`,
        Code.duplicateInterface,
        `interface ${JSON.stringify(item.interface)} is also given in item ${first}`,
      );
    } else seenIf.set(item.interface, i);
    for (const family of ['ipv4', 'ipv6'] as const) {
      const name = item[family][0];
      if (name === undefined) continue;
      const at = seenSubnet.get(name);
      if (at !== undefined) {
        r.fail(
          `[${i}].${family}[0]`,
          Code.duplicateSubnet,
          `subnet ${JSON.stringify(name)} is already used by ${at}; each NIC needs its own subnet`,
        );
      } else seenSubnet.set(name, `item ${i}`);
    }
  });
  return done(r, items);
}

/** The subnet that counts for one family of an item: the first one written. */
export function firstSubnet(item: SubnetItem, family: 4 | 6): string | undefined {
  return (family === 4 ? item.ipv4 : item.ipv6)[0];
}

/** Parses `ipam.spidernet.io/ippool-ip-number` (`"N"` fixed, `"+N"` replicas + N). */
export function parseIPNumber(value: string): Parsed<IPNumber> {
  const r = new Reader(PodAnnotation.ippoolIPNumber);
  const m = /^(\+?)(0|[1-9][0-9]{0,5})$/.exec(value);
  if (m === null) {
    r.fail(
      '',
      Code.invalidIPNumber,
      `${JSON.stringify(value)} is not "N" (a fixed size) or "+N" (replicas plus N)`,
    );
    return err(r.errors);
  }
  const n = Number(m[2]);
  if (n > MAX_IP_NUMBER) {
    r.fail('', Code.invalidIPNumber, `${value} is more than ${MAX_IP_NUMBER} addresses`);
    return err(r.errors);
  }
  if (m[1] === '') {
    if (n === 0) {
      r.fail(
        '',
        Code.invalidIPNumber,
        'a fixed pool size of 0 can hold no pod; use at least 1 or "+N"',
      );
      return err(r.errors);
    }
    return ok({ kind: 'fixed', count: n });
  }
  return ok({ kind: 'relative', extra: n });
}

const TRUE = ['1', 't', 'T', 'true', 'TRUE', 'True'];
const FALSE = ['0', 'f', 'F', 'false', 'FALSE', 'False'];

/** Parses `ipam.spidernet.io/ippool-reclaim` (the spellings Go's strconv.ParseBool takes). */
export function parseReclaim(value: string): Parsed<boolean> {
  if (TRUE.includes(value)) return ok(true);
  if (FALSE.includes(value)) return ok(false);
  const r = new Reader(PodAnnotation.ippoolReclaim);
  r.fail('', Code.invalidBoolean, `${JSON.stringify(value)} is not "true" or "false"`);
  return err(r.errors);
}

/** Parses `ipam.spidernet.io/routes`. */
export function parseRoutes(value: string): Parsed<Route[]> {
  const r = new Reader(PodAnnotation.routes);
  const j = r.parseJSON(value);
  if (!j.ok) return err(r.errors);
  if (!r.isArray(j.value, '', 'an array of routes like {"dst":"10.20.0.0/16","gw":"10.6.0.254"}')) {
    return err(r.errors);
  }
  const routes: Route[] = [];
  const seenDst = new Map<string, number>();
  j.value.forEach((raw, i) => {
    const path = `[${i}]`;
    if (!r.isObject(raw, path)) return;
    r.checkFields(raw, ROUTE_FIELDS, path);
    const dst = r.optionalString(raw, 'dst', path);
    const gw = r.optionalString(raw, 'gw', path);
    if (dst === undefined) r.fail(path, Code.missingField, 'field `dst` is missing');
    if (gw === undefined) r.fail(path, Code.missingField, 'field `gw` is missing');
    if (typeof dst !== 'string' || typeof gw !== 'string') return;
    const c = parseCIDR(dst);
    const g = parseIP(gw);
    if (!c.ok) {
      r.fail(`${path}.dst`, Code.invalidRoute, `${JSON.stringify(dst)} is not a CIDR`);
    } else if (!c.value.canonical) {
      r.fail(`${path}.dst`, Code.invalidRoute, `${JSON.stringify(dst)} has host bits set`);
    } else if (c.value.prefix === 0) {
      r.fail(
        `${path}.dst`,
        Code.defaultRoute,
        `${JSON.stringify(dst)} is a default route; choose its NIC with ${PodAnnotation.defaultRouteNic}`,
      );
    }
    if (!g.ok)
      r.fail(`${path}.gw`, Code.invalidRoute, `${JSON.stringify(gw)} is not an IP address`);
    if (c.ok && g.ok && c.value.family !== g.value.family) {
      r.fail(path, Code.invalidRoute, `dst is IPv${c.value.family} but gw is IPv${g.value.family}`);
    }
    if (c.ok) {
      const key = `${c.value.family}/${c.value.network}/${c.value.prefix}`;
      const first = seenDst.get(key);
      if (first !== undefined) {
        r.fail(`${path}.dst`, Code.duplicateRoute, `dst ${dst} is also routed by item ${first}`);
      } else seenDst.set(key, i);
    }
    routes.push({ dst, gw });
  });
  return done(r, routes);
}

/** Parses `ipam.spidernet.io/default-route-nic` (a plain interface name). */
export function parseDefaultRouteNic(value: string): Parsed<string> {
  const r = new Reader(PodAnnotation.defaultRouteNic);
  const problem = interfaceNameProblem(value);
  if (problem !== undefined) {
    r.fail('', Code.invalidInterface, `interface name ${JSON.stringify(value)} ${problem}`);
    return err(r.errors);
  }
  return ok(value);
}

/** Parses a namespace's `default-ipv4-ippool` / `default-ipv6-ippool` (array of pool names). */
export function parseNamespaceDefaultPools(
  key: (typeof NamespaceAnnotation)[keyof typeof NamespaceAnnotation],
  value: string,
): Parsed<string[]> {
  const r = new Reader(key);
  const j = r.parseJSON(value);
  if (!j.ok) return err(r.errors);
  if (!r.isArray(j.value, '', 'an array of pool names like ["pool-a","pool-b*"]'))
    return err(r.errors);
  const items = j.value.map((v, i) => {
    if (typeof v === 'string') return v;
    r.fail(`[${i}]`, Code.wrongType, `expected a pool name, got ${describe(v)}`);
    return undefined;
  });
  checkPools(r, items, '');
  return done(
    r,
    items.filter((v) => v !== undefined),
  );
}

/** The netconf fields (`ipam.…` of a NetworkAttachmentDefinition) that name default pools. */
export const NetconfDefaultPoolField = {
  ipv4: 'ipam.default_ipv4_ippool',
  ipv6: 'ipam.default_ipv6_ippool',
} as const;

/**
 * Checks a netconf's default pools with the rule the annotations follow
 * ({@link poolPatternProblem}: a pool name, or a pattern with at most 8 `*`). The CNI shim
 * calls it when it parses the netconf and the allocator when a request arrives, so a NAD
 * author (or any client of the socket) cannot hand the planner a pattern the webhook
 * would refuse (review finding #1). Returns one line per bad entry, naming the field and
 * index (`ipam.default_ipv4_ippool[1]: …`); empty when every entry is fine.
 */
export function validateNetconfDefaultPools(lists: PoolLists): string[] {
  const problems: string[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    lists[family].forEach((name, i) => {
      const problem = poolPatternProblem(name);
      if (problem !== undefined)
        problems.push(
          `${NetconfDefaultPoolField[family]}[${i}]: pool name ${JSON.stringify(name)} ${problem}`,
        );
    });
  }
  return problems;
}

// ---- formatters: compact JSON (or plain strings) that the parsers read back unchanged ----

function poolListsJSON(l: PoolLists): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (l.ipv4.length > 0) o['ipv4'] = l.ipv4;
  if (l.ipv6.length > 0) o['ipv6'] = l.ipv6;
  return o;
}

export function formatIPPool(v: IPPoolAnnotation): string {
  return JSON.stringify({ ...poolListsJSON(v), ...(v.cleangateway ? { cleangateway: true } : {}) });
}

export function formatIPPools(items: readonly IPPoolsItem[]): string {
  return JSON.stringify(
    items.map((i) => ({
      ...(i.interface === undefined ? {} : { interface: i.interface }),
      ...poolListsJSON(i),
      ...(i.cleangateway ? { cleangateway: true } : {}),
    })),
  );
}

function subnetJSON(i: SubnetItem): Record<string, unknown> {
  return { interface: i.interface, ...poolListsJSON(i) };
}

export function formatSubnet(item: SubnetItem): string {
  return JSON.stringify(subnetJSON(item));
}

export function formatSubnets(items: readonly SubnetItem[]): string {
  return JSON.stringify(items.map(subnetJSON));
}

export function formatIPNumber(n: IPNumber): string {
  return n.kind === 'fixed' ? String(n.count) : `+${n.extra}`;
}

export function formatReclaim(v: boolean): string {
  return v ? 'true' : 'false';
}

export function formatRoutes(routes: readonly Route[]): string {
  return JSON.stringify(routes.map((r) => ({ dst: r.dst, gw: r.gw })));
}

export function formatNamespaceDefaultPools(names: readonly string[]): string {
  return JSON.stringify(names);
}
