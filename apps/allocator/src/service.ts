/**
 * ADD / DEL / CHECK orchestration (allocator.md). Pure decisions live in planner.ts and
 * pool-commit.ts, the SpiderEndpoint record in endpoint.ts; this file sequences reads and
 * the group-committed pool writes.
 */
import {
  decodeAllocatedIPs,
  type EndpointIP,
  type PoolIPAllocation,
  type SpiderIPPool,
} from '@nicpool/crds';
import {
  autoPoolApplication,
  isWorkloadKind,
  labelValueOf,
  PodAnnotation,
  validateNetconfDefaultPools,
  type ApplicationRef,
} from '@nicpool/annotations';
import type { EligibilityContext } from '@nicpool/eligibility';
import { parseIP, RangeSet, type IPFamily } from '@nicpool/ip';
import { apiStatus, RetriesExhaustedError, type RetryOptions } from '@nicpool/kube';
import {
  AllocatorErrorCode as Code,
  type AddRequest,
  type AddResponse,
  type DelRequest,
} from '@nicpool/wire';
import { AllocatorError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { answer, dropEndpoint, fill, recordEndpoint, topController } from './endpoint.ts';
import { planAdd, type NicPlan } from './planner.ts';
import { CorruptPoolError, GroupCommitter } from './pool-commit.ts';
import type { AllocatorStore, ControllerRef, PodObject } from './store.ts';

/** ReplicaSets whose controller a node remembers (a few KiB; see Service.#rsOwners). */
const RS_OWNER_CACHE = 4096;

/** What a DEL did, and did not do on purpose (for the log line of the request). */
export interface DelOutcome {
  readonly warnings: readonly string[];
  /** The pod's addresses were released and its SpiderEndpoint dropped. */
  readonly dropped?: boolean;
}

export interface ServiceOptions {
  readonly nodeName: string;
  readonly retry: RetryOptions;
  readonly maxRecordsPerPool: number;
  /** How long ADD waits for the controller to create or grow a pod's auto-pool. */
  readonly autoPoolWaitMs?: number;
}

const DEFAULT_AUTO_POOL_WAIT_MS = 10_000;

const ipOnly = (cidrAddress: string): string => cidrAddress.split('/')[0]!;

/** Records of a pool from the cache; an undecodable status counts as holding nothing here. */
function recordsOf(pool: SpiderIPPool): Map<string, PoolIPAllocation> {
  const d = decodeAllocatedIPs(pool.status?.allocatedIPs);
  return d.ok ? d.value : new Map<string, PoolIPAllocation>();
}

function isAlive(pod: PodObject): boolean {
  return (
    pod.metadata.deletionTimestamp === undefined &&
    pod.status?.phase !== 'Succeeded' &&
    pod.status?.phase !== 'Failed'
  );
}

/** Wraps API trouble into the registry's codes; AllocatorErrors pass through. */
function classify(e: unknown, what: string): AllocatorError {
  if (e instanceof AllocatorError) return e;
  if (e instanceof RetriesExhaustedError)
    return new AllocatorError(Code.retriesExhausted, `${what}: ${e.message}`, { cause: e });
  if (e instanceof CorruptPoolError)
    return new AllocatorError(Code.internal, e.message, { cause: e });
  const status = apiStatus(e);
  if (status === undefined || status >= 500 || status === 429) {
    return new AllocatorError(
      Code.apiUnavailable,
      `${what}: Kubernetes API unavailable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
      { cause: e },
    );
  }
  return new AllocatorError(
    Code.internal,
    `${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
    { cause: e },
  );
}

export class AllocatorService {
  readonly #store: AllocatorStore;
  readonly #opts: ServiceOptions;
  readonly #metrics: Metrics;
  readonly #committer: GroupCommitter;

  constructor(store: AllocatorStore, opts: ServiceOptions, metrics: Metrics) {
    this.#store = store;
    this.#opts = opts;
    this.#metrics = metrics;
    this.#committer = new GroupCommitter(
      {
        readPool: async (name, fresh) => {
          if (!fresh) {
            const cached = store.cachedPool(name);
            if (cached !== undefined) return cached;
          }
          return store.readPool(name, true);
        },
        writePoolStatus: (p, records) => store.writePoolStatus(p, records),
        cachedRecords: (p) => store.cachedRecords?.(p),
      },
      {
        retry: opts.retry,
        maxRecords: opts.maxRecordsPerPool,
        reserved: (family) => this.#reserved(family),
        onConflict: (pool) => metrics.conflicts.inc({ pool }),
        onBatch: (_pool, size) => metrics.batchSize.observe(size),
      },
    );
  }

  #reserved(family: IPFamily): RangeSet {
    let set = RangeSet.empty(family);
    for (const r of this.#store.reservedIPs()) {
      const parsed = RangeSet.parse(
        family,
        (r.spec.ips ?? []).filter(
          (x) => parseIP(x.split('-')[0]!).ok && (x.includes(':') ? 6 : 4) === family,
        ),
      );
      if (parsed.ok) set = set.union(parsed.value);
    }
    return set;
  }

  async #pod(req: { podNamespace: string; podName: string; podUID: string }): Promise<PodObject> {
    const read = (fresh: boolean): Promise<PodObject | undefined> =>
      this.#store.getPod(req.podNamespace, req.podName, fresh).catch((e: unknown) => {
        throw classify(e, `reading pod ${req.podNamespace}/${req.podName}`);
      });
    let pod = await read(false);
    // The watch may still hold a previous pod of this name: ask the API server before refusing.
    if (pod !== undefined && req.podUID !== '' && req.podUID !== pod.metadata.uid)
      pod = await read(true);
    if (pod === undefined)
      throw new AllocatorError(
        Code.podNotFound,
        `pod ${req.podNamespace}/${req.podName} not found`,
      );
    if (req.podUID !== '' && req.podUID !== pod.metadata.uid) {
      throw new AllocatorError(
        Code.podUIDMismatch,
        `pod ${req.podNamespace}/${req.podName} has UID ${pod.metadata.uid}, the request is for ${req.podUID} (a stale sandbox)`,
      );
    }
    return pod;
  }

  async add(req: AddRequest): Promise<AddResponse> {
    const end = this.#metrics.allocationDuration.startTimer();
    try {
      const r = await this.#add(req);
      this.#metrics.allocations.inc();
      return r;
    } catch (e) {
      const ae = classify(e, `ADD ${req.podNamespace}/${req.podName} ${req.ifName}`);
      this.#metrics.allocationFailures.inc();
      if (ae.code === Code.noAvailablePool || ae.code === Code.noPool)
        this.#metrics.noAvailablePool.inc();
      if (ae.code === Code.retriesExhausted) this.#metrics.retriesExhausted.inc();
      if (ae.code === Code.ipUsedOut) this.#metrics.ipUsedOut.inc();
      throw ae;
    } finally {
      end();
    }
  }

  /**
   * An auto-pool the controller has not made (or grown) yet is waited for, watch-driven
   * and bounded; then the error is retryable (CNI 11) and the runtime tries again.
   */
  async #add(req: AddRequest): Promise<AddResponse> {
    // Any socket client, not only the shim, may send these: the rule the webhook applies to
    // annotations (a name, or a pattern with a bounded number of '*') holds here too.
    // Per family, so the answer names the body field as schema errors do (and the netconf
    // field the shim took it from, which the lib's line starts with).
    const problems = [
      ...validateNetconfDefaultPools({ ipv4: req.defaultIPv4IPPool ?? [], ipv6: [] }).map(
        (p) => `/defaultIPv4IPPool: ${p}`,
      ),
      ...validateNetconfDefaultPools({ ipv4: [], ipv6: req.defaultIPv6IPPool ?? [] }).map(
        (p) => `/defaultIPv6IPPool: ${p}`,
      ),
    ];
    if (problems.length > 0)
      throw new AllocatorError(Code.badRequest, `invalid request body: ${problems.join('; ')}`);
    const deadline = Date.now() + (this.#opts.autoPoolWaitMs ?? DEFAULT_AUTO_POOL_WAIT_MS);
    let awaited: ((pool: SpiderIPPool) => boolean) | undefined;
    for (;;) {
      try {
        return await this.#addOnce(req);
      } catch (e) {
        const left = deadline - Date.now();
        if (!(e instanceof AllocatorError) || e.code !== Code.autoPoolPending || left <= 0) throw e;
        if (awaited === undefined) {
          awaited = await this.#awaitedPools(req);
          continue; // the pool may have come while the filter was being made: plan again
        }
        await this.#store.waitForPoolChange(left, awaited);
      }
    }
  }

  /** The pools a pending ADD waits for: its workload's auto-pools (any NIC or family). */
  async #awaitedPools(req: AddRequest): Promise<(pool: SpiderIPPool) => boolean> {
    const app = await this.#application(await this.#pod(req));
    if (app === undefined) return () => true;
    const nameLabel = labelValueOf(app.name);
    return (pool) => {
      const owner = autoPoolApplication(pool.metadata.labels);
      return (
        owner !== undefined &&
        owner.kind === app.kind &&
        owner.namespace === app.namespace &&
        owner.nameLabel === nameLabel
      );
    };
  }

  /**
   * The workload that owns a pod, as auto-pools name it; undefined for a bare pod. With the
   * workload's UID where it is known without extra reads (the pod's own controller reference:
   * StatefulSet, DaemonSet, Job; a CronJob through its Job), so only the auto-pool made for
   * that very object serves the pod, not a forged or namesake one (review #17). A Deployment
   * pod's UID comes from its ReplicaSet's controller reference (one GET per ReplicaSet,
   * remembered: see #rsOwners); that read also confirms the Deployment `topController`
   * inferred from `pod-template-hash` (review #20).
   */
  async #application(pod: PodObject): Promise<ApplicationRef | undefined> {
    let owner = topController(pod);
    const ref = pod.metadata.ownerReferences?.find((o) => o.controller === true);
    let uid = ref?.kind === owner.type && ref.name === owner.name ? ref.uid : undefined;
    if (ref?.kind === 'ReplicaSet') {
      const parent = await this.#replicaSetOwner(pod.metadata.namespace, ref.name, ref.uid);
      if (parent !== undefined) {
        owner = { type: parent.kind, name: parent.name };
        uid = parent.uid;
      } else if (owner.type === 'Deployment') {
        // The ReplicaSet is gone (or owned by nothing): the pod's own labels are all there is.
        uid = undefined;
      }
    }
    if (owner.type === 'Job') {
      const parent = await this.#store
        .getJobOwner(pod.metadata.namespace, owner.name)
        .catch((e: unknown) => {
          throw classify(e, `reading Job ${pod.metadata.namespace}/${owner.name}`);
        });
      if (parent?.kind === 'CronJob') {
        owner = { type: 'CronJob', name: parent.name };
        uid = parent.uid;
      }
    }
    if (!isWorkloadKind(owner.type)) return undefined;
    const app = { kind: owner.type, namespace: pod.metadata.namespace, name: owner.name };
    return uid === undefined || uid === '' ? app : { ...app, uid };
  }

  /**
   * ReplicaSet UID → its controller. Holds one entry per ReplicaSet whose subnet-annotated
   * pods this node started, at most RS_OWNER_CACHE (oldest dropped first), so it stays
   * bounded however long the allocator runs; an entry never goes stale, because a
   * ReplicaSet's controller reference is fixed for its UID's lifetime (adoption by another
   * Deployment keeps the entry wrong only until it falls out, and the auto-pool UID check then
   * fails closed: AUTO_POOL_PENDING, retried).
   */
  readonly #rsOwners = new Map<string, ControllerRef>();

  async #replicaSetOwner(
    namespace: string,
    name: string,
    rsUid: string | undefined,
  ): Promise<ControllerRef | undefined> {
    const key = rsUid === undefined || rsUid === '' ? undefined : rsUid;
    const cached = key === undefined ? undefined : this.#rsOwners.get(key);
    if (cached !== undefined) return cached;
    const parent = await this.#store.getReplicaSetOwner(namespace, name).catch((e: unknown) => {
      throw classify(e, `reading ReplicaSet ${namespace}/${name}`);
    });
    if (key !== undefined) {
      if (this.#rsOwners.size >= RS_OWNER_CACHE) {
        const oldest = this.#rsOwners.keys().next();
        if (oldest.done !== true) this.#rsOwners.delete(oldest.value);
      }
      // A missing ReplicaSet is not remembered: it may be a read before the cache saw it.
      if (parent !== undefined) this.#rsOwners.set(key, parent);
    }
    return parent;
  }

  async #addOnce(req: AddRequest): Promise<AddResponse> {
    const pod = await this.#pod(req);
    const ns = pod.metadata.namespace;
    const name = pod.metadata.name;
    const uid = pod.metadata.uid;

    // Idempotency: an endpoint of this UID that records this NIC answers without writes.
    const existing = await this.#store.getEndpoint(ns, name).catch((e: unknown) => {
      throw classify(e, `reading SpiderEndpoint ${ns}/${name}`);
    });
    const recorded =
      existing?.status?.current?.uid === uid
        ? existing.status.current.ips.find((i) => i.interface === req.ifName)
        : undefined;
    if (recorded !== undefined) return answer(recorded);

    const [nsObj, node] = await Promise.all([
      this.#store.getNamespace(ns),
      this.#store.getNode(this.#opts.nodeName),
    ]).catch((e: unknown) => {
      throw classify(e, 'reading namespace and node');
    });
    const pools = this.#store.pools();
    const annotations = pod.metadata.annotations ?? {};
    const application =
      annotations[PodAnnotation.subnets] !== undefined ||
      annotations[PodAnnotation.subnet] !== undefined
        ? await this.#application(pod)
        : undefined;
    const plan = planAdd({
      pod: {
        namespace: ns,
        name,
        uid,
        labels: pod.metadata.labels ?? {},
        annotations: pod.metadata.annotations ?? {},
      },
      namespace: nsObj ?? { labels: {}, annotations: {} },
      node: { name: this.#opts.nodeName, labels: node?.labels ?? {} },
      ifName: req.ifName,
      netconf: {
        defaultIPv4IPPool: req.defaultIPv4IPPool ?? [],
        defaultIPv6IPPool: req.defaultIPv6IPPool ?? [],
        cleanGateway: req.cleanGateway ?? false,
      },
      pools,
      ...(application === undefined ? {} : { application }),
    });
    if (!plan.ok) throw new AllocatorError(plan.error.code, plan.error.message);

    const owner = topController(pod);
    const sticky = owner.type === 'StatefulSet';
    // Every NIC (and family) in parallel; within one, pools in the order given.
    // The planner's judgement of each pool, again on the snapshot each write is computed
    // from (review #14). multusName is the planner's alone: a NAD is not re-resolved here.
    const ctx: EligibilityContext = {
      namespace: ns,
      namespaceLabels: nsObj?.labels ?? {},
      podLabels: pod.metadata.labels ?? {},
      ...(application === undefined ? {} : { application }),
      node: { name: this.#opts.nodeName, labels: node?.labels ?? {} },
    };
    const entries = await Promise.all(
      plan.value.map((nic) => this.#allocateNic(nic, pod, sticky, ctx)),
    );
    await recordEndpoint(
      this.#store,
      this.#opts.nodeName,
      this.#opts.retry,
      pod,
      owner,
      entries,
    ).catch((e: unknown) => {
      throw classify(e, `recording SpiderEndpoint ${ns}/${name}`);
    });
    const mine = entries.find((e) => e.interface === req.ifName);
    if (mine === undefined)
      throw new AllocatorError(Code.internal, `planned no entry for ${req.ifName}`);
    return answer(mine);
  }

  async #allocateNic(
    nic: NicPlan,
    pod: PodObject,
    sticky: boolean,
    ctx: EligibilityContext,
  ): Promise<EndpointIP> {
    const entry: EndpointIP = { interface: nic.ifName, cleanGateway: nic.cleanGateway, routes: [] };
    const podRef = `${pod.metadata.namespace}/${pod.metadata.name}`;
    await Promise.all(
      nic.families.map(async (fam) => {
        const reasons: string[] = [];
        // A record of this pod in any candidate pool is reused before any pool is tried in
        // order (review #10): a StatefulSet pod that once got the second pool, or an ADD
        // after a crash between the pool write and the endpoint write, must not get a second
        // address from the first. The index is a cache: the pool confirms (reuseOnly).
        const held = this.#heldIn(fam.pools, pod, nic.ifName, sticky);
        const tries: { pool: string; reuseOnly: boolean }[] = [
          ...(held === undefined ? [] : [{ pool: held, reuseOnly: true }]),
          ...fam.pools.map((p) => ({ pool: p, reuseOnly: false })),
        ];
        for (const { pool: poolName, reuseOnly } of tries) {
          const r = await this.#committer
            .submit(poolName, {
              kind: 'allocate',
              podUid: pod.metadata.uid,
              pod: podRef,
              ifName: nic.ifName,
              sticky,
              ...(reuseOnly ? { reuseOnly } : {}),
              eligibility: { family: fam.family, ctx },
            })
            .catch((e: unknown) => {
              // Deleted since the plan was made: like an exhausted pool, go on to the next.
              if (apiStatus(e) === 404)
                return {
                  kind: 'exhausted' as const,
                  reason: `pool "${poolName}" no longer exists`,
                };
              // Unreadable status: never written over; the next pool may serve (review #15).
              if (e instanceof CorruptPoolError) {
                this.#metrics.unreadablePoolSkips.inc({ pool: poolName });
                return {
                  kind: 'exhausted' as const,
                  reason: `pool "${poolName}" has an unreadable status (${e.reason})`,
                };
              }
              throw e;
            });
          if (r.kind === 'exhausted') {
            // Once as the reuse probe, once in order: one reason per pool.
            if (!reuseOnly) reasons.push(r.reason);
            continue;
          }
          if (r.kind !== 'allocated') continue;
          const pool =
            this.#store.cachedPool(poolName) ?? (await this.#store.readPool(poolName, true));
          fill(entry, fam.family, poolName, r.ip, pool, nic);
          return;
        }
        // A full auto-pool is one the controller has not grown to the new replicas yet.
        throw new AllocatorError(
          nic.auto ? Code.autoPoolPending : Code.ipUsedOut,
          `no free IPv${fam.family} address for ${nic.ifName} of pod ${podRef}: ${reasons.join('; ')}${nic.auto ? '; the nicpool controller grows auto-pools with the workload (replicas + ippool-ip-number)' : ''}`,
        );
      }),
    );
    return entry;
  }

  /**
   * The first of `pools` (in their order) whose cached records hold this pod's address for
   * `ifName`: by UID, or for a StatefulSet pod by its name (a previous incarnation).
   */
  #heldIn(
    pools: readonly string[],
    pod: PodObject,
    ifName: string,
    sticky: boolean,
  ): string | undefined {
    const rank = new Map(pools.map((p, i) => [p, i]));
    const records = [
      ...this.#store.heldBy(pod.metadata.uid),
      ...(sticky ? this.#store.heldByName(`${pod.metadata.namespace}/${pod.metadata.name}`) : []),
    ].filter((r) => r.interface === ifName && rank.has(r.pool));
    records.sort((x, y) => rank.get(x.pool)! - rank.get(y.pool)!);
    return records[0]?.pool;
  }

  /** DEL; the outcome's warnings say what was deliberately left in place (for the log). */
  async del(req: DelRequest): Promise<DelOutcome> {
    const end = this.#metrics.releaseDuration.startTimer();
    try {
      const outcome = await this.#del(req);
      this.#metrics.releases.inc();
      return outcome;
    } catch (e) {
      this.#metrics.releaseFailures.inc();
      throw classify(e, `DEL ${req.podNamespace}/${req.podName} ${req.ifName}`);
    } finally {
      end();
    }
  }

  async #del(req: DelRequest): Promise<DelOutcome> {
    const ns = req.podNamespace;
    const name = req.podName;
    const warnings: string[] = [];
    // Fresh: a stale cache saying "alive" would keep the addresses of a deleted pod.
    const pod = await this.#store.getPod(ns, name, true);
    if (pod !== undefined && (req.podUID === '' || pod.metadata.uid === req.podUID) && isAlive(pod))
      // The runtime may re-create the sandbox; ADD will serve the same addresses again.
      return { warnings };
    if (req.podUID === '') {
      // Without the UID nothing ties this sandbox to what is recorded: the endpoint's and the
      // live pod's UID may be a successor's of the same name (review #3), and neither records
      // nor endpoints keep container IDs to match. Release nothing; the controller's GC frees
      // the addresses once their pod is gone.
      warnings.push(
        `DEL of ${ns}/${name} ${req.ifName} (container ${req.containerID}) carries no K8S_POD_UID: released nothing, since nothing recorded proves which pod this sandbox belonged to; the controller's GC releases the addresses once their pod is gone`,
      );
      return { warnings };
    }
    const uid = req.podUID;
    // Fresh: DEL is not the hot path, and a stale cache would leave the endpoint behind.
    const ep = await this.#store.getEndpoint(ns, name, true);
    if (ep?.status?.ownerControllerType === 'StatefulSet' && ep.status.current?.uid === uid) {
      const ordinal = Number(/-(\d+)$/.exec(name)?.[1] ?? NaN);
      const sts = await this.#store.getStatefulSet(ns, ep.status.ownerControllerName ?? '');
      // The StatefulSet will re-create this pod: keep its addresses for it. Not while it is
      // being deleted, and only for ordinals it runs (from spec.ordinals.start; review #20).
      if (
        sts !== undefined &&
        !sts.deleting &&
        Number.isInteger(ordinal) &&
        ordinal >= sts.ordinalsStart &&
        ordinal < sts.ordinalsStart + sts.replicas
      )
        return { warnings };
    }
    // The cache's index by pod UID: O(records of this pod), not of every pool (review #7).
    const holding = this.#store.heldBy(uid);
    const ipsOfEndpoint = ep?.status?.current?.uid === uid ? ep.status.current.ips : [];
    const poolNames = new Set([
      ...holding.map((r) => r.pool),
      ...ipsOfEndpoint.flatMap((i) =>
        [i.ipv4Pool, i.ipv6Pool].filter((x): x is string => x !== undefined),
      ),
    ]);
    const who = `pod ${ns}/${name} (UID ${uid})`;
    await Promise.all(
      [...poolNames].map(async (p) => {
        try {
          await this.#committer.submit(p, { kind: 'release', podUid: uid });
        } catch (e) {
          if (apiStatus(e) === 404) return; // pool gone: nothing to release there
          // One corrupt pool must not fail every DEL that lists it (pods stuck Terminating,
          // review #15): skip it, loudly, and release the rest. Its status is never written.
          if (!(e instanceof CorruptPoolError)) throw e;
          this.#metrics.unreadablePoolSkips.inc({ pool: p });
          warnings.push(
            `pool ${p}: ${e.reason}; left as it is: the records of ${who} there are released by the controller's GC once the status is repaired`,
          );
        }
      }),
    );
    // Pools the index cannot see into may hold records of this pod too: say so.
    for (const [p, reason] of this.#store.unreadablePools()) {
      if (poolNames.has(p)) continue;
      this.#metrics.unreadablePoolSkips.inc({ pool: p });
      warnings.push(`pool ${p}: ${reason}; not searched for records of ${who}`);
    }
    if (ep === undefined || ep.status?.current?.uid !== uid) return { warnings };
    await dropEndpoint(this.#store, this.#opts.retry, ep, uid);
    return { warnings, dropped: true };
  }

  /**
   * GC (CNI 1.1): release the addresses of this node's pods that are gone, exactly as a DEL
   * for each would (live pods and StatefulSet pods due back are kept). Endpoints do not
   * record container IDs, so the runtime's valid-attachment list cannot widen what is
   * released; it only ever narrows: nothing of a pod is released while the pod lives.
   */
  async gc(): Promise<{ released: string[]; warnings: string[] }> {
    const eps = await this.#store.listEndpoints(this.#opts.nodeName).catch((e: unknown) => {
      throw classify(e, 'listing SpiderEndpoints');
    });
    const released: string[] = [];
    const warnings: string[] = [];
    for (const ep of eps) {
      const cur = ep.status?.current;
      if (
        cur === undefined ||
        cur.node !== this.#opts.nodeName ||
        ep.metadata.namespace === undefined
      )
        continue;
      // #del reads the pod and the endpoint fresh itself: two API reads per endpoint.
      const outcome = await this.#del({
        containerID: 'gc',
        ifName: cur.ips[0]?.interface ?? 'eth0',
        podNamespace: ep.metadata.namespace,
        podName: ep.metadata.name,
        podUID: cur.uid,
      });
      warnings.push(...outcome.warnings);
      if (outcome.dropped) released.push(`${ep.metadata.namespace}/${ep.metadata.name}`);
    }
    return { released, warnings };
  }

  /** CHECK: the attachment's addresses are still recorded for this pod UID and NIC. */
  async check(req: DelRequest): Promise<void> {
    const ep = await this.#store
      .getEndpoint(req.podNamespace, req.podName, true)
      .catch((e: unknown) => {
        throw classify(e, 'reading SpiderEndpoint');
      });
    const entry =
      ep?.status?.current?.uid === req.podUID
        ? ep.status.current.ips.find((i) => i.interface === req.ifName)
        : undefined;
    if (entry === undefined)
      throw new AllocatorError(
        Code.notFound,
        `no allocation recorded for ${req.ifName} of pod ${req.podNamespace}/${req.podName} (UID ${req.podUID})`,
      );
    for (const [pool, addr] of [
      [entry.ipv4Pool, entry.ipv4],
      [entry.ipv6Pool, entry.ipv6],
    ] as const) {
      if (pool === undefined || addr === undefined) continue;
      // CHECK is rare: read the pool itself rather than trust the cache with a verdict.
      const p = await this.#store.readPool(pool, true).catch((e: unknown) => {
        if (apiStatus(e) === 404) return undefined;
        throw classify(e, `reading SpiderIPPool ${pool}`);
      });
      if (p === undefined || recordsOf(p).get(ipOnly(addr))?.podUid !== req.podUID) {
        throw new AllocatorError(
          Code.notFound,
          `address ${addr} of ${req.ifName} is no longer recorded in pool ${pool}`,
        );
      }
    }
  }
}
