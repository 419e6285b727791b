import {
  CustomObjectsApi,
  CoreV1Api,
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import {
  GROUP,
  VERSION,
  type SpiderIPPool,
  type SpiderReservedIP,
  type SpiderSubnet,
} from '@nicpool/crds';
import { Plural } from '@nicpool/kube';
import type { NAD, Snapshot } from './snapshot.ts';

type Log = (msg: string, err?: unknown) => void;

/** Watch-fed caches of everything admission decisions read (never a GET per request). */
export class KubeCaches {
  readonly #maps = {
    pools: new Map<string, SpiderIPPool>(),
    subnets: new Map<string, SpiderSubnet>(),
    reserved: new Map<string, SpiderReservedIP>(),
    namespaces: new Map<string, { labels: Record<string, string> }>(),
    nads: new Map<string, NAD>(),
  };
  readonly #synced = new Set<string>();
  /** Rebuilt only after a watch event, so decisions can memoize per snapshot. */
  #snapshot: Snapshot | undefined;
  readonly #stops: (() => Promise<void>)[] = [];
  readonly #log: Log;

  constructor(kc: KubeConfig, log: Log) {
    this.#log = log;
    const custom = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const list = (plural: string) => async (): Promise<KubernetesListObject<KubernetesObject>> =>
      (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural,
      })) as KubernetesListObject<KubernetesObject>;
    const key = (o: KubernetesObject): string =>
      `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    // Custom objects arrive as plain JSON (timestamps are strings).
    this.#watch(
      kc,
      'pools',
      `/apis/${GROUP}/${VERSION}/${Plural.ippool}`,
      list(Plural.ippool),
      this.#maps.pools,
      (o) => o as unknown as SpiderIPPool,
      key,
    );
    this.#watch(
      kc,
      'subnets',
      `/apis/${GROUP}/${VERSION}/${Plural.subnet}`,
      list(Plural.subnet),
      this.#maps.subnets,
      (o) => o as unknown as SpiderSubnet,
      key,
    );
    this.#watch(
      kc,
      'reservedips',
      `/apis/${GROUP}/${VERSION}/${Plural.reservedIP}`,
      list(Plural.reservedIP),
      this.#maps.reserved,
      (o) => o as unknown as SpiderReservedIP,
      key,
    );
    this.#watch(
      kc,
      'namespaces',
      '/api/v1/namespaces',
      async () => (await core.listNamespace()) as KubernetesListObject<KubernetesObject>,
      this.#maps.namespaces,
      (o) => ({ labels: o.metadata?.labels ?? {} }),
      (o) => o.metadata?.name ?? '',
    );
    this.#watch(
      kc,
      'network-attachment-definitions',
      '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions',
      async () =>
        (await custom.listCustomObjectForAllNamespaces({
          group: 'k8s.cni.cncf.io',
          version: 'v1',
          resourcePlural: 'network-attachment-definitions',
        })) as KubernetesListObject<KubernetesObject>,
      this.#maps.nads,
      (o) => ({
        namespace: o.metadata?.namespace ?? '',
        name: o.metadata?.name ?? '',
        config: (o as { spec?: { config?: string } }).spec?.config ?? '',
      }),
      key,
    );
  }

  #watch<V>(
    kc: KubeConfig,
    what: string,
    path: string,
    list: () => Promise<KubernetesListObject<KubernetesObject>>,
    into: Map<string, V>,
    map: (o: KubernetesObject) => V,
    key: (o: KubernetesObject) => string,
  ): void {
    const informer = makeInformer(kc, path, list);
    informer.on('add', (o) => {
      into.set(key(o), map(o));
      this.#snapshot = undefined;
    });
    informer.on('update', (o) => {
      into.set(key(o), map(o));
      this.#snapshot = undefined;
    });
    informer.on('delete', (o) => {
      into.delete(key(o));
      this.#snapshot = undefined;
    });
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
    this.#stops.push(() => informer.stop());
    informer.start().then(
      () => this.#synced.add(what),
      (e: unknown) => this.#log(`initial list of ${what} failed`, e),
    );
  }

  ready(): boolean {
    return this.#synced.size === 5;
  }

  snapshot(): Snapshot {
    this.#snapshot ??= {
      pools: [...this.#maps.pools.values()],
      subnets: [...this.#maps.subnets.values()],
      reservedIPs: [...this.#maps.reserved.values()],
      namespaces: this.#maps.namespaces,
      nads: [...this.#maps.nads.values()],
    };
    return this.#snapshot;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#stops.map((s) => s()));
  }
}
