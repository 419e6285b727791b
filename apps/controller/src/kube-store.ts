import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { autoPoolApplication, WORKLOAD_KINDS, type WorkloadKind } from '@nicpool/annotations';
import {
  GROUP,
  VERSION,
  type SpiderEndpoint,
  type SpiderIPPool,
  type SpiderReservedIP,
  type SpiderSubnet,
} from '@nicpool/crds';
import {
  ClusterObjects,
  isNotFound,
  listClusterObjects,
  type ListPage,
  objectKey,
  Plural,
  type Watching,
  watchInto,
  type WatchOptions,
} from '@nicpool/kube';
import { GroupedMap, Tombstones, VersionedMap } from './cache.ts';
import { Deduper, type EventSink, type EventTarget, type EventType } from './events.ts';
import { DEFAULT_GRACE_SECONDS, type PodState } from './gc.ts';
import type { Change, ControllerStore, EndpointView, Kind } from './store.ts';
import { toWorkload, type RawWorkload, type Workload } from './workload.ts';

type Log = (msg: string, err?: unknown) => void;
type List = KubernetesListObject<KubernetesObject>;
const nameKey = (o: KubernetesObject): string => o.metadata?.name ?? '';

interface RawPod {
  metadata?: { uid?: string; deletionGracePeriodSeconds?: number };
  spec?: { terminationGracePeriodSeconds?: number };
  status?: { phase?: string };
}

/**
 * The projection of a pod the controller keeps: GC reads nothing else (UID, whether it
 * has finished, its grace period). A fresh object, sharing nothing with the API answer,
 * so the whole pod (spec, status, managedFields) can be collected.
 */
export function podState(o: RawPod): PodState {
  const phase = o.status?.phase;
  return {
    uid: o.metadata?.uid ?? '',
    finished: phase === 'Succeeded' || phase === 'Failed',
    graceSeconds: o.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
  };
}

/**
 * A bounded table of shared values. The endpoints of one workload repeat the same pool
 * names and owner: separate copies of them took 12 of the 58 MiB of heap the caches held
 * at 50k pods (bench/controller-cache-rss.ts). The oldest entry leaves past `max`, so churn
 * (auto-pool names carry a UID) cannot grow the table; a value still held elsewhere simply
 * stops being shared.
 */
class SharedValues<V> {
  readonly #values = new Map<string, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string, make: () => V): V {
    const have = this.#values.get(key);
    if (have !== undefined) return have;
    const v = make();
    this.#values.set(key, v);
    if (this.#values.size > this.#max) this.#values.delete(this.#values.keys().next().value!);
    return v;
  }
}

type PoolsOfIPs = NonNullable<NonNullable<EndpointView['status']>['current']>['ips'];
const sharedStrings = new SharedValues<string>(4096);
const sharedPools = new SharedValues<PoolsOfIPs>(4096);
const shared = (s: string): string => sharedStrings.get(s, () => s);

/** The pools of an endpoint's addresses, one frozen array for every endpoint with the same pools. */
function poolsOf(ips: readonly { ipv4Pool?: string; ipv6Pool?: string }[]): PoolsOfIPs {
  const key = ips.map((ip) => `${ip.ipv4Pool ?? ''}|${ip.ipv6Pool ?? ''}`).join(',');
  return sharedPools.get(key, () =>
    Object.freeze(
      ips.map((ip) =>
        Object.freeze({
          ...(ip.ipv4Pool === undefined ? {} : { ipv4Pool: shared(ip.ipv4Pool) }),
          ...(ip.ipv6Pool === undefined ? {} : { ipv6Pool: shared(ip.ipv6Pool) }),
        }),
      ),
    ),
  );
}

/**
 * The projection of a SpiderEndpoint the controller keeps (one per pod of the cluster):
 * identity and resourceVersion (write-through, preconditions), the current holder's UID
 * and the owner controller, and the pool names of its addresses, which is all GC reads.
 * The addresses are not kept: GC takes them from the pools' records, and a delete
 * re-reads the endpoint first. Pool names and owners are shared between views (frozen).
 */
export function endpointView(e: SpiderEndpoint): EndpointView {
  const m = e.metadata;
  const s = e.status;
  return {
    metadata: {
      name: m.name,
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
    },
    status: {
      ...(s?.current === undefined
        ? {}
        : { current: { uid: s.current.uid, ips: poolsOf(s.current.ips ?? []) } }),
      ...(s?.ownerControllerType === undefined
        ? {}
        : { ownerControllerType: shared(s.ownerControllerType) }),
      ...(s?.ownerControllerName === undefined
        ? {}
        : { ownerControllerName: shared(s.ownerControllerName) }),
    },
  };
}

const PLURAL: Record<WorkloadKind, string> = {
  Deployment: 'deployments',
  ReplicaSet: 'replicasets',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  Job: 'jobs',
  CronJob: 'cronjobs',
};

const appGroup = (kind: string, namespace: string, nameLabel: string): string =>
  `${kind}/${namespace}/${nameLabel}`;

const TOMBSTONE_MS = 3_600_000;
/** Pods seen deleted within the hour; beyond this many (a mass deletion) the oldest go first. */
const MAX_TOMBSTONES = 200_000;

export interface KubeControllerStoreOptions {
  /** Per watch (by its `what`): e.g. a fake transport in the cache benchmark. */
  readonly watch?: (what: string) => WatchOptions;
}

export class KubeControllerStore implements ControllerStore {
  readonly #kc: KubeConfig;
  readonly #log: Log;
  readonly #custom: CustomObjectsApi;
  readonly #poolApi: ClusterObjects<SpiderIPPool>;
  readonly #subnetApi: ClusterObjects<SpiderSubnet>;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #batch: BatchV1Api;
  // Grouped by owner application: a workload's reconcile looks at its own pools only.
  readonly #pools = new GroupedMap<SpiderIPPool>((p) => {
    const app = autoPoolApplication(p.metadata.labels);
    return app === undefined ? undefined : appGroup(app.kind, app.namespace, app.nameLabel);
  });
  readonly #subnets = new VersionedMap<SpiderSubnet>();
  readonly #reserved = new Map<string, SpiderReservedIP>();
  // What each cache holds, and why it stays bounded at 10–50k pods:
  // - pools, subnets, reserved IPs: whole objects (the planner needs spec and status);
  //   their number is the admins' and the auto-pools', not the pods'.
  // - endpoints: EndpointView (names, UIDs, owner; no addresses), one per pod.
  // - pods: PodState (UID, finished, grace), keyed by namespace/name, one per pod.
  // - workloads: Workload (kind/namespace/name, UID, replicas, nicpool template
  //   annotations, hostNetwork, parent), one per workload.
  // - tombstones: grace of pods deleted in the last hour, at most MAX_TOMBSTONES.
  // Lists come 500 items a page and the watch loop keeps no copy of whole objects, so a
  // list answer of the whole cluster is never in memory at once.
  readonly #endpoints = new VersionedMap<EndpointView>();
  readonly #pods = new Map<string, PodState>();
  readonly #tombstones = new Tombstones<number>(TOMBSTONE_MS, MAX_TOMBSTONES);
  readonly #workloads = new Map<WorkloadKind, Map<string, Workload>>();
  readonly #options: KubeControllerStoreOptions;
  #watches: Watching[] = [];
  readonly events: EventSink;

  constructor(
    kc: KubeConfig,
    log: Log,
    component: string,
    options: KubeControllerStoreOptions = {},
  ) {
    this.#kc = kc;
    this.#options = options;
    this.#log = log;
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#poolApi = new ClusterObjects(this.#custom, Plural.ippool);
    this.#subnetApi = new ClusterObjects(this.#custom, Plural.subnet);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#batch = kc.makeApiClient(BatchV1Api);
    for (const k of Object.keys(WORKLOAD_KINDS) as WorkloadKind[])
      this.#workloads.set(k, new Map());
    const dedupe = new Deduper(600_000);
    const core = this.#core;
    this.events = {
      emit: (target: EventTarget, type: EventType, reason: string, message: string): void => {
        const now = Date.now();
        if (
          !dedupe.admit(
            `${target.kind}/${target.namespace ?? ''}/${target.name}|${reason}|${message}`,
            now,
          )
        )
          return;
        // Events about cluster-scoped objects must live in "default" (API server rule).
        const namespace = target.namespace ?? 'default';
        const at = new Date(now);
        core
          .createNamespacedEvent({
            namespace,
            body: {
              metadata: { generateName: `${target.name.slice(0, 200)}.`, namespace },
              involvedObject: {
                apiVersion: target.apiVersion,
                kind: target.kind,
                name: target.name,
                ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
                ...(target.uid === undefined ? {} : { uid: target.uid }),
              },
              reason,
              message,
              type,
              count: 1,
              firstTimestamp: at,
              lastTimestamp: at,
              source: { component },
              reportingComponent: component,
            },
          })
          .catch((e: unknown) =>
            log(`recording event ${reason} on ${target.kind} ${target.name} failed`, e),
          );
      },
    };
  }

  start(onChange: (c: Change) => void): void {
    const custom = this.#custom;
    const core = this.#core;
    const opts = (what: string): WatchOptions => this.#options.watch?.(what) ?? {};
    const notify =
      (kind: Kind, key: (o: KubernetesObject) => string) =>
      (type: 'add' | 'update' | 'delete', o: KubernetesObject): void =>
        onChange({
          kind,
          key: key(o),
          type,
          ...(o.metadata?.labels ? { labels: o.metadata.labels } : {}),
        });
    // A write of ours answered after the watch reported the object deleted (the finalizer
    // removal that let it go) must not bring it back into the cache.
    const remember =
      <V>(
        into: Map<string, V>,
        key: (o: KubernetesObject) => string,
        then: ReturnType<typeof notify>,
      ) =>
      (type: 'add' | 'update' | 'delete', o: KubernetesObject): void => {
        if (type === 'delete' && into instanceof VersionedMap) into.deleted(key(o), o);
        then(type, o);
      };
    const crd = <V>(what: string, plural: Plural, into: Map<string, V>, kind: Kind): Watching =>
      watchInto(
        this.#kc,
        {
          what,
          path: `/apis/${GROUP}/${VERSION}/${plural}`,
          list: listClusterObjects(custom, plural),
          into,
          map: (o) => o as unknown as V,
          key: nameKey,
          onEvent: remember(into, nameKey, notify(kind, nameKey)),
        },
        this.#log,
        opts(what),
      );
    const workloadWatches = (Object.keys(WORKLOAD_KINDS) as WorkloadKind[]).map((kind) => {
      const { group, version } = WORKLOAD_KINDS[kind];
      const apps = this.#apps;
      const batch = this.#batch;
      const list = async (page: ListPage): Promise<List> => {
        switch (kind) {
          case 'Deployment':
            return await apps.listDeploymentForAllNamespaces(page);
          case 'ReplicaSet':
            return await apps.listReplicaSetForAllNamespaces(page);
          case 'StatefulSet':
            return await apps.listStatefulSetForAllNamespaces(page);
          case 'DaemonSet':
            return await apps.listDaemonSetForAllNamespaces(page);
          case 'Job':
            return await batch.listJobForAllNamespaces(page);
          case 'CronJob':
            return await batch.listCronJobForAllNamespaces(page);
        }
      };
      return watchInto(
        this.#kc,
        {
          what: PLURAL[kind],
          path: `/apis/${group}/${version}/${PLURAL[kind]}`,
          list,
          into: this.#workloads.get(kind)!,
          map: (o) => toWorkload(kind, o as RawWorkload),
          key: objectKey,
          onEvent: notify('workload', (o) => `${kind}/${objectKey(o)}`),
        },
        this.#log,
        opts(PLURAL[kind]),
      );
    });
    this.#watches = [
      crd('pools', Plural.ippool, this.#pools, 'pool'),
      crd('subnets', Plural.subnet, this.#subnets, 'subnet'),
      crd('reservedips', Plural.reservedIP, this.#reserved, 'reservedip'),
      watchInto(
        this.#kc,
        {
          what: 'endpoints',
          path: `/apis/${GROUP}/${VERSION}/${Plural.endpoint}`,
          list: async (page) =>
            (await custom.listCustomObjectForAllNamespaces({
              group: GROUP,
              version: VERSION,
              resourcePlural: Plural.endpoint,
              ...page,
            })) as List,
          into: this.#endpoints,
          map: (o) => endpointView(o as unknown as SpiderEndpoint),
          key: objectKey,
          onEvent: remember(this.#endpoints, objectKey, notify('endpoint', objectKey)),
        },
        this.#log,
        opts('endpoints'),
      ),
      watchInto(
        this.#kc,
        {
          what: 'pods',
          path: '/api/v1/pods',
          list: async (page) => (await core.listPodForAllNamespaces(page)) as List,
          into: this.#pods,
          map: (o) => podState(o as RawPod),
          key: objectKey,
          onEvent: (type, o) => {
            if (type === 'delete') {
              const raw = o as RawPod;
              // O(1): no scan of the hour's tombstones per delete (review #8).
              this.#tombstones.set(
                objectKey(o),
                raw.spec?.terminationGracePeriodSeconds ??
                  raw.metadata?.deletionGracePeriodSeconds ??
                  DEFAULT_GRACE_SECONDS,
                Date.now(),
              );
            }
            notify('pod', objectKey)(type, o);
          },
        },
        this.#log,
        opts('pods'),
      ),
      ...workloadWatches,
    ];
  }

  ready(): boolean {
    return this.#watches.length > 0 && this.#watches.every((w) => w.synced());
  }

  async stop(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.stop()));
  }

  pools(): readonly SpiderIPPool[] {
    return [...this.#pools.values()];
  }
  pool(name: string): SpiderIPPool | undefined {
    return this.#pools.get(name);
  }
  autoPoolsOf(kind: string, namespace: string, nameLabel: string): readonly SpiderIPPool[] {
    return this.#pools.group(appGroup(kind, namespace, nameLabel));
  }
  subnets(): readonly SpiderSubnet[] {
    return [...this.#subnets.values()];
  }
  subnet(name: string): SpiderSubnet | undefined {
    return this.#subnets.get(name);
  }
  reservedIPs(): readonly SpiderReservedIP[] {
    return [...this.#reserved.values()];
  }
  endpoints(): readonly EndpointView[] {
    return [...this.#endpoints.values()];
  }
  endpoint(namespace: string, name: string): EndpointView | undefined {
    return this.#endpoints.get(`${namespace}/${name}`);
  }
  workloads(kind?: WorkloadKind, namespace?: string): readonly Workload[] {
    const kinds = kind === undefined ? [...this.#workloads.keys()] : [kind];
    return kinds.flatMap((k) =>
      [...this.#workloads.get(k)!.values()].filter(
        (w) => namespace === undefined || w.app.namespace === namespace,
      ),
    );
  }
  workload(kind: WorkloadKind, namespace: string, name: string): Workload | undefined {
    return this.#workloads.get(kind)!.get(`${namespace}/${name}`);
  }
  pod(namespace: string, name: string): PodState | undefined {
    return this.#pods.get(`${namespace}/${name}`);
  }
  lastGrace(namespace: string, name: string): number | undefined {
    return this.#tombstones.get(`${namespace}/${name}`, Date.now());
  }

  async #read<T>(get: () => Promise<unknown>): Promise<T | undefined> {
    try {
      return (await get()) as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Our own write (or fresh read) goes into the cache at once; the watch may be behind. */
  #through<T extends { metadata: { name: string } }>(cache: Map<string, T>, obj: T): T {
    cache.set(obj.metadata.name, obj);
    return obj;
  }

  async readPool(name: string): Promise<SpiderIPPool | undefined> {
    const p = await this.#poolApi.find(name);
    return p === undefined ? undefined : this.#through(this.#pools, p);
  }
  async readSubnet(name: string): Promise<SpiderSubnet | undefined> {
    const s = await this.#subnetApi.find(name);
    return s === undefined ? undefined : this.#through(this.#subnets, s);
  }
  async readPod(namespace: string, name: string): Promise<PodState | undefined> {
    const p = await this.#read<RawPod>(() => this.#core.readNamespacedPod({ namespace, name }));
    return p === undefined ? undefined : podState(p);
  }
  async readEndpoint(namespace: string, name: string): Promise<SpiderEndpoint | undefined> {
    return this.#read<SpiderEndpoint>(() =>
      this.#custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: Plural.endpoint,
        namespace,
        name,
      }),
    );
  }
  async createPool(p: SpiderIPPool): Promise<SpiderIPPool> {
    return this.#through(this.#pools, await this.#poolApi.create(p));
  }
  async replacePool(p: SpiderIPPool): Promise<SpiderIPPool> {
    return this.#through(this.#pools, await this.#poolApi.replace(p));
  }
  async replacePoolStatus(p: SpiderIPPool): Promise<SpiderIPPool> {
    return this.#through(this.#pools, await this.#poolApi.replaceStatus(p));
  }
  async deletePool(name: string): Promise<void> {
    try {
      await this.#poolApi.delete(name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  async replaceSubnet(s: SpiderSubnet): Promise<SpiderSubnet> {
    return this.#through(this.#subnets, await this.#subnetApi.replace(s));
  }
  async replaceSubnetStatus(s: SpiderSubnet): Promise<SpiderSubnet> {
    return this.#through(this.#subnets, await this.#subnetApi.replaceStatus(s));
  }
  async replaceEndpoint(e: SpiderEndpoint): Promise<SpiderEndpoint> {
    const out = (await this.#custom.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: Plural.endpoint,
      namespace: e.metadata.namespace!,
      name: e.metadata.name,
      body: e,
    })) as SpiderEndpoint;
    this.#endpoints.set(`${out.metadata.namespace}/${out.metadata.name}`, endpointView(out));
    return out;
  }
  async deleteEndpoint(
    namespace: string,
    name: string,
    only?: { uid: string; resourceVersion: string },
  ): Promise<void> {
    try {
      await this.#custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: Plural.endpoint,
        namespace,
        name,
        ...(only === undefined ? {} : { body: { preconditions: only } }),
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
