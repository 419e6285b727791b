import {
  AnnotationErrorCode as Code,
  closest,
  type AnnotationError,
  type AnnotationErrorCode,
} from './errors.ts';
import {
  KNOWN_NAMESPACE_KEYS,
  KNOWN_POD_KEYS,
  MultusAnnotation,
  NamespaceAnnotation,
  PodAnnotation,
  PREFIX,
} from './keys.ts';
import { podInterfaces, type PodInterface } from './multus.ts';
import { describe, Reader } from './reader.ts';
import {
  parseDefaultRouteNic,
  parseIPNumber,
  parseIPPool,
  parseIPPools,
  parseNamespaceDefaultPools,
  parseReclaim,
  parseRoutes,
  parseSubnet,
  parseSubnets,
} from './pod.ts';

/** What is wrong (errors: reject) and what is suspicious (warnings: admit, but say so). */
export interface Findings {
  readonly errors: AnnotationError[];
  readonly warnings: AnnotationError[];
}

type Annotations = Readonly<Record<string, string>>;

/**
 * The annotations whose values are strings; a non-string value of a key in `read` is an
 * error naming the key. The API server only stores strings, but the webhook reads the raw
 * JSON of an AdmissionReview, and a parser handed a number would throw (a 500, not a denial).
 */
function stringValued(
  annotations: Annotations,
  read: readonly string[],
  errors: AnnotationError[],
): Annotations {
  const strings: [string, string][] = [];
  for (const [key, v] of Object.entries(annotations) as [string, unknown][]) {
    if (typeof v === 'string') strings.push([key, v]);
    else if (read.includes(key)) {
      const r = new Reader(key);
      r.fail('', Code.wrongType, `expected a string, got ${describe(v)}`);
      errors.push(...r.errors);
    }
  }
  // fromEntries defines properties: a `__proto__` key stays a plain key.
  return Object.fromEntries(strings);
}

function unknownKeys(
  annotations: Annotations,
  known: readonly string[],
  warnings: AnnotationError[],
): void {
  const multus: readonly string[] = Object.values(MultusAnnotation);
  for (const key of Object.keys(annotations)) {
    if (!key.startsWith(PREFIX) || known.includes(key) || multus.includes(key)) continue;
    const guess = closest(
      key.slice(PREFIX.length),
      known.map((k) => k.slice(PREFIX.length)),
    );
    warnings.push({
      key,
      path: '',
      code: Code.unknownKey,
      message: `annotation ${key} is not one nicpool reads`,
      ...(guess === undefined ? {} : { hint: `did you mean ${PREFIX}${guess}?` }),
    });
  }
}

function warn(
  warnings: AnnotationError[],
  key: string,
  path: string,
  code: AnnotationErrorCode,
  message: string,
): void {
  warnings.push({ key, path, code, message });
}

/** How many interface names a message lists before "… and N more". */
const SHOWN_NAMES = 8;

/**
 * The pod's interface names for a message, at most {@link SHOWN_NAMES}: a warning per listed
 * interface that spelled out thousands of NICs grew as NICs × items (64 KiB annotations:
 * tens of MB of warnings).
 */
function listNames(nics: readonly PodInterface[]): string {
  const names = nics.slice(0, SHOWN_NAMES).map((n) => n.name);
  const more = nics.length - names.length;
  return more > 0 ? `${names.join(', ')}, … and ${more} more` : names.join(', ');
}

function checkNics(
  nics: readonly PodInterface[] | undefined,
  key: string,
  listed: readonly { path: string; name: string }[],
  warnings: AnnotationError[],
): void {
  if (nics === undefined) return;
  const names = new Set(nics.map((n) => n.name));
  const shown = listNames(nics);
  for (const l of listed) {
    if (!names.has(l.name)) {
      // A warning, not an error: Multus may add networks the annotations do not show
      // (its `defaultNetworks` setting).
      warn(
        warnings,
        key,
        l.path,
        Code.unknownInterface,
        `interface ${JSON.stringify(l.name)} in ${key} is not one of the pod's interfaces from its Multus annotations (${shown})`,
      );
    }
  }
}

/**
 * Checks every nicpool and Multus annotation of a pod or pod template, returning all
 * problems at once. Cross-annotation checks (interfaces the pod does not have, ignored
 * lower-precedence annotations) are warnings.
 */
export function validatePodAnnotations(raw: Annotations): Findings {
  const errors: AnnotationError[] = [];
  const warnings: AnnotationError[] = [];
  const annotations = stringValued(
    raw,
    [...KNOWN_POD_KEYS, ...Object.values(MultusAnnotation)],
    errors,
  );
  unknownKeys(annotations, KNOWN_POD_KEYS, warnings);

  const nicsResult = podInterfaces(annotations);
  if (!nicsResult.ok) errors.push(...nicsResult.error);
  const nics = nicsResult.ok ? nicsResult.value : undefined;

  const has = (k: string): boolean => annotations[k] !== undefined;
  const get = (k: string): string => annotations[k] ?? '';

  if (has(PodAnnotation.subnets)) {
    const p = parseSubnets(get(PodAnnotation.subnets));
    if (!p.ok) errors.push(...p.error);
    else
      checkNics(
        nics,
        PodAnnotation.subnets,
        p.value.map((s, i) => ({ path: `[${i}].interface`, name: s.interface })),
        warnings,
      );
    if (p.ok)
      p.value.forEach((s, i) => {
        for (const fam of ['ipv4', 'ipv6'] as const) {
          if (s[fam].length > 1) {
            warn(
              warnings,
              PodAnnotation.subnets,
              `[${i}].${fam}`,
              Code.extraSubnet,
              `only the first subnet of ${fam} in item ${i} of ${PodAnnotation.subnets} is used (${JSON.stringify(s[fam][0])})`,
            );
          }
        }
      });
  }
  if (has(PodAnnotation.subnet)) {
    const p = parseSubnet(get(PodAnnotation.subnet));
    if (!p.ok) errors.push(...p.error);
    else
      checkNics(
        nics,
        PodAnnotation.subnet,
        [{ path: 'interface', name: p.value.interface }],
        warnings,
      );
  }
  if (has(PodAnnotation.ippools)) {
    const p = parseIPPools(get(PodAnnotation.ippools));
    if (!p.ok) errors.push(...p.error);
    else if (p.value[0]?.interface !== undefined) {
      checkNics(
        nics,
        PodAnnotation.ippools,
        p.value.map((s, i) => ({ path: `[${i}].interface`, name: s.interface ?? '' })),
        warnings,
      );
    } else if (nics !== undefined && p.value.length > nics.length) {
      warn(
        warnings,
        PodAnnotation.ippools,
        `[${nics.length}]`,
        Code.tooManyItems,
        `${PodAnnotation.ippools} has ${p.value.length} unnamed items but the pod's Multus annotations give it ${nics.length} interface(s) (${listNames(nics)})`,
      );
    }
  }
  if (has(PodAnnotation.ippool)) {
    const p = parseIPPool(get(PodAnnotation.ippool));
    if (!p.ok) errors.push(...p.error);
  }
  // Levels never merge: a lower-precedence annotation next to a higher one does nothing.
  const order = [
    PodAnnotation.subnets,
    PodAnnotation.subnet,
    PodAnnotation.ippools,
    PodAnnotation.ippool,
  ];
  const present = order.filter(has);
  for (const ignored of present.slice(1)) {
    warn(
      warnings,
      ignored,
      '',
      Code.ignoredAnnotation,
      `${ignored} is ignored because ${present[0]} is set (it takes precedence)`,
    );
  }
  if (has(PodAnnotation.ippoolIPNumber)) {
    const p = parseIPNumber(get(PodAnnotation.ippoolIPNumber));
    if (!p.ok) errors.push(...p.error);
  }
  if (has(PodAnnotation.ippoolReclaim)) {
    const p = parseReclaim(get(PodAnnotation.ippoolReclaim));
    if (!p.ok) errors.push(...p.error);
  }
  if (has(PodAnnotation.routes)) {
    const p = parseRoutes(get(PodAnnotation.routes));
    if (!p.ok) errors.push(...p.error);
  }
  if (has(PodAnnotation.defaultRouteNic)) {
    const p = parseDefaultRouteNic(get(PodAnnotation.defaultRouteNic));
    if (!p.ok) errors.push(...p.error);
    else checkNics(nics, PodAnnotation.defaultRouteNic, [{ path: '', name: p.value }], warnings);
  }
  return { errors, warnings };
}

/** Checks a namespace's nicpool annotations. */
export function validateNamespaceAnnotations(raw: Annotations): Findings {
  const errors: AnnotationError[] = [];
  const warnings: AnnotationError[] = [];
  const annotations = stringValued(raw, KNOWN_NAMESPACE_KEYS, errors);
  unknownKeys(annotations, KNOWN_NAMESPACE_KEYS, warnings);
  for (const key of [
    NamespaceAnnotation.defaultIPv4IPPool,
    NamespaceAnnotation.defaultIPv6IPPool,
  ]) {
    const v = annotations[key];
    if (v === undefined) continue;
    const p = parseNamespaceDefaultPools(key, v);
    if (!p.ok) errors.push(...p.error);
  }
  return { errors, warnings };
}
