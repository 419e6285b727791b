import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { WORKLOAD_KINDS, type WorkloadKind } from '@nicpool/annotations';
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
  objectKey,
  Plural,
  watchInto,
  type Watching,
} from '@nicpool/kube';
import { VersionedMap } from './cache.ts';
import { Deduper, type EventSink, type EventTarget, type EventType } from './events.ts';
import { DEFAULT_GRACE_SECONDS, type PodState } from './gc.ts';
import type { Change, ControllerStore, Kind } from './store.ts';
import { toWorkload, type RawWorkload, type Workload } from './workload.ts';

type Log = (msg: string, err?: unknown) => void;
type List = KubernetesListObject<KubernetesObject>;
const nameKey = (o: KubernetesObject): string => o.metadata?.name ?? '';

interface RawPod {
  metadata?: { uid?: string; deletionGracePeriodSeconds?: number };
  spec?: { terminationGracePeriodSeconds?: number };
  status?: { phase?: string };
}

function podState(o: RawPod): PodState {
  const phase = o.status?.phase;
  return {
    uid: o.metadata?.uid ?? '',
    finished: phase === 'Succeeded' || phase === 'Failed',
    graceSeconds: o.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
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

const TOMBSTONE_MS = 3_600_000;

export class KubeControllerStore implements ControllerStore {
  readonly #kc: KubeConfig;
  readonly #log: Log;
  readonly #custom: CustomObjectsApi;
  readonly #poolApi: ClusterObjects<SpiderIPPool>;
  readonly #subnetApi: ClusterObjects<SpiderSubnet>;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #batch: BatchV1Api;
  readonly #pools = new VersionedMap<SpiderIPPool>();
  readonly #subnets = new VersionedMap<SpiderSubnet>();
  readonly #reserved = new Map<string, SpiderReservedIP>();
  readonly #endpoints = new VersionedMap<SpiderEndpoint>();
  readonly #pods = new Map<string, PodState>();
  readonly #tombstones = new Map<string, { grace: number; at: number }>();
  readonly #workloads = new Map<WorkloadKind, Map<string, Workload>>();
  #watches: Watching[] = [];
  readonly events: EventSink;

  constructor(kc: KubeConfig, log: Log, component: string) {
    this.#kc = kc;
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
    const cluster = (plural: string) => async (): Promise<List> =>
      (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as List;
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
    const crd = <V>(what: string, plural: string, into: Map<string, V>, kind: Kind): Watching =>
      watchInto(
        this.#kc,
        {
          what,
          path: `/apis/${GROUP}/${VERSION}/${plural}`,
          list: cluster(plural),
          into,
          map: (o) => o as unknown as V,
          key: nameKey,
          onEvent: remember(into, nameKey, notify(kind, nameKey)),
        },
        this.#log,
      );
    const workloadWatches = (Object.keys(WORKLOAD_KINDS) as WorkloadKind[]).map((kind) => {
      const { group, version } = WORKLOAD_KINDS[kind];
      const apps = this.#apps;
      const batch = this.#batch;
      const list = async (): Promise<List> => {
        switch (kind) {
          case 'Deployment':
            return await apps.listDeploymentForAllNamespaces();
          case 'ReplicaSet':
            return await apps.listReplicaSetForAllNamespaces();
          case 'StatefulSet':
            return await apps.listStatefulSetForAllNamespaces();
          case 'DaemonSet':
            return await apps.listDaemonSetForAllNamespaces();
          case 'Job':
            return await batch.listJobForAllNamespaces();
          case 'CronJob':
            return await batch.listCronJobForAllNamespaces();
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
          list: async () =>
            (await custom.listCustomObjectForAllNamespaces({
              group: GROUP,
              version: VERSION,
              resourcePlural: Plural.endpoint,
            })) as List,
          into: this.#endpoints,
          map: (o) => o as unknown as SpiderEndpoint,
          key: objectKey,
          onEvent: remember(this.#endpoints, objectKey, notify('endpoint', objectKey)),
        },
        this.#log,
      ),
      watchInto(
        this.#kc,
        {
          what: 'pods',
          path: '/api/v1/pods',
          list: async () => (await core.listPodForAllNamespaces()) as List,
          into: this.#pods,
          map: (o) => podState(o as RawPod),
          key: objectKey,
          onEvent: (type, o) => {
            if (type === 'delete') {
              const now = Date.now();
              const raw = o as RawPod;
              this.#tombstones.set(objectKey(o), {
                grace:
                  raw.spec?.terminationGracePeriodSeconds ??
                  raw.metadata?.deletionGracePeriodSeconds ??
                  DEFAULT_GRACE_SECONDS,
                at: now,
              });
              for (const [k, t] of this.#tombstones)
                if (now - t.at > TOMBSTONE_MS) this.#tombstones.delete(k);
            }
            notify('pod', objectKey)(type, o);
          },
        },
        this.#log,
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
  subnets(): readonly SpiderSubnet[] {
    return [...this.#subnets.values()];
  }
  subnet(name: string): SpiderSubnet | undefined {
    return this.#subnets.get(name);
  }
  reservedIPs(): readonly SpiderReservedIP[] {
    return [...this.#reserved.values()];
  }
  endpoints(): readonly SpiderEndpoint[] {
    return [...this.#endpoints.values()];
  }
  endpoint(namespace: string, name: string): SpiderEndpoint | undefined {
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
  pod(namespace: string, name: string): PodState | undefined {
    return this.#pods.get(`${namespace}/${name}`);
  }
  lastGrace(namespace: string, name: string): number | undefined {
    return this.#tombstones.get(`${namespace}/${name}`)?.grace;
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
    this.#endpoints.set(`${out.metadata.namespace}/${out.metadata.name}`, out);
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
