/**
 * Admission of Pods and workload pod templates (webhook.md, "Pods and workloads"). Pure:
 * the request's object and a cache snapshot in, a decision out.
 */
import {
  AnnotationErrorCode,
  formatAnnotationError,
  jobPodsAtOnce,
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
import { decodeAllocatedIPs, specAddresses, specFamily, type SpiderIPPool } from '@nicpool/crds';
import {
  nicNetwork,
  poolIndex,
  usablePools,
  type EligibilityContext,
  type NicNetwork,
} from '@nicpool/eligibility';
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

/**
 * At most this many lines per list and kind: a wildcard over thousands of pools stays a
 * readable message (and within what the API server passes on as warnings).
 */
const MAX_LINES = 20;
function capped<T extends { i: number; text: string }>(
  lines: readonly T[],
  more: (n: number) => string,
): readonly T[] {
  if (lines.length <= MAX_LINES) return lines;
  const last = lines[MAX_LINES - 1]!;
  return [...lines.slice(0, MAX_LINES - 1), { ...last, text: more(lines.length - MAX_LINES + 1) }];
}

/**
 * The NICs an `ippool` list will serve: those whose NAD (in the cache) hands IPAM to
 * nicpool; a pod without Multus networks has only eth0. When neither tells, the NIC is
 * unknown and multusName is not judged (the allocator still checks it at ADD).
 */
function ippoolNics(
  nics: readonly PodInterface[],
  namespace: string,
  snap: Snapshot,
): { name: string; network: NicNetwork | undefined }[] {
  const asking = nics.filter((n) => {
    if (n.network === undefined) return false;
    const ns = n.network.namespace ?? namespace;
    const nad = snap.nads.find((x) => x.namespace === ns && x.name === n.network!.name);
    return nad !== undefined && nadUsesNicpool(nad.config);
  });
  if (asking.length > 0)
    return asking.map((n) => ({ name: n.name, network: nicNetwork(n, namespace) }));
  const only = nics.length === 1 ? nics[0] : undefined;
  if (only !== undefined) return [{ name: only.name, network: nicNetwork(only, namespace) }];
  return [{ name: 'eth0', network: undefined }];
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

  const index = poolIndex(snap.pools);
  const ctxOf = (network: NicNetwork | undefined): EligibilityContext => ({
    namespace,
    namespaceLabels: nsLabels,
    podLabels: labels,
    // No workload and no node: the allocator resolves the workload only for subnet
    // annotations (not for ippool/ippools, the only lists judged here), and the node is not
    // known before scheduling.
    ...(network === undefined ? {} : { network }),
  });
  const reported = new Set<string>();
  const report = (into: string[], line: string): void => {
    // One line once, though `ippool` judges its list once per NIC.
    if (reported.has(line)) return;
    reported.add(line);
    into.push(line);
  };

  /**
   * Judges one NIC's list of one family through the planner's own decision (usablePools):
   * refused only when no matched pool could serve the NIC at CNI ADD; otherwise each
   * skipped pool is a warning (issue #12 item 3). `nic` prefixes the lines when one list
   * serves several NICs.
   */
  const checkPools = (
    key: string,
    path: string,
    family: 4 | 6,
    patterns: readonly string[],
    network: NicNetwork | undefined,
    nic?: string,
  ): void => {
    if (patterns.length === 0) return;
    const choice = usablePools(patterns, family, index, ctxOf(network));
    const at = (i: number): string =>
      `${where}${key}${path}.ipv${family}[${i}]: ${nic === undefined ? '' : `interface ${nic}: `}`;
    const problems = [
      ...choice.unmatched.map((i) => ({
        i,
        text: `pattern "${patterns[i] ?? ''}" matches no IPv${family} SpiderIPPool`,
      })),
      // A missing pool names its kind (what to create); every other reason is the planner's.
      ...choice.skipped.map((s) => ({
        i: s.pattern,
        text: index.byName.has(s.name)
          ? `pool "${s.name}" ${s.reason}`
          : `SpiderIPPool "${s.name}" does not exist`,
      })),
    ].sort((a, b) => a.i - b.i);
    if (choice.usable.length === 0) {
      const more = (n: number): string => `and ${n} more pools that cannot serve it`;
      for (const p of capped(problems, more)) report(errors, `${at(p.i)}${p.text}`);
      return;
    }
    const shown = choice.usable.slice(0, 3).map((n) => `"${n}"`);
    const rest = choice.usable.length - shown.length;
    const instead = `; skipped (usable: ${shown.join(', ')}${rest > 0 ? ` and ${rest} more` : ''})`;
    const more = (n: number): string => `and ${n} more pools`;
    for (const p of capped(problems, more)) report(warnings, `${at(p.i)}${p.text}${instead}`);
    const short: { i: number; text: string }[] = [];
    for (const name of choice.usable) {
      const free = freeCount(index.byName.get(name)!);
      const i = choice.patternOf.get(name) ?? 0;
      if (free !== undefined && free <= 0n)
        short.push({ i, text: `pool "${name}" has no free address` });
      else if (free !== undefined && free < BigInt(tpl.replicas))
        short.push({
          i,
          text: `pool "${name}" has ${free} free addresses for ${tpl.replicas} replicas`,
        });
    }
    const moreShort = (n: number): string => `and ${n} more pools with too few free addresses`;
    for (const p of capped(short, moreShort)) report(warnings, `${at(p.i)}${p.text}`);
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
        // Item i serves the NIC it names, or (unnamed form) the pod's i-th NIC: the planner
        // plans every listed NIC, each against the NAD it comes from.
        const nic =
          item.interface !== undefined ? nics.find((n) => n.name === item.interface) : nics[i];
        const network = nic === undefined ? undefined : nicNetwork(nic, namespace);
        checkPools(PodAnnotation.ippools, `[${i}]`, 4, item.ipv4, network);
        checkPools(PodAnnotation.ippools, `[${i}]`, 6, item.ipv6, network);
      });
      listedNics =
        items.value[0]?.interface !== undefined ? items.value.map((i) => i.interface!) : undefined;
    }
  } else if (ippoolText !== undefined) {
    const p = parseIPPool(ippoolText);
    if (p.ok) {
      // `ippool` serves every NIC that asks nicpool for an address, each at its own ADD.
      const targets = ippoolNics(nics, namespace, snap);
      for (const t of targets) {
        const nic = targets.length > 1 ? t.name : undefined;
        checkPools(PodAnnotation.ippool, '', 4, p.value.ipv4, t.network, nic);
        checkPools(PodAnnotation.ippool, '', 6, p.value.ipv6, t.network, nic);
      }
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
