/**
 * Pure planning of an ADD: which NICs to serve and, per NIC and family, which pools are
 * candidates, in order, with the reason every other pool was dropped (allocator.md, ADD
 * steps 3–4). No I/O: the caller passes snapshots of the pod, namespace, node and pools.
 */
import {
  formatAnnotationError,
  isAutoPoolOf,
  parseDefaultRouteNic,
  parseRoutes,
  podInterfaces,
  PodAnnotation,
  parseSelection,
  selectionFor,
  type AnnotationError,
  type ApplicationRef,
  type PodInterface,
  type Route,
} from '@nicpool/annotations';
import { specFamily, type SpiderIPPool } from '@nicpool/crds';
import {
  nicNetwork,
  poolIndex,
  poolProblem,
  usablePools,
  type EligibilityContext,
} from '@nicpool/eligibility';
import type { IPFamily } from '@nicpool/ip';
import { err, ok, type Result } from '@nicpool/result';
import { AllocatorErrorCode as Code } from '@nicpool/wire';

export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface PlanInput {
  readonly pod: PodView;
  readonly namespace: {
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
  };
  readonly node: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  /** The NIC of this CNI call. */
  readonly ifName: string;
  readonly netconf: {
    readonly defaultIPv4IPPool: readonly string[];
    readonly defaultIPv6IPPool: readonly string[];
    readonly cleanGateway: boolean;
  };
  readonly pools: readonly SpiderIPPool[];
  /**
   * The workload that owns the pod (Deployment, StatefulSet, …), when it has one: subnet
   * annotations select that workload's auto-pools.
   */
  readonly application?: ApplicationRef;
}

/** Candidate pools of one family of one NIC, in the order to try them. */
export interface FamilyPlan {
  readonly family: IPFamily;
  readonly pools: readonly string[];
}

export interface NicPlan {
  readonly ifName: string;
  readonly families: readonly FamilyPlan[];
  readonly cleanGateway: boolean;
  readonly defaultRoute: boolean;
  /** `ipam.spidernet.io/routes` of the pod; each is attached to the NIC whose subnet holds its gw. */
  readonly extraRoutes: readonly Route[];
  /** Served by SpiderSubnet auto-pools: a full pool means "not grown yet", not "exhausted". */
  readonly auto: boolean;
}

export interface PlanError {
  readonly code: (typeof Code)[keyof typeof Code];
  readonly message: string;
}

/**
 * What the shared eligibility decision needs to know about this call and one of the pod's
 * NICs: everything {@link poolProblem} checks, the node included.
 */
function eligibility(input: PlanInput, nic: PodInterface | undefined): EligibilityContext {
  return {
    namespace: input.pod.namespace,
    namespaceLabels: input.namespace.labels,
    podLabels: input.pod.labels,
    ...(input.application === undefined ? {} : { application: input.application }),
    // A NIC the Multus annotations do not name comes from the cluster network.
    network: nic === undefined ? { nad: undefined } : nicNetwork(nic, input.pod.namespace),
    node: input.node,
  };
}

function annotationError(errors: readonly AnnotationError[]): PlanError {
  const code = errors.some((e) => e.code === 'NO_POOL') ? Code.noPool : Code.invalidAnnotation;
  return { code, message: errors.map(formatAnnotationError).join('; ') };
}

/**
 * Plans an ADD. With `ippools` every listed NIC is planned at once (the first ADD
 * allocates them all); otherwise only the NIC of this call.
 */
export function planAdd(input: PlanInput): Result<NicPlan[], PlanError> {
  const annotations = input.pod.annotations;
  const nicsR = podInterfaces(annotations);
  if (!nicsR.ok) return err(annotationError(nicsR.error));
  const nics = nicsR.value;
  const index = poolIndex(input.pools);

  let defaultNic = 'eth0';
  const drn = annotations[PodAnnotation.defaultRouteNic];
  if (drn !== undefined) {
    const r = parseDefaultRouteNic(drn);
    if (!r.ok) return err(annotationError(r.error));
    defaultNic = r.value;
  }
  let extraRoutes: Route[] = [];
  const routesText = annotations[PodAnnotation.routes];
  if (routesText !== undefined) {
    const r = parseRoutes(routesText);
    if (!r.ok) return err(annotationError(r.error));
    extraRoutes = r.value;
  }

  const clusterDefaultPools = input.pools
    .filter((p) => p.spec.default === true)
    .flatMap((p) => {
      const f = specFamily(p.spec);
      return f === undefined ? [] : [{ name: p.metadata.name, ipVersion: f }];
    });

  // Parsed once for every NIC planned: an ippools list can name thousands of them.
  const parsed = parseSelection(annotations, input.namespace.annotations, nics);
  if (!parsed.ok) return err(annotationError(parsed.error));
  const selection = parsed.value;
  // Which NICs: the ippools list when it is the level in force, else this call's NIC.
  let targets = [input.ifName];
  const first = selectionFor(selection, input.ifName, {
    netconfDefaults: {
      ipv4: input.netconf.defaultIPv4IPPool,
      ipv6: input.netconf.defaultIPv6IPPool,
    },
    clusterDefaultPools,
  });
  if (!first.ok) return err(annotationError(first.error));
  if (first.value.kind === 'subnet') {
    const sel = first.value;
    const key = sel.source === 'subnets' ? PodAnnotation.subnets : PodAnnotation.subnet;
    const app = input.application;
    if (app === undefined)
      return err({
        code: Code.invalidAnnotation,
        message: `${key}: pod ${input.pod.namespace}/${input.pod.name} has no owning workload; SpiderSubnet auto-pools are made for Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs`,
      });
    const nic = nics.find((n) => n.name === input.ifName);
    const families: FamilyPlan[] = [];
    for (const [family, subnet] of [
      [4, sel.ipv4Subnet],
      [6, sel.ipv6Subnet],
    ] as const) {
      if (subnet === undefined) continue;
      const mine = input.pools.filter((p) =>
        isAutoPoolOf(p.metadata.labels, app, input.ifName, family),
      );
      const what = `the IPv${family} auto-pool of ${app.kind} ${app.namespace}/${app.name} for ${input.ifName} (from SpiderSubnet ${subnet})`;
      if (mine.length === 0)
        return err({
          code: Code.autoPoolPending,
          message: `${what} does not exist yet; the nicpool controller creates it (see the workload's events if this persists)`,
        });
      const ctx = eligibility(input, nic);
      const kept: string[] = [];
      const dropped: string[] = [];
      for (const p of mine) {
        const why = poolProblem(p, family, ctx);
        if (why === undefined) kept.push(p.metadata.name);
        else dropped.push(`pool "${p.metadata.name}" ${why}`);
      }
      if (kept.length === 0)
        return err({
          code: Code.autoPoolPending,
          message: `${what} cannot serve it yet: ${dropped.join('; ')}`,
        });
      families.push({ family, pools: kept });
    }
    return ok([
      {
        ifName: input.ifName,
        families,
        cleanGateway: input.netconf.cleanGateway,
        defaultRoute: input.ifName === defaultNic,
        extraRoutes,
        auto: true,
      },
    ]);
  }
  if (selection.level === 'ippools') {
    // The pod's NICs the list serves, in the pod's order, this call's first.
    const served = new Set(selection.interfaces);
    const listed = nics.map((n) => n.name).filter((n) => served.has(n) && n !== input.ifName);
    targets = [input.ifName, ...listed];
  }
  // The first NIC of a name is the one the name selects.
  const nicByName = new Map<string, PodInterface>();
  for (const n of nics) if (!nicByName.has(n.name)) nicByName.set(n.name, n);

  const plans: NicPlan[] = [];
  for (const ifName of targets) {
    const sel =
      ifName === input.ifName ? first : selectionFor(selection, ifName, { clusterDefaultPools });
    if (!sel.ok) return err(annotationError(sel.error));
    if (sel.value.kind !== 'pools') continue;
    const nic = nicByName.get(ifName);
    const families: FamilyPlan[] = [];
    for (const [family, patterns] of [
      [4, sel.value.ipv4],
      [6, sel.value.ipv6],
    ] as const) {
      if (patterns.length === 0) continue;
      const choice = usablePools(patterns, family, index, eligibility(input, nic));
      const kept = choice.usable;
      const dropped = choice.skipped.map((s) => `pool "${s.name}" ${s.reason}`);
      if (kept.length === 0) {
        const wanted = patterns.join(', ');
        const detail =
          dropped.length > 0 ? dropped.join('; ') : `no IPv${family} pool matches ${wanted}`;
        return err({
          code: Code.noAvailablePool,
          message: `no IPv${family} pool can serve ${ifName} of pod ${input.pod.namespace}/${input.pod.name} (from ${sel.value.source}: ${wanted}): ${detail}`,
        });
      }
      families.push({ family, pools: kept });
    }
    plans.push({
      ifName,
      families,
      cleanGateway:
        sel.value.cleangateway || (ifName === input.ifName && input.netconf.cleanGateway),
      defaultRoute: ifName === defaultNic,
      extraRoutes,
      auto: false,
    });
  }
  return ok(plans);
}
