import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isNotFound } from '@nicpool/kube';
import type { LeaseRecord, LeaseStore } from './leader.ts';

/** The annotation that holds the leader's note (LeaseRecord.note): the GC's first sightings. */
export const NOTE_ANNOTATION = 'nicpool.spidernet.io/gc-first-seen';

export function fromLease(l: V1Lease): LeaseRecord {
  const s = l.spec ?? {};
  // MicroTime fields arrive as strings; client-node types them as Date.
  const time = (v: unknown): string | undefined =>
    v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : undefined;
  const acquireTime = time(s.acquireTime);
  const renewTime = time(s.renewTime);
  return {
    holder: s.holderIdentity ?? '',
    durationSeconds: s.leaseDurationSeconds ?? 15,
    transitions: s.leaseTransitions ?? 0,
    ...(acquireTime === undefined ? {} : { acquireTime }),
    ...(renewTime === undefined ? {} : { renewTime }),
    ...(l.metadata?.resourceVersion === undefined
      ? {}
      : { resourceVersion: l.metadata.resourceVersion }),
    ...(l.metadata?.annotations?.[NOTE_ANNOTATION] === undefined
      ? {}
      : { note: l.metadata.annotations[NOTE_ANNOTATION] }),
  };
}

export function toLease(namespace: string, name: string, r: LeaseRecord): V1Lease {
  return {
    metadata: {
      name,
      namespace,
      ...(r.resourceVersion === undefined ? {} : { resourceVersion: r.resourceVersion }),
      // A replace without it removes it: no note, no annotation.
      ...(r.note === undefined ? {} : { annotations: { [NOTE_ANNOTATION]: r.note } }),
    },
    spec: {
      holderIdentity: r.holder,
      leaseDurationSeconds: r.durationSeconds,
      leaseTransitions: r.transitions,
      // Sent as the API server's MicroTime text (client-node would send milliseconds).
      ...(r.acquireTime === undefined ? {} : { acquireTime: r.acquireTime as unknown as Date }),
      ...(r.renewTime === undefined ? {} : { renewTime: r.renewTime as unknown as Date }),
    },
  };
}

/** The leader Lease on the Kubernetes API. */
export function kubeLeaseStore(kc: KubeConfig, namespace: string, name: string): LeaseStore {
  const api = kc.makeApiClient(CoordinationV1Api);
  return {
    get: async () => {
      try {
        return fromLease(await api.readNamespacedLease({ namespace, name }));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    create: async (r) =>
      fromLease(await api.createNamespacedLease({ namespace, body: toLease(namespace, name, r) })),
    update: async (r) =>
      fromLease(
        await api.replaceNamespacedLease({ namespace, name, body: toLease(namespace, name, r) }),
      ),
  };
}
