/**
 * The Helm chart's values, each once: its default (which is also what deploy/ renders),
 * the comment values.yaml carries, and its JSON schema (values.schema.json), so a wrong
 * value stops `helm install` with the path and the rule it broke.
 */
import { stringify } from 'yaml';

type Obj = Record<string, unknown>;

/** One value: default, comment, schema. */
export interface Leaf {
  readonly kind: 'leaf';
  readonly default: unknown;
  readonly doc: string;
  readonly schema: Obj;
}
/** A group of values (`webhook:`), with its comment. */
export interface Group {
  readonly kind: 'group';
  readonly doc: string;
  readonly fields: Readonly<Record<string, Leaf | Group>>;
}

const leaf = (def: unknown, doc: string, schema: Obj): Leaf => ({
  kind: 'leaf',
  default: def,
  doc,
  schema,
});
const group = (doc: string, fields: Record<string, Leaf | Group>): Group => ({
  kind: 'group',
  doc,
  fields,
});

const RESOURCES = {
  type: 'object',
  additionalProperties: false,
  properties: {
    requests: { type: 'object', additionalProperties: { type: ['string', 'integer'] } },
    limits: { type: 'object', additionalProperties: { type: ['string', 'integer'] } },
    claims: { type: 'array' },
  },
};
const NODE_SELECTOR = { type: 'object', additionalProperties: { type: 'string' } };
const TOLERATIONS = { type: 'array', items: { type: 'object' } };
const AFFINITY = { type: 'object' };

/** Placement values every component has. */
function placement(
  what: string,
  resources: Obj,
  tolerations: Obj[],
  affinity: string,
): Record<string, Leaf> {
  return {
    resources: leaf(resources, `Requests and limits of the ${what} container.`, RESOURCES),
    nodeSelector: leaf(
      {},
      `Node labels the ${what} pods must match (none by default).`,
      NODE_SELECTOR,
    ),
    tolerations: leaf(tolerations, `Taints the ${what} pods tolerate.`, TOLERATIONS),
    affinity: leaf({}, affinity, AFFINITY),
  };
}

const SPREAD =
  'Pod affinity rules. Empty: the built-in preference for one replica per node (podAntiAffinity on kubernetes.io/hostname); anything set replaces it.';

/** Every value of the chart. */
export const VALUES: Group = group('', {
  image: group('The one image all three components run (deploy/images/Containerfile).', {
    repository: leaf('nicpool', 'Image name, with its registry if it has one.', {
      type: 'string',
      minLength: 1,
    }),
    tag: leaf('0.1.0', 'Image tag.', { type: 'string', minLength: 1 }),
    pullPolicy: leaf(
      'IfNotPresent',
      'When the kubelet pulls it: IfNotPresent, Always or Never (an image imported with `ctr images import` needs IfNotPresent or Never).',
      { enum: ['IfNotPresent', 'Always', 'Never'] },
    ),
  }),
  imagePullSecrets: leaf(
    [],
    'Secrets for a private registry, e.g. [{name: regcred}], in every pod.',
    { type: 'array', items: { type: 'object', required: ['name'] } },
  ),
  logLevel: leaf(
    'info',
    'Log level of the webhook, the controller and the allocator (NICPOOL_LOG_LEVEL).',
    {
      enum: ['debug', 'info', 'warn', 'error'],
    },
  ),
  cni: group('Where the CNI plugins live on each node.', {
    binDir: leaf(
      '/opt/cni/bin',
      "Host directory the allocator's init container installs `spiderpool` (IPAM) and `veth` into: the directory Multus and the container runtime search for CNI plugins.",
      { type: 'string', pattern: '^/' },
    ),
  }),
  webhook: group(
    'The admission webhook (Deployment nicpool-webhook, Service nicpool-webhook:443).',
    {
      replicas: leaf(
        2,
        'Replicas. With 2 or more a PodDisruptionBudget keeps one serving (minAvailable: 1); with 1 there is none, so node drains are not blocked.',
        { type: 'integer', minimum: 1 },
      ),
      certificate: group("The webhook's serving certificate.", {
        mode: leaf(
          'selfManaged',
          "selfManaged: the webhook makes its own CA and certificate in the Secret nicpool-webhook-tls and keeps the webhook configurations' caBundle current. certManager: cert-manager (installed beforehand) issues it into the Secret nicpool-webhook-cert from a self-signed CA of this chart, and its CA injector sets the caBundle.",
          { enum: ['selfManaged', 'certManager'] },
        ),
      }),
      ...placement(
        'webhook',
        { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        [],
        SPREAD,
      ),
    },
  ),
  controller: group(
    'The controller (Deployment nicpool-controller: one replica leads through a Lease, the others stand by).',
    {
      replicas: leaf(2, 'Replicas (one leads).', { type: 'integer', minimum: 1 }),
      ...placement(
        'controller',
        { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        [],
        SPREAD,
      ),
    },
  ),
  allocator: group(
    'The allocator (DaemonSet nicpool-allocator, host network): pods on a node without it get no address from nicpool.',
    placement(
      'allocator',
      { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '384Mi' } },
      [{ operator: 'Exists' }],
      'Pod affinity rules (none by default).',
    ),
  ),
  metrics: group('Prometheus scraping.', {
    serviceMonitor: group(
      'monitoring.coreos.com/v1 ServiceMonitors (the Prometheus Operator must be installed) for the webhook (HTTPS :9443/metrics), the controller (:5721/metrics) and the allocator (:5711/metrics, through the headless Service nicpool-allocator-metrics rendered with it).',
      {
        enabled: leaf(false, 'Render the three ServiceMonitors.', { type: 'boolean' }),
        interval: leaf('', "Scrape interval, e.g. 30s (empty: Prometheus's own).", {
          type: 'string',
          pattern: '^([0-9]+(ms|s|m|h))*$',
        }),
        labels: leaf(
          {},
          'Extra labels on the ServiceMonitors, e.g. the release label your Prometheus selects.',
          { type: 'object', additionalProperties: { type: 'string' } },
        ),
      },
    ),
  }),
});

/** Each value's path (`webhook.certificate.mode`) with its leaf, in file order. */
export function leaves(g: Group = VALUES, prefix = ''): [string, Leaf][] {
  return Object.entries(g.fields).flatMap(([k, f]): [string, Leaf][] =>
    f.kind === 'leaf' ? [[`${prefix}${k}`, f]] : leaves(f, `${prefix}${k}.`),
  );
}

/** The value at a path, as the chart's defaults have it. */
export function defaultOf(path: string): unknown {
  const hit = leaves().find(([p]) => p === path);
  if (hit === undefined) throw new Error(`no chart value ${path}`);
  return structuredClone(hit[1].default);
}

/** `# ` lines wrapped at 100 columns. */
function comment(doc: string, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of doc.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && indent.length + 2 + line.length + 1 + word.length > 100) {
      out.push(`${indent}# ${line}`);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(`${indent}# ${line}`);
  return out;
}

function valuesLines(g: Group, indent: string): string[] {
  const out: string[] = [];
  for (const [k, f] of Object.entries(g.fields)) {
    out.push(...comment(f.doc, indent));
    if (f.kind === 'group') {
      out.push(`${indent}${k}:`, ...valuesLines(f, `${indent}  `));
      continue;
    }
    const v = f.default;
    const text = stringify(v, { lineWidth: 0 }).trimEnd();
    const empty =
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
    if (typeof v !== 'object' || v === null || empty) out.push(`${indent}${k}: ${text}`);
    else out.push(`${indent}${k}:`, ...text.split('\n').map((l) => `${indent}  ${l}`));
  }
  return out;
}

/** values.yaml, every value with its comment. */
export function valuesYAML(header: string): string {
  return `${header}${valuesLines(VALUES, '').join('\n')}\n`;
}

function schemaOf(g: Group): Obj {
  const properties: Obj = {};
  for (const [k, f] of Object.entries(g.fields))
    properties[k] =
      f.kind === 'leaf'
        ? { description: f.doc, ...f.schema, default: f.default }
        : { description: f.doc, ...schemaOf(f) };
  return { type: 'object', additionalProperties: false, properties };
}

/** values.schema.json: unknown keys are refused too, so a misspelt value is not ignored. */
export function valuesSchema(): Obj {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'nicpool chart values',
    ...schemaOf(VALUES),
  };
}
