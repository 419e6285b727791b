import { err, ok, type Result } from '@nicpool/result';
import { AnnotationErrorCode as Code, type AnnotationError } from './errors.ts';
import { NamespaceAnnotation, PodAnnotation } from './keys.ts';
import { podInterfaces } from './multus.ts';
import {
  firstSubnet,
  parseIPPool,
  parseIPPools,
  parseNamespaceDefaultPools,
  parseSubnet,
  parseSubnets,
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
 * Decides which pools or subnets serve one NIC of a pod. The first level that applies wins
 * and levels never merge; an invalid annotation at a level is an error, not a fall-through.
 * Pure: the caller passes the pod's and namespace's annotations and the default pools.
 */
export function resolveSelection(input: ResolveInput): Resolved {
  const pod = input.podAnnotations;
  const ifName = input.interface;

  // 1. subnets / subnet
  const subnets = pod[PodAnnotation.subnets];
  if (subnets !== undefined) {
    const p = parseSubnets(subnets);
    if (!p.ok) return p;
    const item = p.value.find((i) => i.interface === ifName);
    if (item === undefined)
      return notListed(
        PodAnnotation.subnets,
        ifName,
        p.value.map((i) => i.interface),
      );
    return ok(fromSubnetItem('subnets', item));
  }
  const subnet = pod[PodAnnotation.subnet];
  if (subnet !== undefined) {
    const p = parseSubnet(subnet);
    if (!p.ok) return p;
    if (p.value.interface !== ifName)
      return notListed(PodAnnotation.subnet, ifName, [p.value.interface]);
    return ok(fromSubnetItem('subnet', p.value));
  }

  // 2. ippools
  const ippools = pod[PodAnnotation.ippools];
  if (ippools !== undefined) {
    const p = parseIPPools(ippools);
    if (!p.ok) return p;
    const namedForm = p.value[0]?.interface !== undefined;
    let item;
    if (namedForm) {
      item = p.value.find((i) => i.interface === ifName);
      if (item === undefined) {
        return notListed(
          PodAnnotation.ippools,
          ifName,
          p.value.map((i) => i.interface ?? ''),
        );
      }
    } else {
      // Unnamed form: item i is the pod's i-th interface in Multus's order.
      const nics = podInterfaces(pod);
      if (!nics.ok) return nics;
      const nic = nics.value.find((n) => n.name === ifName);
      item = nic === undefined ? undefined : p.value[nic.index];
      if (item === undefined) {
        return err([
          {
            key: PodAnnotation.ippools,
            path: '',
            code: Code.interfaceNotListed,
            message: `interface ${JSON.stringify(ifName)} has no item in ${PodAnnotation.ippools} (its ${p.value.length} unnamed items serve ${nics.value
              .slice(0, p.value.length)
              .map((n) => n.name)
              .join(', ')})`,
          },
        ]);
      }
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

  // 3. ippool
  const ippool = pod[PodAnnotation.ippool];
  if (ippool !== undefined) {
    const p = parseIPPool(ippool);
    if (!p.ok) return p;
    return ok({
      kind: 'pools',
      source: 'ippool',
      interface: ifName,
      ipv4: p.value.ipv4,
      ipv6: p.value.ipv6,
      cleangateway: p.value.cleangateway,
    });
  }

  // 4. namespace defaults
  const ns = input.namespaceAnnotations;
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
    if (ipv4.length > 0 || ipv6.length > 0) {
      return ok({
        kind: 'pools',
        source: 'namespace',
        interface: ifName,
        ipv4,
        ipv6,
        cleangateway: false,
      });
    }
  }

  // 5. netconf defaults
  const nc = input.netconfDefaults;
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
  const defaults = input.clusterDefaultPools ?? [];
  if (defaults.length > 0) {
    return ok({
      kind: 'pools',
      source: 'cluster-default',
      interface: ifName,
      ipv4: defaults.filter((p) => p.ipVersion === 4).map((p) => p.name),
      ipv6: defaults.filter((p) => p.ipVersion === 6).map((p) => p.name),
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
