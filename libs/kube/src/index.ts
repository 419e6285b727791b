/**
 * The one adapter around @kubernetes/client-node (ESM-only, pinned: its HTTP layer changed
 * at 1.0 and 2.0). Apps talk to Kubernetes through this module only, so a client upgrade
 * touches one place.
 */
import { createHash } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION } from '@nicpool/crds';
import { isNotFound } from './errors.ts';
import type { ListPage } from './watch.ts';

export type { KubeConfig };

/** Where to find credentials: a kubeconfig file, inline YAML, or the in-cluster ServiceAccount. */
export type KubeConfigSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'inline'; readonly yaml: string }
  | { readonly kind: 'in-cluster' };

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kind === 'file') kc.loadFromFile(source.path);
  else if (source.kind === 'inline') kc.loadFromString(source.yaml);
  else kc.loadFromCluster();
  if (kc.getCurrentCluster() === null) throw new Error('kubeconfig has no current cluster');
  return reuseConnections(kc);
}

type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => unknown;

/**
 * client-node 2.0.x builds a new HTTP dispatcher (undici Agent) for every request, so every
 * API call paid a TCP and TLS handshake and left one more connection open until it idled
 * out: about 3× the time of a request on a kept-alive connection here. This keeps one
 * dispatcher per TLS identity (CA, client certificate, key, server name: what the options
 * of a dispatcher are made of), so requests reuse its pooled connections. Bounded: one
 * entry per identity the kubeconfig has used (a rotated client certificate adds one; the
 * oldest is dropped past 4). The method is private in the typings (pinned 2.0.x);
 * kube.test.ts fails if it goes away in an upgrade.
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as {
    createDispatcher: CreateDispatcher;
    createDispatcherOptions: (cluster: unknown, agentOptions: unknown) => unknown;
  };
  const create = target.createDispatcher.bind(kc);
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    // Certificates and keys as their digests (a Buffer would reach a replacer as toJSON's array).
    const key = JSON.stringify(
      target.createDispatcherOptions(cluster, agentOptions),
      function (this: Record<string, unknown>, k: string, v: unknown) {
        const raw = this[k];
        return raw instanceof Uint8Array ? createHash('sha256').update(raw).digest('hex') : v;
      },
    );
    if (cache.has(key)) return cache.get(key);
    const dispatcher = create(cluster, agentOptions);
    if (cache.size >= 4) cache.delete(cache.keys().next().value!);
    cache.set(key, dispatcher);
    return dispatcher;
  };
  return kc;
}

export { apiStatus, isConflict, isNotFound } from './errors.ts';
export {
  DEFAULT_RETRY,
  RetriesExhaustedError,
  retryOnConflict,
  type RetryOptions,
} from './retry.ts';

/** Plural names of the nicpool custom resources. */
export const Plural = {
  ippool: 'spiderippools',
  subnet: 'spidersubnets',
  endpoint: 'spiderendpoints',
  reservedIP: 'spiderreservedips',
} as const;
export type Plural = (typeof Plural)[keyof typeof Plural];

/**
 * The `list` of a WatchSpec over a cluster-scoped nicpool collection (one page per call).
 * Custom objects arrive as plain JSON (timestamps are strings), unlike client-node's typed kinds.
 */
export function listClusterObjects(
  custom: CustomObjectsApi,
  plural: Plural,
): (page: ListPage) => Promise<KubernetesListObject<KubernetesObject>> {
  return async (page) =>
    (await custom.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural,
      ...page,
    })) as KubernetesListObject<KubernetesObject>;
}

/** Typed access to cluster-scoped nicpool objects. */
export class ClusterObjects<T extends { metadata: { name: string } }> {
  readonly #api: CustomObjectsApi;
  readonly #plural: Plural;

  constructor(api: CustomObjectsApi, plural: Plural) {
    this.#api = api;
    this.#plural = plural;
  }

  async get(name: string): Promise<T> {
    return (await this.#api.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: this.#plural,
      name,
    })) as T;
  }

  /** Like {@link get}, but undefined when the object does not exist. */
  async find(name: string): Promise<T | undefined> {
    try {
      return await this.get(name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(): Promise<{ items: T[]; resourceVersion: string }> {
    const r = (await this.#api.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: this.#plural,
    })) as {
      items: T[];
      metadata?: { resourceVersion?: string };
    };
    return { items: r.items, resourceVersion: r.metadata?.resourceVersion ?? '' };
  }

  async create(obj: T): Promise<T> {
    return (await this.#api.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: this.#plural,
      body: obj,
    })) as T;
  }

  /** Replaces spec and metadata; `obj.metadata.resourceVersion` makes it conditional (409 on a stale read). */
  async replace(obj: T): Promise<T> {
    return (await this.#api.replaceClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: this.#plural,
      name: obj.metadata.name,
      body: obj,
    })) as T;
  }

  /** Replaces the status; `obj.metadata.resourceVersion` makes it conditional (409 on a stale read). */
  async replaceStatus(obj: T): Promise<T> {
    return (await this.#api.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: this.#plural,
      name: obj.metadata.name,
      body: obj,
    })) as T;
  }

  async delete(name: string): Promise<void> {
    await this.#api.deleteClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: this.#plural,
      name,
    });
  }
}

export interface KubeClients {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly server: string;
}

export function createKubeClients(kc: KubeConfig): KubeClients {
  return {
    config: kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    server: kc.getCurrentCluster()?.server ?? '',
  };
}

export { API_VERSION };
export {
  objectKey,
  watchInto,
  type ListPage,
  type WatchEventType,
  type WatchOptions,
  type WatchRequest,
  type WatchSpec,
  type WatchTransport,
  type Watching,
} from './watch.ts';
