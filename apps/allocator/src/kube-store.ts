import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { Label } from '@nicpool/annotations';
import {
  GROUP,
  VERSION,
  type PoolIPAllocation,
  type SpiderEndpoint,
  type SpiderIPPool,
  type SpiderReservedIP,
} from '@nicpool/crds';
import {
  isNotFound,
  listClusterObjects,
  objectKey,
  Plural,
  type Watching,
  watchInto,
} from '@nicpool/kube';
import {
  ChangeSignal,
  PoolCache,
  type AllocatorStore,
  type ControllerRef,
  type DeletePreconditions,
  type HeldRecord,
  type Labelled,
  type PodObject,
  type StatefulSetView,
} from './store.ts';

type Log = (msg: string, err?: unknown) => void;
type List = KubernetesListObject<KubernetesObject>;
const nameKey = (o: KubernetesObject): string => o.metadata?.name ?? '';

/**
 * AllocatorStore on the Kubernetes API. Pools, reserved IPs and namespaces come from
 * watches (list + watch, restarted on error); our own pool writes are written through to
 * the cache so the next batch starts from the newest resourceVersion.
 */
/** The controller reference of the object a read returns; undefined for none or a 404. */
async function controllerOf(
  read: Promise<{ metadata?: V1ObjectMeta }>,
): Promise<ControllerRef | undefined> {
  try {
    const owner = (await read).metadata?.ownerReferences?.find((o) => o.controller === true);
    return owner === undefined ? undefined : { kind: owner.kind, name: owner.name, uid: owner.uid };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export class KubeStore implements AllocatorStore {
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #batch: BatchV1Api;
  readonly #poolChanges = new ChangeSignal<SpiderIPPool>();
  /** Fed by the pool watch and our own answers; indexed by pod and never stepping back. */
  readonly #pools = new PoolCache({ monotonic: true });
  readonly #reserved = new Map<string, SpiderReservedIP>();
  readonly #namespaces = new Map<string, Labelled>();
  /** This node's pods and SpiderEndpoints, keyed `namespace/name`. */
  readonly #pods = new Map<string, PodObject>();
  readonly #endpoints = new Map<string, SpiderEndpoint>();
  readonly #watches: Watching[];
  #node: { at: number; value: Labelled | undefined } | undefined;

  constructor(kc: KubeConfig, nodeName: string, log: Log) {
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#batch = kc.makeApiClient(BatchV1Api);
    const custom = this.#custom;
    const core = this.#core;
    const nodePods = `spec.nodeName=${nodeName}`;
    const nodeEndpoints = `${Label.endpointNode}=${nodeName}`;
    this.#watches = [
      watchInto(
        kc,
        {
          what: 'pools',
          path: `/apis/${GROUP}/${VERSION}/${Plural.ippool}`,
          list: listClusterObjects(custom, Plural.ippool),
          into: this.#pools,
          map: (o) => o as unknown as SpiderIPPool,
          key: nameKey,
          // With the pool as received: a waiting ADD wakes for its own auto-pool only.
          onEvent: (_type, o) => {
            this.#poolChanges.notify(o as unknown as SpiderIPPool);
          },
        },
        log,
      ),
      watchInto(
        kc,
        {
          what: 'reservedips',
          path: `/apis/${GROUP}/${VERSION}/${Plural.reservedIP}`,
          list: listClusterObjects(custom, Plural.reservedIP),
          into: this.#reserved,
          map: (o) => o as unknown as SpiderReservedIP,
          key: nameKey,
        },
        log,
      ),
      watchInto(
        kc,
        {
          what: 'namespaces',
          path: '/api/v1/namespaces',
          list: async (page) => (await core.listNamespace(page)) as List,
          into: this.#namespaces,
          map: (n) => ({
            labels: n.metadata?.labels ?? {},
            annotations: n.metadata?.annotations ?? {},
          }),
          key: nameKey,
        },
        log,
      ),
      // Only this node's pods and endpoints: memory grows with the node, not the cluster.
      watchInto(
        kc,
        {
          what: 'pods',
          path: '/api/v1/pods',
          list: async (page) =>
            (await core.listPodForAllNamespaces({ fieldSelector: nodePods, ...page })) as List,
          into: this.#pods,
          map: (o) => o as unknown as PodObject,
          key: objectKey,
          fieldSelector: nodePods,
        },
        log,
      ),
      watchInto(
        kc,
        {
          what: 'endpoints',
          path: `/apis/${GROUP}/${VERSION}/${Plural.endpoint}`,
          list: async (page) =>
            (await custom.listCustomObjectForAllNamespaces({
              group: GROUP,
              version: VERSION,
              resourcePlural: Plural.endpoint,
              labelSelector: nodeEndpoints,
              ...page,
            })) as List,
          into: this.#endpoints,
          map: (o) => o as unknown as SpiderEndpoint,
          key: objectKey,
          labelSelector: nodeEndpoints,
        },
        log,
      ),
    ];
  }

  ready(): boolean {
    return this.#watches.every((w) => w.synced());
  }

  async stop(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.stop()));
  }

  pools(): readonly SpiderIPPool[] {
    return [...this.#pools.values()];
  }

  cachedPool(name: string): SpiderIPPool | undefined {
    return this.#pools.get(name);
  }

  heldBy(podUid: string): readonly HeldRecord[] {
    return this.#pools.heldBy(podUid);
  }

  heldByName(pod: string): readonly HeldRecord[] {
    return this.#pools.heldByName(pod);
  }

  unreadablePools(): ReadonlyMap<string, string> {
    return this.#pools.unreadable();
  }

  reservedIPs(): readonly SpiderReservedIP[] {
    return [...this.#reserved.values()];
  }

  async readPool(name: string): Promise<SpiderIPPool> {
    const p = (await this.#custom.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: Plural.ippool,
      name,
    })) as SpiderIPPool;
    this.#pools.refresh(p);
    return p;
  }

  async writePoolStatus(
    pool: SpiderIPPool,
    records?: ReadonlyMap<string, PoolIPAllocation>,
  ): Promise<SpiderIPPool> {
    // The cache indexes this write's watch event and its answer, whichever comes first, from
    // the records it was encoded from when the text is the one sent (the API server keeps
    // status as written), instead of decoding the text.
    const text = pool.status?.allocatedIPs;
    const done =
      records === undefined
        ? () => undefined
        : this.#pools.expectWrite(pool.metadata.name, { text, records });
    try {
      const written = (await this.#custom.replaceClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: Plural.ippool,
        name: pool.metadata.name,
        body: pool,
      })) as SpiderIPPool;
      this.#pools.refresh(written);
      return written;
    } finally {
      done();
    }
  }

  cachedRecords(pool: SpiderIPPool): ReadonlyMap<string, PoolIPAllocation> | undefined {
    return this.#pools.recordsOf(pool);
  }

  async getPod(namespace: string, name: string, fresh = false): Promise<PodObject | undefined> {
    const cached = fresh ? undefined : this.#pods.get(`${namespace}/${name}`);
    if (cached !== undefined) return cached;
    try {
      return (await this.#core.readNamespacedPod({ name, namespace })) as PodObject;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async getNamespace(name: string): Promise<Labelled | undefined> {
    const cached = this.#namespaces.get(name);
    if (cached !== undefined) return cached;
    try {
      const n = await this.#core.readNamespace({ name });
      return { labels: n.metadata?.labels ?? {}, annotations: n.metadata?.annotations ?? {} };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async getNode(name: string): Promise<Labelled | undefined> {
    // Node labels change rarely; a short TTL keeps the API out of the hot path.
    if (this.#node !== undefined && Date.now() - this.#node.at < 30_000) return this.#node.value;
    try {
      const n = await this.#core.readNode({ name });
      this.#node = {
        at: Date.now(),
        value: { labels: n.metadata?.labels ?? {}, annotations: n.metadata?.annotations ?? {} },
      };
    } catch (e) {
      if (!isNotFound(e)) throw e;
      this.#node = { at: Date.now(), value: undefined };
    }
    return this.#node.value;
  }

  waitForPoolChange(ms: number, interested?: (pool: SpiderIPPool) => boolean): Promise<boolean> {
    return this.#poolChanges.wait(ms, interested);
  }

  getJobOwner(namespace: string, name: string): Promise<ControllerRef | undefined> {
    return controllerOf(this.#batch.readNamespacedJob({ name, namespace }));
  }

  getReplicaSetOwner(namespace: string, name: string): Promise<ControllerRef | undefined> {
    return controllerOf(this.#apps.readNamespacedReplicaSet({ name, namespace }));
  }

  async getStatefulSet(namespace: string, name: string): Promise<StatefulSetView | undefined> {
    try {
      const sts = await this.#apps.readNamespacedStatefulSet({ name, namespace });
      return {
        replicas: sts.spec?.replicas ?? 1,
        ordinalsStart: sts.spec?.ordinals?.start ?? 0,
        deleting: sts.metadata?.deletionTimestamp !== undefined,
      };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async getEndpoint(
    namespace: string,
    name: string,
    fresh = false,
  ): Promise<SpiderEndpoint | undefined> {
    if (!fresh) {
      // This node's endpoints are watched, and our own writes are written through.
      const cached = this.#endpoints.get(`${namespace}/${name}`);
      if (cached !== undefined || this.ready()) return cached;
    }
    try {
      return (await this.#custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: Plural.endpoint,
        namespace,
        name,
      })) as SpiderEndpoint;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async listEndpoints(node: string): Promise<SpiderEndpoint[]> {
    // This node's only (review #19): a cluster-wide list grows with the cluster, per GC call.
    const r = (await this.#custom.listCustomObjectForAllNamespaces({
      group: GROUP,
      version: VERSION,
      resourcePlural: Plural.endpoint,
      labelSelector: `${Label.endpointNode}=${node}`,
    })) as { items: SpiderEndpoint[] };
    return r.items;
  }

  /** Our own endpoint writes go into the cache at once (the watch may be a moment behind). */
  #remember(ep: SpiderEndpoint): SpiderEndpoint {
    const key = `${ep.metadata.namespace ?? ''}/${ep.metadata.name}`;
    // One that is being deleted vanishes with its last finalizer: never cache it back.
    if (ep.metadata.deletionTimestamp === undefined) this.#endpoints.set(key, ep);
    else this.#endpoints.delete(key);
    return ep;
  }

  async createEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint> {
    return this.#remember(
      (await this.#custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: Plural.endpoint,
        namespace: ep.metadata.namespace!,
        body: ep,
      })) as SpiderEndpoint,
    );
  }

  async replaceEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint> {
    return this.#remember(
      (await this.#custom.replaceNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: Plural.endpoint,
        namespace: ep.metadata.namespace!,
        name: ep.metadata.name,
        body: ep,
      })) as SpiderEndpoint,
    );
  }

  async deleteEndpoint(
    namespace: string,
    name: string,
    preconditions: DeletePreconditions,
  ): Promise<void> {
    await this.#custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: Plural.endpoint,
      namespace,
      name,
      // Only the object we judged: a successor's endpoint (new UID or newer write) is kept.
      body: { preconditions: { ...preconditions } },
    });
    const key = `${namespace}/${name}`;
    if (this.#endpoints.get(key)?.metadata.uid === preconditions.uid) this.#endpoints.delete(key);
  }
}
