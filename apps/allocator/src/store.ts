import type { OwnerReference, SpiderEndpoint, SpiderIPPool, SpiderReservedIP } from '@nicpool/crds';
import type { PoolPort } from './pool-commit.ts';

/** The parts of a Pod the allocator reads. */
export interface PodObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
    readonly deletionTimestamp?: string | Date;
    readonly ownerReferences?: readonly OwnerReference[];
  };
  readonly spec?: { readonly nodeName?: string };
  readonly status?: { readonly phase?: string };
}

export interface Labelled {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/**
 * The allocator's port to the state of record. The Kubernetes implementation serves pools,
 * reserved IPs and namespaces from watch caches; the in-memory one backs integration tests.
 * Failed calls throw errors carrying the HTTP status as `code` (409 → conflict, 404 → gone).
 */
export interface AllocatorStore extends PoolPort {
  /** True once the caches have synced. */
  ready(): boolean;
  pools(): readonly SpiderIPPool[];
  reservedIPs(): readonly SpiderReservedIP[];
  /** From the watch of this node's pods; `fresh` (or a cache miss) reads the API server. */
  getPod(namespace: string, name: string, fresh?: boolean): Promise<PodObject | undefined>;
  getNamespace(name: string): Promise<Labelled | undefined>;
  getNode(name: string): Promise<Labelled | undefined>;
  /**
   * Resolves after the next change to any pool (true) or after `ms` (false): how ADD waits
   * for the controller to create or grow an auto-pool without polling.
   */
  waitForPoolChange(ms: number): Promise<boolean>;
  /** The controller owning a Job (a CronJob), undefined for none or when the Job is gone. */
  getJobOwner(namespace: string, name: string): Promise<{ kind: string; name: string } | undefined>;
  /** Replicas of a StatefulSet, undefined when it does not exist. */
  getStatefulSetReplicas(namespace: string, name: string): Promise<number | undefined>;
  /** From the watch of this node's endpoints (our writes written through); `fresh` reads the API server. */
  getEndpoint(
    namespace: string,
    name: string,
    fresh?: boolean,
  ): Promise<SpiderEndpoint | undefined>;
  /** This node's SpiderEndpoints (GC). */
  listEndpoints(): Promise<SpiderEndpoint[]>;
  createEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint>;
  replaceEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint>;
  /**
   * Deletes only the object judged: Kubernetes DeleteOptions preconditions, 409 when the
   * stored object has another `metadata.uid` or `resourceVersion` (e.g. the endpoint was
   * replaced for the pod's successor in between).
   */
  deleteEndpoint(
    namespace: string,
    name: string,
    preconditions: DeletePreconditions,
  ): Promise<void>;
}

/** Kubernetes DeleteOptions.preconditions: both of the object's metadata. */
export interface DeletePreconditions {
  readonly uid: string;
  readonly resourceVersion: string;
}

/** Wakes everyone waiting for the next change, or each waiter after its own timeout. */
export class ChangeSignal {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  /** True on a change within `ms`, false after `ms` without one. */
  wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        resolve(false);
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.add(done);
    });
  }
}
