/**
 * Kubernetes Events for what an admin must know (controllers.md): shown by
 * `kubectl describe` on the workload or pool. The same event is not repeated within the
 * quiet period, so a level-triggered loop cannot flood the API.
 */
export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Cluster-scoped objects (pools, subnets) get their events in the configured namespace. */
  readonly namespace?: string;
  readonly uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventSink {
  emit(target: EventTarget, type: EventType, reason: string, message: string): void;
}

/** Stable reasons: admins and alerts match on them. */
export const Reason = {
  poolCreated: 'AutoPoolCreated',
  poolResized: 'AutoPoolResized',
  poolDeleted: 'AutoPoolReclaimed',
  poolAdopted: 'AutoPoolAdopted',
  poolCannotShrink: 'AutoPoolCannotShrink',
  subnetExhausted: 'SubnetExhausted',
  subnetNotFound: 'SubnetNotFound',
  subnetChanged: 'SubnetChanged',
  subnetUnreadable: 'SubnetUnreadable',
  invalidAnnotation: 'InvalidAnnotation',
  leakReleased: 'LeakedIPReleased',
} as const;

/** Drops repeats of (object, reason, message) within `quietMs`. */
export class Deduper {
  readonly #last = new Map<string, number>();
  readonly #quietMs: number;

  constructor(quietMs: number) {
    this.#quietMs = quietMs;
  }

  admit(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#quietMs) return false;
    this.#last.set(key, now);
    if (this.#last.size > 10_000) {
      for (const [k, t] of this.#last) if (now - t >= this.#quietMs) this.#last.delete(k);
    }
    return true;
  }
}
