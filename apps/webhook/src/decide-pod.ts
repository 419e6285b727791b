/**
 * Admission of Pods and workload pod templates (webhook.md, "Pods and workloads"). Pure:
 * the request's object and a cache snapshot in, a decision out.
 */
import {
  AnnotationErrorCode,
  formatAnnotationError,
  hasWildcard,
  jobPodsAtOnce,
  matchPoolNames,
  parseIPPool,
  parseIPPools,
  parseSubnet,
  parseSubnets,
  PodAnnotation,
  podInterfaces,
  PREFIX,
  validatePodAnnotations,
  type AnnotationError,
  type PodInterface,
} from '@nicpool/annotations';
import {
  decodeAllocatedIPs,
  selectorMatches,
  specAddresses,
  specFamily,
  type SpiderIPPool,
} from '@nicpool/crds';
import type { Decision } from './decision.ts';
import type { Snapshot } from './snapshot.ts';

/** The kinds whose pod template is admitted like a Pod. */
export const WORKLOAD_KINDS = [
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
] as const;

interface Meta {
  readonly annotations?: Record<string, string>;
  readonly labels?: Record<string, string>;
  readonly ownerReferences?: readonly { readonly controller?: boolean }[];
}

/** Where a kind keeps the pod metadata, and the replicas it asks for. */
export function podTemplateOf(
  kind: string,
  obj: unknown,
): { meta: Meta; path: string; replicas: number } | undefined {
  const o = obj as {
    metadata?: Meta;
    spec?: {
      replicas?: number;
      template?: { metadata?: Meta };
      jobTemplate?: {
        spec?: { template?: { metadata?: Meta }; parallelism?: number; completions?: number };
      };
      parallelism?: number;
      completions?: number;
    };
  };
  switch (kind) {
    case 'Pod':
      return { meta: o.metadata ?? {}, path: 'metadata.annotations', replicas: 1 };
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
      return {
        meta: o.spec?.template?.metadata ?? {},
        path: 'spec.template.metadata.annotations',
        replicas: o.spec?.replicas ?? 1,
      };
    case 'DaemonSet':
      return {
        meta: o.spec?.template?.metadata ?? {},
        path: 'spec.template.metadata.annotations',
        replicas: 1,
      };
    case 'Job':
      return {
        meta: o.spec?.template?.metadata ?? {},
        path: 'spec.template.metadata.annotations',
        replicas: jobPodsAtOnce(o.spec),
      };
    case 'CronJob':
      return {
        meta: o.spec?.jobTemplate?.spec?.template?.metadata ?? {},
        path: 'spec.jobTemplate.spec.template.metadata.annotations',
        replicas: jobPodsAtOnce(o.spec?.jobTemplate?.spec),
      };
    default:
      return undefined;
  }
}

// Cached objects are replaced, never mutated, on every watch event: per-object and
// per-list memos stay correct and spare each admission re-parsing every pool.
const freeMemo = new WeakMap<SpiderIPPool, bigint | undefined>();
function freeCount(pool: SpiderIPPool): bigint | undefined {
  if (freeMemo.has(pool)) return freeMemo.get(pool);
  const addrs = specAddresses(pool.spec);
  const recs = decodeAllocatedIPs(pool.status?.allocatedIPs);
  const free = addrs.ok && recs.ok ? addrs.value.count() - BigInt(recs.value.size) : undefined;
  freeMemo.set(pool, free);
  return free;
}

interface PoolIndex {
  readonly byName: ReadonlyMap<string, SpiderIPPool>;
  /** Names per family, sorted (the order wildcard expansion uses). */
  readonly names: Readonly<Record<4 | 6, readonly string[]>>;
  readonly sets: Readonly<Record<4 | 6, ReadonlySet<string>>>;
}
const indexMemo = new WeakMap<readonly SpiderIPPool[], PoolIndex>();
function poolIndex(pools: readonly SpiderIPPool[]): PoolIndex {
  let idx = indexMemo.get(pools);
  if (idx === undefined) {
    const names: Record<4 | 6, string[]> = { 4: [], 6: [] };
    for (const p of pools) {
      const f = specFamily(p.spec);
      if (f !== undefined) names[f].push(p.metadata.name);
    }
    names[4].sort();
    names[6].sort();
    idx = {
      byName: new Map(pools.map((p) => [p.metadata.name, p])),
      names,
      sets: { 4: new Set(names[4]), 6: new Set(names[6]) },
    };
    indexMemo.set(pools, idx);
  }
  return idx;
}

/** Does this NAD hand IPAM to nicpool (`"ipam": {"type": "spiderpool"}` in any plugin)? */
export function nadUsesNicpool(config: string): boolean {
  try {
    const c = JSON.parse(config) as {
      ipam?: { type?: unknown };
      plugins?: { ipam?: { type?: unknown } }[];
    };
    return (
      c.ipam?.type === 'spiderpool' || (c.plugins ?? []).some((p) => p.ipam?.type === 'spiderpool')
    );
  } catch {
    return false;
  }
}

/**
 * Decides a Pod or workload. Only objects with an `ipam.spidernet.io/` annotation reach
 * here (matchConditions); anything else is allowed untouched.
 */
export function decidePodLike(
  kind: string,
  obj: unknown,
  namespace: string,
  snap: Snapshot,
): Decision {
  const tpl = podTemplateOf(kind, obj);
  if (tpl === undefined) return { allowed: true, warnings: [] };
  const annotations = tpl.meta.annotations ?? {};
  if (!Object.keys(annotations).some((k) => k.startsWith(PREFIX)))
    return { allowed: true, warnings: [] };
  const where = `${kind === 'Pod' ? '' : `${tpl.path}: `}`;
  const errors: string[] = [];
  const warnings: string[] = [];
  const say = (e: AnnotationError): string => `${where}${formatAnnotationError(e)}`;

  const findings = validatePodAnnotations(annotations);
  errors.push(...findings.errors.map(say));
  // The webhook knows the pod's NICs from its Multus annotations: an interface the pod will
  // not have is a mistake (webhook.md rule 4), not only a warning.
  for (const w of findings.warnings) {
    if (w.code === AnnotationErrorCode.unknownInterface) errors.push(say(w));
    else warnings.push(say(w));
  }
  if (errors.length > 0) return { allowed: false, reason: errors.join('\n'), warnings };

  const nicsR = podInterfaces(annotations);
  const nics: readonly PodInterface[] = nicsR.ok ? nicsR.value : [];
  const labels = tpl.meta.labels ?? {};
  const nsLabels = snap.namespaces.get(namespace)?.labels ?? {};
  const { byName: poolsByName, names: poolNames, sets: poolSets } = poolIndex(snap.pools);

  const checkPools = (
    key: string,
    path: string,
    family: 4 | 6,
    patterns: readonly string[],
  ): void => {
    const sameFamily = poolNames[family];
    const ofFamily = poolSets[family];
    patterns.forEach((pattern, i) => {
      const at = `${where}${key}${path}.ipv${family}[${i}]`;
      const matched = matchPoolNames([pattern], sameFamily).filter((n) => ofFamily.has(n));
      if (matched.length === 0) {
        const other = poolsByName.get(pattern);
        if (other !== undefined)
          errors.push(
            `${at}: pool "${pattern}" is IPv${specFamily(other.spec) ?? '?'}, listed under ipv${family}`,
          );
        else if (hasWildcard(pattern))
          errors.push(`${at}: pattern "${pattern}" matches no IPv${family} SpiderIPPool`);
        else errors.push(`${at}: SpiderIPPool "${pattern}" does not exist`);
        return;
      }
      for (const name of matched) {
        const p = poolsByName.get(name)!;
        const s = p.spec;
        if (p.metadata.deletionTimestamp !== undefined)
          errors.push(`${at}: pool "${name}" is being deleted`);
        else if (s.disable === true)
          errors.push(`${at}: pool "${name}" is disabled (spec.disable: true)`);
        else if (
          (s.namespaceName ?? []).length > 0
            ? !s.namespaceName!.includes(namespace)
            : !selectorMatches(s.namespaceAffinity, nsLabels)
        ) {
          errors.push(
            `${at}: pool "${name}" does not serve namespace ${namespace} (namespaceName/namespaceAffinity)`,
          );
        } else if (!selectorMatches(s.podAffinity, labels))
          errors.push(`${at}: pool "${name}" podAffinity does not match the pod labels`);
        else {
          const free = freeCount(p);
          if (free !== undefined && free <= 0n)
            warnings.push(`${at}: pool "${name}" has no free address`);
          else if (free !== undefined && free < BigInt(tpl.replicas))
            warnings.push(
              `${at}: pool "${name}" has ${free} free addresses for ${tpl.replicas} replicas`,
            );
        }
      }
    });
  };

  const subnetsText = annotations[PodAnnotation.subnets];
  const subnetText = annotations[PodAnnotation.subnet];
  const ippoolsText = annotations[PodAnnotation.ippools];
  const ippoolText = annotations[PodAnnotation.ippool];
  let listedNics: string[] | undefined;

  if (subnetsText !== undefined || subnetText !== undefined) {
    const isBarePod =
      kind === 'Pod' && !(tpl.meta.ownerReferences ?? []).some((o) => o.controller === true);
    if (isBarePod)
      errors.push(
        `${subnetsText !== undefined ? PodAnnotation.subnets : PodAnnotation.subnet}: a Pod without a controller cannot use a SpiderSubnet (auto-pools belong to a Deployment, StatefulSet, …); name pools with ${PodAnnotation.ippools} instead`,
      );
    const items =
      subnetsText !== undefined
        ? parseSubnets(subnetsText)
        : subnetText !== undefined
          ? parseSubnet(subnetText)
          : undefined;
    const list =
      items === undefined || !items.ok
        ? []
        : Array.isArray(items.value)
          ? items.value
          : [items.value];
    const key = subnetsText !== undefined ? PodAnnotation.subnets : PodAnnotation.subnet;
    list.forEach((item, i) => {
      for (const family of [4, 6] as const) {
        const name = (family === 4 ? item.ipv4 : item.ipv6)[0];
        if (name === undefined) continue;
        const sn = snap.subnets.find((s) => s.metadata.name === name);
        const at = `${where}${key}${subnetsText !== undefined ? `[${i}]` : ''}.ipv${family}[0]`;
        if (sn === undefined) errors.push(`${at}: SpiderSubnet "${name}" does not exist`);
        else if (specFamily(sn.spec) !== family)
          errors.push(
            `${at}: SpiderSubnet "${name}" is IPv${specFamily(sn.spec) ?? '?'}, listed under ipv${family}`,
          );
      }
    });
    listedNics = list.map((i) => i.interface);
  } else if (ippoolsText !== undefined) {
    const items = parseIPPools(ippoolsText);
    if (items.ok) {
      items.value.forEach((item, i) => {
        checkPools(PodAnnotation.ippools, `[${i}]`, 4, item.ipv4);
        checkPools(PodAnnotation.ippools, `[${i}]`, 6, item.ipv6);
      });
      listedNics =
        items.value[0]?.interface !== undefined ? items.value.map((i) => i.interface!) : undefined;
    }
  } else if (ippoolText !== undefined) {
    const p = parseIPPool(ippoolText);
    if (p.ok) {
      checkPools(PodAnnotation.ippool, '', 4, p.value.ipv4);
      checkPools(PodAnnotation.ippool, '', 6, p.value.ipv6);
    }
  }

  // Named form: every NIC whose NAD hands IPAM to nicpool must be listed (webhook.md rule 4).
  if (listedNics !== undefined) {
    for (const nic of nics) {
      if (nic.network === undefined || listedNics.includes(nic.name)) continue;
      const nadNs = nic.network.namespace ?? namespace;
      const nad = snap.nads.find((x) => x.namespace === nadNs && x.name === nic.network!.name);
      if (nad !== undefined && nadUsesNicpool(nad.config)) {
        const key =
          subnetsText !== undefined
            ? PodAnnotation.subnets
            : subnetText !== undefined
              ? PodAnnotation.subnet
              : PodAnnotation.ippools;
        errors.push(
          `${where}${key}: interface "${nic.name}" (NetworkAttachmentDefinition ${nadNs}/${nad.name}, IPAM spiderpool) is not listed, so it would get no address`,
        );
      }
    }
  }
  return errors.length > 0
    ? { allowed: false, reason: errors.join('\n'), warnings }
    : { allowed: true, warnings };
}
