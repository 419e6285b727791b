import { randomUUID } from 'node:crypto';
import { Label } from '@nicpool/annotations';
import type {
  PoolIPAllocation,
  SpiderEndpoint,
  SpiderIPPool,
  SpiderReservedIP,
} from '@nicpool/crds';
import {
  ChangeSignal,
  type AllocatorStore,
  PoolCache,
  type ControllerRef,
  type DeletePreconditions,
  type HeldRecord,
  type Labelled,
  type PodObject,
  type StatefulSetView,
} from './store.ts';

const apiError = (code: number, message: string): Error =>
  Object.assign(new Error(message), { code });
const clone = <T>(v: T): T => structuredClone(v);

/* eslint-disable @typescript-eslint/require-await -- a fake of an async port */

/**
 * An in-memory AllocatorStore with Kubernetes' optimistic-locking semantics
 * (resourceVersion checked on every write, 409 on a stale one). For tests.
 */
export class MemoryStore implements AllocatorStore {
  #rv = 1;
  /** The state of record itself, so no resourceVersion ordering (tests set pools freely). */
  readonly poolsByName = new PoolCache();
  readonly reserved: SpiderReservedIP[] = [];
  readonly podsByKey = new Map<string, PodObject>();
  readonly namespaces = new Map<string, Labelled>();
  readonly nodes = new Map<string, Labelled>();
  readonly statefulSets = new Map<string, StatefulSetView>();
  readonly endpoints = new Map<string, SpiderEndpoint>();
  writes = 0;
  readonly jobOwners = new Map<string, ControllerRef>();
  readonly replicaSetOwners = new Map<string, ControllerRef>();
  /** ReplicaSet reads, for tests of the owner cache. */
  replicaSetReads = 0;
  readonly #poolChanges = new ChangeSignal<SpiderIPPool>();
  /** Makes the next N pool writes fail with 409, as a concurrent writer would. */
  injectConflicts = 0;

  ready(): boolean {
    return true;
  }

  addPool(pool: SpiderIPPool): void {
    const stored = {
      ...clone(pool),
      metadata: { ...pool.metadata, resourceVersion: String(this.#rv++) },
    };
    this.poolsByName.set(pool.metadata.name, stored);
    this.#poolChanges.notify(stored);
  }

  waitForPoolChange(ms: number, interested?: (pool: SpiderIPPool) => boolean): Promise<boolean> {
    return this.#poolChanges.wait(ms, interested);
  }

  async getJobOwner(namespace: string, name: string): Promise<ControllerRef | undefined> {
    return this.jobOwners.get(`${namespace}/${name}`);
  }

  async getReplicaSetOwner(namespace: string, name: string): Promise<ControllerRef | undefined> {
    this.replicaSetReads++;
    return this.replicaSetOwners.get(`${namespace}/${name}`);
  }

  pools(): readonly SpiderIPPool[] {
    return [...this.poolsByName.values()].map(clone);
  }

  cachedPool(name: string): SpiderIPPool | undefined {
    const p = this.poolsByName.get(name);
    return p === undefined ? undefined : clone(p);
  }

  heldBy(podUid: string): readonly HeldRecord[] {
    return this.poolsByName.heldBy(podUid);
  }

  heldByName(pod: string): readonly HeldRecord[] {
    return this.poolsByName.heldByName(pod);
  }

  unreadablePools(): ReadonlyMap<string, string> {
    return this.poolsByName.unreadable();
  }

  reservedIPs(): readonly SpiderReservedIP[] {
    return this.reserved;
  }

  async readPool(name: string): Promise<SpiderIPPool> {
    const p = this.poolsByName.get(name);
    if (p === undefined) throw apiError(404, `spiderippools "${name}" not found`);
    return clone(p);
  }

  cachedRecords(pool: SpiderIPPool): ReadonlyMap<string, PoolIPAllocation> | undefined {
    return this.poolsByName.recordsOf(pool);
  }

  async writePoolStatus(
    pool: SpiderIPPool,
    records?: ReadonlyMap<string, PoolIPAllocation>,
  ): Promise<SpiderIPPool> {
    const cur = this.poolsByName.get(pool.metadata.name);
    if (cur === undefined) throw apiError(404, 'not found');
    if (this.injectConflicts > 0) {
      this.injectConflicts--;
      // Someone else wrote in between: bump the version so the caller's read is stale.
      cur.metadata.resourceVersion = String(this.#rv++);
      throw apiError(409, 'the object has been modified');
    }
    if (cur.metadata.resourceVersion !== pool.metadata.resourceVersion)
      throw apiError(409, 'the object has been modified');
    this.writes++;
    const next = {
      ...cur,
      status: clone(pool.status),
      metadata: { ...cur.metadata, resourceVersion: String(this.#rv++) },
    };
    // As KubeStore: the write-through is indexed from the records the committer encoded.
    const text = next.status?.allocatedIPs;
    const done =
      records === undefined
        ? () => undefined
        : this.poolsByName.expectWrite(pool.metadata.name, { text, records });
    this.poolsByName.set(pool.metadata.name, next);
    done();
    return clone(next);
  }

  async getPod(namespace: string, name: string): Promise<PodObject | undefined> {
    return this.podsByKey.get(`${namespace}/${name}`);
  }

  async getNamespace(name: string): Promise<Labelled | undefined> {
    return this.namespaces.get(name) ?? { labels: {}, annotations: {} };
  }

  async getNode(name: string): Promise<Labelled | undefined> {
    return this.nodes.get(name) ?? { labels: {}, annotations: {} };
  }

  async getStatefulSet(namespace: string, name: string): Promise<StatefulSetView | undefined> {
    return this.statefulSets.get(`${namespace}/${name}`);
  }

  /** The one copy is always fresh; `fresh` is kept so tests can wrap the port's signature. */
  async getEndpoint(
    namespace: string,
    name: string,
    _fresh?: boolean,
  ): Promise<SpiderEndpoint | undefined> {
    const e = this.endpoints.get(`${namespace}/${name}`);
    return e === undefined ? undefined : clone(e);
  }

  async listEndpoints(node: string): Promise<SpiderEndpoint[]> {
    return [...this.endpoints.values()]
      .filter((e) => e.metadata.labels?.[Label.endpointNode] === node)
      .map(clone);
  }

  async createEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint> {
    const key = `${ep.metadata.namespace}/${ep.metadata.name}`;
    if (this.endpoints.has(key)) throw apiError(409, 'already exists');
    // Like the API server: every object gets its own UID, which delete preconditions name.
    const stored = {
      ...clone(ep),
      metadata: { ...ep.metadata, uid: randomUUID(), resourceVersion: String(this.#rv++) },
    };
    this.endpoints.set(key, stored);
    return clone(stored);
  }

  async replaceEndpoint(ep: SpiderEndpoint): Promise<SpiderEndpoint> {
    const key = `${ep.metadata.namespace}/${ep.metadata.name}`;
    const cur = this.endpoints.get(key);
    if (cur === undefined) throw apiError(404, 'not found');
    if (cur.metadata.resourceVersion !== ep.metadata.resourceVersion)
      throw apiError(409, 'the object has been modified');
    const stored = {
      ...clone(ep),
      metadata: { ...ep.metadata, uid: cur.metadata.uid, resourceVersion: String(this.#rv++) },
    };
    this.endpoints.set(key, stored);
    return clone(stored);
  }

  async deleteEndpoint(
    namespace: string,
    name: string,
    preconditions: DeletePreconditions,
  ): Promise<void> {
    const key = `${namespace}/${name}`;
    const cur = this.endpoints.get(key);
    if (cur === undefined) throw apiError(404, 'not found');
    // The API server's answer to DeleteOptions.preconditions that no longer hold.
    if (cur.metadata.uid !== preconditions.uid)
      throw apiError(409, `Precondition failed: UID in precondition: ${preconditions.uid}`);
    if (cur.metadata.resourceVersion !== preconditions.resourceVersion)
      throw apiError(
        409,
        `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}`,
      );
    this.endpoints.delete(key);
  }
}
