/**
 * AdmissionReview (admission.k8s.io/v1) in and out, and the dispatch from a request to the
 * pure decision functions. The routes in app.ts are thin wrappers around `review`.
 */
import Type, { type Static } from 'typebox';
import type { Decision } from './decision.ts';
import { MultusAnnotation, PREFIX } from '@nicpool/annotations';
import { decideNamespace } from './decide-namespace.ts';
import { decidePodLike, podTemplateOf, WORKLOAD_KINDS } from './decide-pod.ts';
import { mutate, validate } from './decide-pool.ts';
import type { Snapshot } from './snapshot.ts';

export const AdmissionReview = Type.Object({
  apiVersion: Type.Literal('admission.k8s.io/v1'),
  kind: Type.Literal('AdmissionReview'),
  request: Type.Object(
    {
      uid: Type.String({ minLength: 1 }),
      kind: Type.Object({ group: Type.String(), version: Type.String(), kind: Type.String() }),
      operation: Type.String(),
      namespace: Type.Optional(Type.String()),
      name: Type.Optional(Type.String()),
      subResource: Type.Optional(Type.String()),
      object: Type.Optional(Type.Unknown()),
      oldObject: Type.Optional(Type.Unknown()),
      dryRun: Type.Optional(Type.Boolean()),
      userInfo: Type.Optional(
        Type.Object({ username: Type.Optional(Type.String()) }, { additionalProperties: true }),
      ),
    },
    { additionalProperties: true },
  ),
});
export type AdmissionReview = Static<typeof AdmissionReview>;

export interface AdmissionResponseBody {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; reason?: string };
    warnings?: string[];
    patch?: string;
    patchType?: 'JSONPatch';
  };
}

const POOL_KINDS = ['SpiderIPPool', 'SpiderSubnet', 'SpiderReservedIP'];
// The API server keeps warnings short; longer ones would be cut mid-word.
const MAX_WARNING = 250;

/** Who may do what beyond the rules: the controller alone edits auto-pools. */
export interface AdmissionPolicy {
  readonly controllerUsers: readonly string[];
}

/** Decides one request. `mutating` selects the mutating or the validating decision. */
export function decide(
  review: AdmissionReview,
  mutating: boolean,
  snap: Snapshot,
  policy: AdmissionPolicy = { controllerUsers: [] },
): Decision {
  const req = review.request;
  const kind = req.kind.kind;
  const op = req.operation;
  if (op !== 'CREATE' && op !== 'UPDATE') return { allowed: true, warnings: [] };
  if (req.subResource !== undefined && req.subResource !== '')
    return { allowed: true, warnings: [] };
  if (POOL_KINDS.includes(kind) && req.kind.group === 'spiderpool.spidernet.io') {
    // The decisions take the objects as unknown and check their shape themselves.
    return mutating
      ? mutate(req.object, snap)
      : validate(
          op,
          req.object,
          req.oldObject,
          snap,
          policy.controllerUsers.includes(req.userInfo?.username ?? ''),
        );
  }
  if (mutating) return { allowed: true, warnings: [] };
  if (kind === 'Namespace' && req.kind.group === '')
    return decideNamespace(op, req.object, req.oldObject, snap);
  if (kind === 'Pod' || (WORKLOAD_KINDS as readonly string[]).includes(kind)) {
    // An update that leaves the network annotations as they were cannot break them; judging
    // it again against today's pools would refuse e.g. Multus's network-status update of a
    // running pod whose pool was disabled since.
    if (
      op === 'UPDATE' &&
      networkAnnotations(kind, req.object) === networkAnnotations(kind, req.oldObject)
    ) {
      return { allowed: true, warnings: [] };
    }
    return decidePodLike(kind, req.object, req.namespace ?? '', snap);
  }
  return { allowed: true, warnings: [] };
}

/** The nicpool and Multus annotations of an object's pod template, canonically serialised. */
function networkAnnotations(kind: string, obj: unknown): string {
  const a = podTemplateOf(kind, obj)?.meta.annotations ?? {};
  const keys = Object.keys(a)
    .filter(
      (k) =>
        k.startsWith(PREFIX) ||
        k === MultusAnnotation.networks ||
        k === MultusAnnotation.defaultNetwork,
    )
    .sort();
  return JSON.stringify(keys.map((k) => [k, a[k]]));
}

export function toResponse(uid: string, d: Decision): AdmissionResponseBody {
  const warnings = d.warnings.map((w) =>
    w.length > MAX_WARNING ? `${w.slice(0, MAX_WARNING - 1)}…` : w,
  );
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: d.allowed,
      ...(d.allowed
        ? {}
        : { status: { code: 422, reason: 'Invalid', message: d.reason ?? 'denied' } }),
      ...(warnings.length > 0 ? { warnings } : {}),
      ...(d.patch !== undefined && d.patch.length > 0
        ? {
            patch: Buffer.from(JSON.stringify(d.patch)).toString('base64'),
            patchType: 'JSONPatch' as const,
          }
        : {}),
    },
  };
}
