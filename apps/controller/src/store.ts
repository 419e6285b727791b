import type { WorkloadKind } from '@nicpool/annotations';
import type { SpiderEndpoint, SpiderIPPool, SpiderReservedIP, SpiderSubnet } from '@nicpool/crds';
import type { EventSink } from './events.ts';
import type { PodState } from './gc.ts';
import type { Workload } from './workload.ts';

export type Kind = 'pool' | 'subnet' | 'workload' | 'pod' | 'endpoint' | 'reservedip';

/** What changed, for queueing reconciles. `workload` keys are `Kind/namespace/name`. */
export interface Change {
  readonly kind: Kind;
  readonly key: string;
  readonly type: 'add' | 'update' | 'delete';
  /** Label set of a pool (to find its subnet and workload after it is gone). */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * What the controller keeps of a SpiderEndpoint (one per pod of the cluster): enough for
 * GC to judge it; a delete re-reads the whole object first.
 */
export interface EndpointView {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
  };
  readonly status?: {
    readonly current?: {
      readonly uid: string;
      /** Only the pools each address came from (GC: is it held by an unreadable pool?). */
      readonly ips?: readonly { readonly ipv4Pool?: string; readonly ipv6Pool?: string }[];
    };
    readonly ownerControllerType?: string;
    readonly ownerControllerName?: string;
  };
}

/**
 * The controller's port to the state of record: watch-fed caches (with our writes
 * written through) and the writes. Failed calls throw errors carrying the HTTP status.
 */
export interface ControllerStore {
  ready(): boolean;
  pools(): readonly SpiderIPPool[];
  pool(name: string): SpiderIPPool | undefined;
  /** Pools whose owner labels name this application (`ipam.spidernet.io/owner-application-*`). */
  autoPoolsOf(kind: string, namespace: string, nameLabel: string): readonly SpiderIPPool[];
  subnets(): readonly SpiderSubnet[];
  subnet(name: string): SpiderSubnet | undefined;
  reservedIPs(): readonly SpiderReservedIP[];
  endpoints(): readonly EndpointView[];
  endpoint(namespace: string, name: string): EndpointView | undefined;
  workloads(kind?: WorkloadKind, namespace?: string): readonly Workload[];
  workload(kind: WorkloadKind, namespace: string, name: string): Workload | undefined;
  pod(namespace: string, name: string): PodState | undefined;
  /** Grace period of a pod seen deleted (kept for an hour). */
  lastGrace(namespace: string, name: string): number | undefined;

  readPool(name: string): Promise<SpiderIPPool | undefined>;
  readSubnet(name: string): Promise<SpiderSubnet | undefined>;
  readPod(namespace: string, name: string): Promise<PodState | undefined>;
  readEndpoint(namespace: string, name: string): Promise<SpiderEndpoint | undefined>;
  createPool(p: SpiderIPPool): Promise<SpiderIPPool>;
  /** PUT of the main resource (spec, metadata), conditional on resourceVersion. */
  replacePool(p: SpiderIPPool): Promise<SpiderIPPool>;
  replacePoolStatus(p: SpiderIPPool): Promise<SpiderIPPool>;
  deletePool(name: string): Promise<void>;
  replaceSubnet(s: SpiderSubnet): Promise<SpiderSubnet>;
  replaceSubnetStatus(s: SpiderSubnet): Promise<SpiderSubnet>;
  replaceEndpoint(e: SpiderEndpoint): Promise<SpiderEndpoint>;
  /** With `only`, the delete applies to that very object (UID and resourceVersion) or fails with 409. */
  deleteEndpoint(
    namespace: string,
    name: string,
    only?: { uid: string; resourceVersion: string },
  ): Promise<void>;
  events: EventSink;
  /** Starts the watches; `onChange` hears every event. */
  start(onChange: (c: Change) => void): void;
  stop(): Promise<void>;
}
