/**
 * fast-check generators of hostile annotation values, shared by the annotation, webhook and
 * allocator fuzz targets: JSON in the shapes nicpool reads and garbage next to them, deep,
 * huge (up to the 64 KiB an annotation may reasonably hold), unicode, prototype keys, and
 * numbers/bools/null where strings belong. JSON text is built by hand from a tree so that
 * duplicate keys and `__proto__` keys reach the parser exactly as written.
 */
import fc, { type Arbitrary } from 'fast-check';
import { MultusAnnotation, NamespaceAnnotation, PodAnnotation, PREFIX } from '@nicpool/annotations';

/** 64 KiB: the largest single annotation value the generators build. */
export const MAX_ANNOTATION_BYTES = 64 * 1024;

/** Every key nicpool reads on a pod or namespace, plus Multus's. */
export const ALL_KEYS: readonly string[] = [
  ...Object.values(PodAnnotation),
  ...Object.values(NamespaceAnnotation),
  ...Object.values(MultusAnnotation),
];

/** A JSON tree; objects are entry lists so keys may repeat or be `__proto__`. */
export type JsonTree =
  | null
  | boolean
  | number
  | string
  | { readonly arr: readonly JsonTree[] }
  | { readonly obj: readonly (readonly [string, JsonTree])[] };

/** Serialises a tree exactly as built (entry order, duplicates and all). */
export function jsonText(t: JsonTree): string {
  if (t === null || typeof t !== 'object') return JSON.stringify(t) ?? 'null';
  if ('arr' in t) return `[${t.arr.map(jsonText).join(',')}]`;
  return `{${t.obj.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
}

const NAME_CHARS = [
  ...'abcdefghijklmnopqrstuvwxyz0123456789-.',
  ...'*?[]!^',
  ...'AZ_ /@,:;=\\"\'\t\n\u0000',
  'é',
  'ß',
  '😀',
  '\u202e',
  '\ud800',
];

/** Pool-, subnet- and interface-name-like strings: mostly legal characters, some not. */
export const nameish: Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...NAME_CHARS), maxLength: 24 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'eth0',
      'net1',
      'net2',
      'ippool-test-ens192',
      'ippool-test-ens224',
      'v6-pool',
      'team-*',
      '*',
      'ippool-test-ens19?',
      '[a-z]*',
      'default-v4',
      'a'.repeat(253),
      'a'.repeat(254),
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
);

const FIELDS = [
  'interface',
  'ipv4',
  'ipv6',
  'cleangateway',
  'dst',
  'gw',
  'name',
  'namespace',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'polluted',
  'IPv4',
  'ipv4 ',
];
/** Field names: the ones nicpool reads, prototype traps, near misses and random text. */
export const fieldName: Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...FIELDS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

const scalar: Arbitrary<JsonTree> = fc.oneof(
  { weight: 4, arbitrary: nameish },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1e308, -0, 0.5, 2 ** 53) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '10.6.0.0/16',
      '10.6.0.254',
      'fd00::/64',
      'fd00::1',
      '0.0.0.0/0',
      '10.6.0.1/16',
      '::/0',
    ),
  },
);

/** Random JSON of any shape, up to a few levels deep. */
export const anyTree: Arbitrary<JsonTree> = fc.letrec<{ t: JsonTree }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('t'), { maxLength: 5 }).map((arr) => ({ arr })),
    fc.array(fc.tuple(fieldName, tie('t')), { maxLength: 5 }).map((obj) => ({ obj })),
  ),
})).t;

const stringList: Arbitrary<JsonTree> = fc.oneof(
  { weight: 5, arbitrary: fc.array(nameish, { maxLength: 4 }).map((arr) => ({ arr })) },
  { weight: 1, arbitrary: anyTree },
);

/** An object in the shape of an ippool(s)/subnet(s)/route/network item, fields possibly wrong. */
export const shapedItem: Arbitrary<JsonTree> = fc
  .array(
    fc.oneof(
      fc.tuple(
        fc.constant('interface'),
        fc.oneof({ weight: 4, arbitrary: nameish }, { weight: 1, arbitrary: scalar }),
      ),
      fc.tuple(fc.constantFrom('ipv4', 'ipv6'), stringList),
      fc.tuple(fc.constant('cleangateway'), scalar),
      fc.tuple(fc.constantFrom('dst', 'gw', 'name', 'namespace'), scalar),
      fc.tuple(fieldName, anyTree),
    ),
    { maxLength: 5 },
  )
  .map((obj) => ({ obj }));

/** Values in the shapes the JSON annotations take: an item, a list of items, a list of names. */
export const shapedTree: Arbitrary<JsonTree> = fc.oneof(
  { weight: 3, arbitrary: fc.array(shapedItem, { maxLength: 5 }).map((arr) => ({ arr })) },
  { weight: 2, arbitrary: shapedItem },
  { weight: 1, arbitrary: stringList },
  { weight: 1, arbitrary: anyTree },
);

/** Blows a small JSON item up to about `bytes` by repeating it in one array. */
function repeatTo(item: string, bytes: number): string {
  const n = Math.max(1, Math.floor(bytes / (item.length + 1)));
  return `[${Array.from({ length: n }, () => item).join(',')}]`;
}

/** `[[[[…]]]]` or `{"a":{"a":…}}` nested to `depth` (up to what fits in 64 KiB). */
function nested(depth: number, objects: boolean): string {
  return objects
    ? `${'{"interface":'.repeat(depth)}"eth0"${'}'.repeat(depth)}`
    : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Multus's comma form and near misses of it. */
export const multusList: Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.option(nameish, { nil: undefined }),
      nameish,
      fc.option(nameish, { nil: undefined }),
    ),
    { maxLength: 6 },
  )
  .map((items) =>
    items
      .map(
        ([ns, name, ifName]) =>
          `${ns === undefined ? '' : `${ns}/`}${name}${ifName === undefined ? '' : `@${ifName}`}`,
      )
      .join(','),
  );

/** Plain-text values: numbers for ippool-ip-number, booleans for reclaim, names, garbage. */
export const plainText: Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '1',
    '+1',
    '0',
    '+0',
    '65536',
    '65537',
    '+999999',
    '-1',
    '1e3',
    ' 1',
    '1 ',
    '0x10',
    '',
    'true',
    'false',
    'True',
    'yes',
    'null',
    '{}',
    '[]',
    'NaN',
  ),
  fc.integer().map(String),
  nameish,
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** One annotation value as text, of any of the shapes above, including huge and deep ones. */
export const annotationValue: Arbitrary<string> = fc.oneof(
  { weight: 16, arbitrary: shapedTree.map(jsonText) },
  { weight: 5, arbitrary: plainText },
  { weight: 5, arbitrary: multusList },
  // Truncated or otherwise broken JSON.
  {
    weight: 3,
    arbitrary: fc
      .tuple(shapedTree.map(jsonText), fc.nat())
      .map(([t, n]) => t.slice(0, n % (t.length + 1))),
  },
  // Huge: one item repeated up to 64 KiB.
  {
    weight: 1,
    arbitrary: fc
      .tuple(shapedItem.map(jsonText), fc.integer({ min: 1024, max: MAX_ANNOTATION_BYTES }))
      .map(([t, n]) => repeatTo(t, n)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(nameish, fc.integer({ min: 1024, max: MAX_ANNOTATION_BYTES }))
      .map(([s, n]) => repeatTo(JSON.stringify(s), n)),
  },
  // Deep: arrays or objects nested up to what fits.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 5000 }), fc.boolean())
      .map(([d, o]) => nested(d, o)),
  },
  // One huge name.
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          '[{"interface":"eth0","ipv4":["%"]}]',
          '{"ipv4":["%"]}',
          '["%"]',
          '%',
          '[{"interface":"%","ipv4":["a"]}]',
        ),
        fc.integer({ min: 254, max: MAX_ANNOTATION_BYTES - 64 }),
        fc.constantFrom('a', '*', '-', 'é', '*[a-y0-9-]'),
      )
      .map(([tpl, n, c]) => tpl.replace('%', c.repeat(Math.ceil(n / c.length)).slice(0, n))),
  },
);

/** Annotation keys: all of nicpool's and Multus's, near misses, and unrelated ones. */
export const annotationKey: Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ALL_KEYS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${PREFIX}ippol`,
      `${PREFIX}IPPools`,
      `${PREFIX}`,
      `${PREFIX}__proto__`,
      '__proto__',
      'constructor',
      'app',
      'kubectl.kubernetes.io/last-applied-configuration',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => `${PREFIX}${s}`) },
);

/** An annotation map (keys may be `__proto__`; built with Object.fromEntries, as JSON.parse would). */
export const annotationMap: Arbitrary<Record<string, string>> = fc
  .array(fc.tuple(annotationKey, annotationValue), { maxLength: 6 })
  .map((entries) => Object.fromEntries(entries));
