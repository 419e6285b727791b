/**
 * Admission of Namespaces that carry `ipam.spidernet.io/` annotations (webhook.md): their
 * default pools (`default-ipv4-ippool` / `default-ipv6-ippool`) are checked by the same
 * parser the allocator uses at CNI ADD, so a pattern it would refuse (or that could slow
 * it, review finding #1) is refused at `kubectl apply` instead of in every pod of the
 * namespace. Pure: the request and the cache snapshot in, a decision out.
 */
import {
  formatAnnotationError,
  hasWildcard,
  matchPoolNames,
  NamespaceAnnotation,
  parseNamespaceDefaultPools,
  validateNamespaceAnnotations,
  type AnnotationError,
} from '@nicpool/annotations';
import { specFamily } from '@nicpool/crds';
import type { Decision } from './decision.ts';
import type { Snapshot } from './snapshot.ts';

type Annotations = Readonly<Record<string, string>>;

/** The object's annotations; the API server sends a map, anything else counts as none. */
function annotationsOf(obj: unknown): Annotations {
  const a = (obj as { metadata?: { annotations?: unknown } } | null | undefined)?.metadata
    ?.annotations;
  return typeof a === 'object' && a !== null && !Array.isArray(a) ? (a as Annotations) : {};
}

const at = (e: AnnotationError): string =>
  `metadata.annotations[${e.key}]${e.path}: ${formatAnnotationError(e)}`;

const DEFAULT_KEYS = [
  [NamespaceAnnotation.defaultIPv4IPPool, 4],
  [NamespaceAnnotation.defaultIPv6IPPool, 6],
] as const;

/**
 * Decides a CREATE or UPDATE of a Namespace. An invalid default-pool annotation is denied
 * with a field path per problem (`metadata.annotations[<key>][<item>]: …`). On UPDATE, a
 * key whose value did not change only warns: a namespace annotated before the webhook
 * existed must stay editable (its pods get the same error at CNI ADD). Pools that do not
 * exist (yet), patterns that match none, and pools of the other family are warnings:
 * admins often set a namespace's defaults before creating the pools.
 */
export function decideNamespace(
  operation: string,
  object: unknown,
  oldObject: unknown,
  snap: Snapshot,
): Decision {
  if (operation !== 'CREATE' && operation !== 'UPDATE') return { allowed: true, warnings: [] };
  const now = annotationsOf(object);
  const before = operation === 'UPDATE' ? annotationsOf(oldObject) : {};
  const unchanged = (key: string): boolean =>
    operation === 'UPDATE' && Object.hasOwn(before, key) && before[key] === now[key];

  const findings = validateNamespaceAnnotations(now);
  const errors: string[] = [];
  const warnings = findings.warnings.map(at);
  for (const e of findings.errors) {
    if (unchanged(e.key))
      warnings.push(
        `${at(e)} (set before; pods using these defaults fail at CNI ADD until it is fixed)`,
      );
    else errors.push(at(e));
  }
  if (errors.length > 0) return { allowed: false, reason: errors.join('\n'), warnings };

  const byFamily: Record<4 | 6, string[]> = { 4: [], 6: [] };
  const familyOf = new Map<string, 4 | 6>();
  for (const p of snap.pools) {
    const f = specFamily(p.spec);
    if (f === undefined) continue;
    byFamily[f].push(p.metadata.name);
    familyOf.set(p.metadata.name, f);
  }
  for (const [key, family] of DEFAULT_KEYS) {
    const v = now[key];
    if (typeof v !== 'string') continue;
    const parsed = parseNamespaceDefaultPools(key, v);
    if (!parsed.ok) continue; // reported above (as a warning when unchanged)
    parsed.value.forEach((name, i) => {
      const where = `metadata.annotations[${key}][${i}]`;
      if (hasWildcard(name)) {
        if (matchPoolNames([name], byFamily[family]).length === 0)
          warnings.push(`${where}: pattern "${name}" matches no IPv${family} SpiderIPPool (yet)`);
        return;
      }
      const f = familyOf.get(name);
      if (f === undefined) warnings.push(`${where}: SpiderIPPool "${name}" does not exist (yet)`);
      else if (f !== family)
        warnings.push(`${where}: pool "${name}" is IPv${f}, listed as an IPv${family} default`);
    });
  }
  return { allowed: true, warnings };
}
