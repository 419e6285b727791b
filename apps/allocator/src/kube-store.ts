import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  makeInformer,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { Label } from '@nicpool/annotations';
import {
  GROUP,
  VERSION,
  type SpiderEndpoint,
  type SpiderIPPool,
  type SpiderReservedIP,
} from '@nicpool/crds';
import { isNotFound, Plural } from '@nicpool/kube';
import type { AllocatorStore, Labelled, PodObject } from './store.ts';

type Log = (msg: string, err?: unknown) => void;

/**
 * AllocatorStore on the Kubernetes API. Pools, reserved IPs and namespaces come from
 * watches (list + watch, restarted on error); our own pool writes are written through to
 * the cache so the next batch starts from the newest resourceVersion.
 */
export class KubeStore implements AllocatorStore {
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #pools = new Map<string, SpiderIPPool>();
  readonly #reserved = new Map<string, SpiderReservedIP>();
  readonly #namespaces = new Map<string, Labelled>();
  /** This node's pods and SpiderEndpoints, keyed `namespace/name`. */
  readonly #pods = new Map<string, PodObject>();
  readonly #endpoints = new Map<string, SpiderEndpoint>();
  readonly #synced = new Set<string>();
  readonly #stops: (() => Promise<void>)[] = [];
  #node: { at: number; value: Labelled | undefined } | undefined;
  readonly #log: Log;

  constructor(kc: KubeConfig, nodeName: string, log: Log) {
    this.#log = log;
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    // Custom objects arrive as plain JSON (timestamps are strings), unlike client-node's typed kinds.
    this.#watch(
      kc,
      'pools',
      `/apis/${GROUP}/${VERSION}/${Plural.ippool}`,
      () => this.#listCluster(Plural.ippool),
      this.#pools,
      (p) => p as unknown as SpiderIPPool,
    );
    this.#watch(
      kc,
      'reservedips',
      `/apis/${GROUP}/${VERSION}/${Plural.reservedIP}`,
      () => this.#listCluster(Plural.reservedIP),
      this.#reserved,
      (p) => p as unknown as SpiderReservedIP,
    );
    const nodePods = `spec.nodeName=${nodeName}`;
    const nodeEndpoints = `${Label.endpointNode}=${nodeName}`;
    const nsKey = (o: KubernetesObject): string =>
      `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    this.#watchFiltered(
      'pods',
      '/api/v1/pods',
      async () =>
        (await this.#core.listPodForAllNamespaces({
          fieldSelector: nodePods,
        })) as KubernetesListObject<KubernetesObject>,
      this.#pods,
      (o) => o as unknown as PodObject,
      nsKey,
      kc,
      undefined,
      nodePods,
    );
    this.#watchFiltered(
      'endpoints',
      `/apis/${GROUP}/${VERSION}/${Plural.endpoint}`,
      async () =>
        (await this.#custom.listCustomObjectForAllNamespaces({
          group: GROUP,
          version: VERSION,
          resourcePlural: Plural.endpoint,
          labelSelector: nodeEndpoints,
        })) as KubernetesListObject<KubernetesObject>,
      this.#endpoints,
      (o) => o as unknown as SpiderEndpoint,
      nsKey,
      kc,
      nodeEndpoints,
      undefined,
    );
    this.#watch(
      kc,
      'namespaces',
      '/api/v1/namespaces',
      async () => (await this.#core.listNamespace()) as KubernetesListObject<KubernetesObject>,
      this.#namespaces,
      (n: KubernetesObject) => ({
        labels: n.metadata?.labels ?? {},
        annotations: n.metadata?.annotations ?? {},
      }),
    );
  }

  async #listCluster(plural: string): Promise<KubernetesListObject<KubernetesObject>> {
    return (await this.#custom.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural,
    })) as KubernetesListObject<KubernetesObject>;
  }

  #watch<T extends KubernetesObject, V>(
    kc: KubeConfig,
    what: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    into: Map<string, V>,
    map: (o: T) => V,
  ): void {
    const informer = makeInformer<T>(kc, path, list);
    const put = (o: T): void => void into.set(o.metadata?.name ?? '', map(o));
    informer.on('add', put);
    informer.on('update', put);
    informer.on('delete', (o) => void into.delete(o.metadata?.name ?? ''));
    informer.on('error', (e) => {
      this.#log(`watch of ${what} failed; restarting in 1s`, e);
      setTimeout(
        () =>
          void informer
            .start()
            .catch((err: unknown) => this.#log(`restarting the watch of ${what} failed`, err)),
        1000,
      );
    });
    informer.on('connect', () => this.#synced.add(what));
    this.#stops.push(() => informer.stop());
    informer.start().then(
      () => this.#synced.add(what),
      (e: unknown) => this.#log(`initial list of ${what} failed`, e),
    );
  }

  /** List + watch with label/field selectors (makeInformer takes no field selector). */
  #watchFiltered<V>(
    what: string,
    path: string,
    list: () => Promise<KubernetesListObject<KubernetesObject>>,
    into: Map<string, V>,
    map: (o: KubernetesObject) => V,
    key: (o: KubernetesObject) => string,
    kc: KubeConfig,
    labelSelector: string | undefined,
    fieldSelector: string | undefined,
  ): void {
    const lw = new ListWatch<KubernetesObject>(
      path,
      new Watch(kc),
      list,
      false,
      labelSelector,
      fieldSelector,
    );
    lw.on('add', (o) => void into.set(key(o), map(o)));
    lw.on('update', (o) => void into.set(key(o), map(o)));
    lw.on('delete', (o) => void into.delete(key(o)));
    lw.on('error', (e) => {
      this.#log(`watch of ${what} failed; restarting in 1s`, e);
      setTimeout(
        () =>
          void lw
            .start()
            .catch((err: unknown) => this.#log(`restarting the watch of ${what} failed`, err)),
        1000,
      );
    });
    this.#stops.push(() => lw.stop());
    lw.start().then(
      () => this.#synced.add(what),
      (e: unknown) => this.#log(`initial list of ${what} failed`, e),
    );
  }

  ready(): boolean {
    return this.#synced.size === 5;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#stops.map((s) => s()));
  }

  pools(): readonly SpiderIPPool[] {
    return [...this.#pools.values()];
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
    this.#pools.set(name, p);
    return p;
  }

  async writePoolStatus(pool: SpiderIPPool): Promise<SpiderIPPool> {
    const written = (await this.#custom.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: Plural.ippool,
      name: pool.metadata.name,
      body: pool,
    })) as SpiderIPPool;
    this.#pools.set(written.metadata.name, written);
    return written;
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

  async getStatefulSetReplicas(namespace: string, name: string): Promise<number | undefined> {
    try {
      return (await this.#apps.readNamespacedStatefulSet({ name, namespace })).spec?.replicas ?? 1;
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

  async listEndpoints(): Promise<SpiderEndpoint[]> {
    const r = (await this.#custom.listCustomObjectForAllNamespaces({
      group: GROUP,
      version: VERSION,
      resourcePlural: Plural.endpoint,
    })) as { items: SpiderEndpoint[] };
    return r.items;
  }

  async createEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint> {
    return (await this.#custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: Plural.endpoint,
      namespace: ep.metadata.namespace!,
      body: ep,
    })) as SpiderEndpoint;
  }

  async replaceEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint> {
    return (await this.#custom.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: Plural.endpoint,
      namespace: ep.metadata.namespace!,
      name: ep.metadata.name,
      body: ep,
    })) as SpiderEndpoint;
  }

  async deleteEndpoint(namespace: string, name: string): Promise<void> {
    await this.#custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: Plural.endpoint,
      namespace,
      name,
    });
  }
}
