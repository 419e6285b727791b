import {
  CustomObjectsApi,
  CoreV1Api,
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
import { listClusterObjects, objectKey, Plural, type Watching, watchInto } from '@nicpool/kube';
import type { NAD, Snapshot } from './snapshot.ts';

type Log = (msg: string, err?: unknown) => void;
type List = KubernetesListObject<KubernetesObject>;

/** Watch-fed caches of everything admission decisions read (never a GET per request). */
export class KubeCaches {
  readonly #maps = {
    pools: new Map<string, SpiderIPPool>(),
    subnets: new Map<string, SpiderSubnet>(),
    reserved: new Map<string, SpiderReservedIP>(),
    namespaces: new Map<string, { labels: Record<string, string> }>(),
    nads: new Map<string, NAD>(),
  };
  /** Rebuilt only after a watch event, so decisions can memoize per snapshot. */
  #snapshot: Snapshot | undefined;
  readonly #watches: Watching[];

  constructor(kc: KubeConfig, log: Log) {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const onChange = (): void => {
      this.#snapshot = undefined;
    };
    const name = (o: KubernetesObject): string => o.metadata?.name ?? '';
    const m = this.#maps;
    // Custom objects arrive as plain JSON (timestamps are strings).
    this.#watches = [
      watchInto(
        kc,
        {
          what: 'pools',
          path: `/apis/${GROUP}/${VERSION}/${Plural.ippool}`,
          list: listClusterObjects(custom, Plural.ippool),
          into: m.pools,
          map: (o) => o as unknown as SpiderIPPool,
          key: name,
          onChange,
        },
        log,
      ),
      watchInto(
        kc,
        {
          what: 'subnets',
          path: `/apis/${GROUP}/${VERSION}/${Plural.subnet}`,
          list: listClusterObjects(custom, Plural.subnet),
          into: m.subnets,
          map: (o) => o as unknown as SpiderSubnet,
          key: name,
          onChange,
        },
        log,
      ),
      watchInto(
        kc,
        {
          what: 'reservedips',
          path: `/apis/${GROUP}/${VERSION}/${Plural.reservedIP}`,
          list: listClusterObjects(custom, Plural.reservedIP),
          into: m.reserved,
          map: (o) => o as unknown as SpiderReservedIP,
          key: name,
          onChange,
        },
        log,
      ),
      watchInto(
        kc,
        {
          what: 'namespaces',
          path: '/api/v1/namespaces',
          list: async (page) => (await core.listNamespace(page)) as List,
          into: m.namespaces,
          map: (o) => ({ labels: o.metadata?.labels ?? {} }),
          key: name,
          onChange,
        },
        log,
      ),
      watchInto(
        kc,
        {
          what: 'network-attachment-definitions',
          path: '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions',
          list: async (page) =>
            (await custom.listCustomObjectForAllNamespaces({
              group: 'k8s.cni.cncf.io',
              version: 'v1',
              resourcePlural: 'network-attachment-definitions',
              ...page,
            })) as List,
          into: m.nads,
          map: (o) => ({
            namespace: o.metadata?.namespace ?? '',
            name: o.metadata?.name ?? '',
            config: (o as { spec?: { config?: string } }).spec?.config ?? '',
          }),
          key: objectKey,
          onChange,
        },
        log,
      ),
    ];
  }

  ready(): boolean {
    return this.#watches.every((w) => w.synced());
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
    await Promise.all(this.#watches.map((w) => w.stop()));
  }
}
