import { err, ok, type Result } from '@nicpool/result';
import { AnnotationErrorCode as Code, type AnnotationError } from './errors.ts';
import { NamespaceAnnotation, PodAnnotation } from './keys.ts';
import { podInterfaces, type PodInterface } from './multus.ts';
import {
  firstSubnet,
  parseIPPool,
  parseIPPools,
  parseNamespaceDefaultPools,
  parseSubnet,
  parseSubnets,
  type IPPoolAnnotation,
  type IPPoolsItem,
  type PoolLists,
  type SubnetItem,
} from './pod.ts';

/** Which precedence level chose the pools (annotations.md, "Precedence"). */
export type SelectionSource =
  'subnets' | 'subnet' | 'ippools' | 'ippool' | 'namespace' | 'netconf' | 'cluster-default';

/** The answer for one NIC: named subnets (→ the workload's auto-pools) or pool patterns. */
export type Selection =
  | {
      readonly kind: 'subnet';
      readonly source: 'subnets' | 'subnet';
      readonly interface: string;
      readonly ipv4Subnet?: string;
      readonly ipv6Subnet?: string;
    }
  | {
      readonly kind: 'pools';
      readonly source: Exclude<SelectionSource, 'subnets' | 'subnet'>;
      readonly interface: string;
      readonly ipv4: readonly string[];
      readonly ipv6: readonly string[];
      readonly cleangateway: boolean;
    };

export interface ResolveInput {
  readonly podAnnotations: Readonly<Record<string, string>>;
  readonly namespaceAnnotations: Readonly<Record<string, string>>;
  /** The NIC of the CNI call (`eth0`, `net1`, …). */
  readonly interface: string;
  /** The netconf's `default_ipv4_ippool` / `default_ipv6_ippool`. */
  readonly netconfDefaults?: PoolLists;
  /** Pools with `spec.default: true`, for the last level. */
  readonly clusterDefaultPools?: readonly { readonly name: string; readonly ipVersion: 4 | 6 }[];
}

/** The inputs of the last two levels, which come from the call rather than annotations. */
export type SelectionDefaults = Pick<ResolveInput, 'netconfDefaults' | 'clusterDefaultPools'>;

/**
 * The selection annotations of a pod and its namespace, parsed: the level in force (the
 * first that applies) and what it says. Nothing in it depends on the NIC, so planning every
 * NIC of a pod parses once ({@link parseSelection}) and picks per NIC ({@link selectionFor}):
 * parsing per NIC cost NICs × annotation size (3.7 s for a 64 KiB `ippools` naming every
 * NIC of a 64 KiB Multus networks list). `none`: no annotation applies; the call's
 * defaults decide.
 */
export type ParsedSelection =
  | {
      readonly level: 'subnets';
      readonly items: readonly SubnetItem[];
      readonly byInterface: ReadonlyMap<string, SubnetItem>;
    }
  | { readonly level: 'subnet'; readonly item: SubnetItem }
  | {
      readonly level: 'ippools';
      readonly items: readonly IPPoolsItem[];
      /** Every item names its interface; else item i serves the pod's i-th NIC. */
      readonly named: boolean;
      /** The item of each NIC it serves. */
      readonly byInterface: ReadonlyMap<string, IPPoolsItem>;
      /** The NICs served: in item order (named form) or the pod's NIC order (unnamed). */
      readonly interfaces: readonly string[];
      /** Unnamed form: the pod's first NICs, one per item (what a refusal names). */
      readonly unnamedServe: readonly string[];
    }
  | { readonly level: 'ippool'; readonly value: IPPoolAnnotation }
  | {
      readonly level: 'namespace';
      readonly ipv4: readonly string[];
      readonly ipv6: readonly string[];
    }
  | { readonly level: 'none' };

type Resolved = Result<Selection, AnnotationError[]>;

function fromSubnetItem(source: 'subnets' | 'subnet', item: SubnetItem): Selection {
  const v4 = firstSubnet(item, 4);
  const v6 = firstSubnet(item, 6);
  return {
    kind: 'subnet',
    source,
    interface: item.interface,
    ...(v4 === undefined ? {} : { ipv4Subnet: v4 }),
    ...(v6 === undefined ? {} : { ipv6Subnet: v6 }),
  };
}

function notListed(key: string, ifName: string, listed: readonly string[]): Resolved {
  return err([
    {
      key,
      path: '',
      code: Code.interfaceNotListed,
      message: `interface ${JSON.stringify(ifName)} is not listed in ${key} (it lists ${listed.map((l) => JSON.stringify(l)).join(', ') || 'none'})`,
    },
  ]);
}

/**
 * Parses the level of a pod's selection annotations that is in force (annotations.md,
 * "Precedence"): the first level present, and only it; an invalid annotation there is an
 * error for every NIC, never a fall-through. `interfaces` is `podInterfaces(podAnnotations)`
 * when the caller has it already (the unnamed `ippools` form needs the pod's NICs).
 */
export function parseSelection(
  podAnnotations: Readonly<Record<string, string>>,
  namespaceAnnotations: Readonly<Record<string, string>>,
  interfaces?: readonly PodInterface[],
): Result<ParsedSelection, AnnotationError[]> {
  const pod = podAnnotations;

  // 1. subnets / subnet
  const subnets = pod[PodAnnotation.subnets];
  if (subnets !== undefined) {
    const p = parseSubnets(subnets);
    if (!p.ok) return p;
    const byInterface = new Map<string, SubnetItem>();
    for (const i of p.value) if (!byInterface.has(i.interface)) byInterface.set(i.interface, i);
    return ok({ level: 'subnets', items: p.value, byInterface });
  }
  const subnet = pod[PodAnnotation.subnet];
  if (subnet !== undefined) {
    const p = parseSubnet(subnet);
    return p.ok ? ok({ level: 'subnet', item: p.value }) : p;
  }

  // 2. ippools
  const ippools = pod[PodAnnotation.ippools];
  if (ippools !== undefined) {
    const p = parseIPPools(ippools);
    if (!p.ok) return p;
    const items = p.value;
    const byInterface = new Map<string, IPPoolsItem>();
    if (items[0]?.interface !== undefined) {
      for (const i of items)
        if (i.interface !== undefined && !byInterface.has(i.interface))
          byInterface.set(i.interface, i);
      return ok({
        level: 'ippools',
        items,
        named: true,
        byInterface,
        interfaces: [...byInterface.keys()],
        unnamedServe: [],
      });
    }
    // Unnamed form: item i is the pod's i-th interface in Multus's order.
    let nics: readonly PodInterface[];
    if (interfaces !== undefined) nics = interfaces;
    else {
      const r = podInterfaces(pod);
      if (!r.ok) return r;
      nics = r.value;
    }
    const seen = new Set<string>();
    for (const nic of nics) {
      // The first NIC of a name is the one its name selects.
      if (seen.has(nic.name)) continue;
      seen.add(nic.name);
      const item = items[nic.index];
      if (item !== undefined) byInterface.set(nic.name, item);
    }
    return ok({
      level: 'ippools',
      items,
      named: false,
      byInterface,
      interfaces: [...byInterface.keys()],
      unnamedServe: nics.slice(0, items.length).map((n) => n.name),
    });
  }

  // 3. ippool
  const ippool = pod[PodAnnotation.ippool];
  if (ippool !== undefined) {
    const p = parseIPPool(ippool);
    return p.ok ? ok({ level: 'ippool', value: p.value }) : p;
  }

  // 4. namespace defaults
  const ns = namespaceAnnotations;
  const ns4 = ns[NamespaceAnnotation.defaultIPv4IPPool];
  const ns6 = ns[NamespaceAnnotation.defaultIPv6IPPool];
  if (ns4 !== undefined || ns6 !== undefined) {
    const errors: AnnotationError[] = [];
    const read = (
      key:
        typeof NamespaceAnnotation.defaultIPv4IPPool | typeof NamespaceAnnotation.defaultIPv6IPPool,
      v: string | undefined,
    ): string[] => {
      if (v === undefined) return [];
      const p = parseNamespaceDefaultPools(key, v);
      if (p.ok) return p.value;
      errors.push(...p.error);
      return [];
    };
    const ipv4 = read(NamespaceAnnotation.defaultIPv4IPPool, ns4);
    const ipv6 = read(NamespaceAnnotation.defaultIPv6IPPool, ns6);
    if (errors.length > 0) return err(errors);
    // Empty lists do not apply: the next level decides.
    if (ipv4.length > 0 || ipv6.length > 0) return ok({ level: 'namespace', ipv4, ipv6 });
  }
  return ok({ level: 'none' });
}

/**
 * Which pools or subnets serve NIC `ifName`, from a pod's parsed selection
 * ({@link parseSelection}) and, when no annotation applies, the call's defaults. Pure.
 */
export function selectionFor(
  parsed: ParsedSelection,
  ifName: string,
  defaults: SelectionDefaults = {},
): Resolved {
  switch (parsed.level) {
    case 'subnets': {
      const item = parsed.byInterface.get(ifName);
      return item === undefined
        ? notListed(
            PodAnnotation.subnets,
            ifName,
            parsed.items.map((i) => i.interface),
          )
        : ok(fromSubnetItem('subnets', item));
    }
    case 'subnet':
      return parsed.item.interface === ifName
        ? ok(fromSubnetItem('subnet', parsed.item))
        : notListed(PodAnnotation.subnet, ifName, [parsed.item.interface]);
    case 'ippools': {
      const item = parsed.byInterface.get(ifName);
      if (item === undefined) {
        if (parsed.named)
          return notListed(
            PodAnnotation.ippools,
            ifName,
            parsed.items.map((i) => i.interface ?? ''),
          );
        return err([
          {
            key: PodAnnotation.ippools,
            path: '',
            code: Code.interfaceNotListed,
            message: `interface ${JSON.stringify(ifName)} has no item in ${PodAnnotation.ippools} (its ${parsed.items.length} unnamed items serve ${parsed.unnamedServe.join(', ')})`,
          },
        ]);
      }
      return ok({
        kind: 'pools',
        source: 'ippools',
        interface: ifName,
        ipv4: item.ipv4,
        ipv6: item.ipv6,
        cleangateway: item.cleangateway,
      });
    }
    case 'ippool':
      return ok({
        kind: 'pools',
        source: 'ippool',
        interface: ifName,
        ipv4: parsed.value.ipv4,
        ipv6: parsed.value.ipv6,
        cleangateway: parsed.value.cleangateway,
      });
    case 'namespace':
      return ok({
        kind: 'pools',
        source: 'namespace',
        interface: ifName,
        ipv4: parsed.ipv4,
        ipv6: parsed.ipv6,
        cleangateway: false,
      });
    case 'none':
      break;
  }

  // 5. netconf defaults
  const nc = defaults.netconfDefaults;
  if (nc !== undefined && (nc.ipv4.length > 0 || nc.ipv6.length > 0)) {
    return ok({
      kind: 'pools',
      source: 'netconf',
      interface: ifName,
      ipv4: nc.ipv4,
      ipv6: nc.ipv6,
      cleangateway: false,
    });
  }

  // 6. cluster-default pools
  const clusterDefaults = defaults.clusterDefaultPools ?? [];
  if (clusterDefaults.length > 0) {
    return ok({
      kind: 'pools',
      source: 'cluster-default',
      interface: ifName,
      ipv4: clusterDefaults.filter((p) => p.ipVersion === 4).map((p) => p.name),
      ipv6: clusterDefaults.filter((p) => p.ipVersion === 6).map((p) => p.name),
      cleangateway: false,
    });
  }
  return err([
    {
      key: '',
      path: '',
      code: Code.noPool,
      message: 'no IPPool available: no pool selection rule applies',
    },
  ]);
}

/**
 * Decides which pools or subnets serve one NIC of a pod. The first level that applies wins
 * and levels never merge; an invalid annotation at a level is an error, not a fall-through.
 * Pure: the caller passes the pod's and namespace's annotations and the default pools. To
 * decide for several NICs of one pod, {@link parseSelection} once and {@link selectionFor}
 * each NIC.
 */
export function resolveSelection(input: ResolveInput): Resolved {
  const parsed = parseSelection(input.podAnnotations, input.namespaceAnnotations);
  return parsed.ok ? selectionFor(parsed.value, input.interface, input) : parsed;
}
