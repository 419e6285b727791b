/**
 * The admission webhook configurations, as data: deploy/webhook/ is generated from here
 * (service clientConfig) and the e2e tests register the same objects by URL. The choices
 * the webhook's code relies on are spelled out next to each field.
 */
import { PREFIX } from '@nicpool/annotations';

import { CERT_MANAGER_CERTIFICATE } from './addons.ts';
import { userOf } from './deploy.ts';
import { DEPLOY, type Install } from './install.ts';
import { choose } from './template.ts';

export type ClientConfig =
  | { readonly url: string; readonly caBundle: string }
  | {
      readonly service: {
        readonly namespace: string;
        readonly name: string;
        readonly path: string;
        readonly port: number;
      };
      readonly caBundle?: string;
    };

type Path = '/validate' | '/mutate';

/** CEL: does the map at `expr` (may be absent) hold an ipam.spidernet.io/ key? */
function annotated(path: readonly string[]): string {
  const steps: string[] = [];
  for (let i = 1; i <= path.length; i++) steps.push(`has(object.${path.slice(0, i).join('.')})`);
  return `${steps.join(' && ')} && object.${path.join('.')}.exists(k, k.startsWith('${PREFIX}'))`;
}

const COMMON = {
  admissionReviewVersions: ['v1'],
  sideEffects: 'None',
  // Fail closed for what the webhook guards; matchConditions keep every other pod out of
  // its reach, so a webhook outage never stops pods without nicpool annotations.
  failurePolicy: 'Fail',
  // Decisions read caches only (no API calls): well under the API server's 10 s default.
  timeoutSeconds: 5,
} as const;

const excludedNamespaces = (namespace: string): Record<string, unknown> => ({
  matchExpressions: [
    {
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: ['kube-system', namespace],
    },
  ],
});

function client(cc: (path: Path) => ClientConfig, path: Path): Record<string, unknown> {
  const c = cc(path);
  return 'url' in c
    ? { url: c.url, caBundle: c.caBundle }
    : { service: c.service, ...(c.caBundle === undefined ? {} : { caBundle: c.caBundle }) };
}

const POOL_RULES = [
  {
    apiGroups: ['spiderpool.spidernet.io'],
    apiVersions: ['v2beta1'],
    // DELETE is never hooked: the finalizer, not the webhook, holds an in-use pool.
    operations: ['CREATE', 'UPDATE'],
    // Only the main resources: /status writes are the allocator's and never hooked.
    resources: ['spiderippools', 'spidersubnets', 'spiderreservedips'],
    scope: 'Cluster',
  },
];

/**
 * The controller's own pool and subnet writes skip the webhook: it computes them from the
 * same rules, and a webhook outage must not stop it from removing finalizers or growing
 * auto-pools. Everyone else's writes are judged (and auto-pools refused to them).
 */
const notTheController = (namespace: string): Record<string, unknown>[] => [
  {
    name: 'not-the-nicpool-controller',
    expression: `request.userInfo.username != '${userOf('controller', namespace)}'`,
  },
];

/**
 * The ValidatingWebhookConfiguration and MutatingWebhookConfiguration. `install` says
 * which namespace nicpool runs in and who makes the webhook's certificate: with
 * cert-manager both carry the annotation its CA injector fills `caBundle` from.
 */
export function webhookConfigurations(
  cc: (path: Path) => ClientConfig,
  labels: Record<string, string> = {},
  install: Install = DEPLOY,
): [Record<string, unknown>, Record<string, unknown>] {
  const ns = install.namespace;
  const excluded = excludedNamespaces(ns);
  const notController = notTheController(ns);
  const meta = (name: string): Record<string, unknown> => ({
    name,
    labels: { 'app.kubernetes.io/part-of': 'nicpool', ...labels },
    annotations: choose(install.selfManagedCerts, undefined, {
      'cert-manager.io/inject-ca-from': `${ns}/${CERT_MANAGER_CERTIFICATE}`,
    }),
  });
  const validating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: meta('nicpool-validating'),
    webhooks: [
      {
        name: 'pods.validate.nicpool.spidernet.io',
        ...COMMON,
        clientConfig: client(cc, '/validate'),
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        namespaceSelector: excluded,
        matchConditions: [
          { name: 'has-nicpool-annotation', expression: annotated(['metadata', 'annotations']) },
        ],
      },
      {
        name: 'workloads.validate.nicpool.spidernet.io',
        ...COMMON,
        clientConfig: client(cc, '/validate'),
        rules: [
          {
            apiGroups: ['apps'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
            scope: 'Namespaced',
          },
          {
            apiGroups: ['batch'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['jobs'],
            scope: 'Namespaced',
          },
        ],
        namespaceSelector: excluded,
        matchConditions: [
          {
            name: 'template-has-nicpool-annotation',
            expression: annotated(['spec', 'template', 'metadata', 'annotations']),
          },
        ],
      },
      {
        name: 'cronjobs.validate.nicpool.spidernet.io',
        ...COMMON,
        clientConfig: client(cc, '/validate'),
        rules: [
          {
            apiGroups: ['batch'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['cronjobs'],
            scope: 'Namespaced',
          },
        ],
        namespaceSelector: excluded,
        matchConditions: [
          {
            name: 'template-has-nicpool-annotation',
            expression: annotated([
              'spec',
              'jobTemplate',
              'spec',
              'template',
              'metadata',
              'annotations',
            ]),
          },
        ],
      },
      {
        // Namespace default pools (ipam.spidernet.io/default-ipv{4,6}-ippool) are read at
        // every CNI ADD that falls back to them: a bad one is refused here, not per pod.
        name: 'namespaces.validate.nicpool.spidernet.io',
        ...COMMON,
        // Fail closed, like the pod hooks: only CREATE/UPDATE of namespaces carrying an
        // ipam.spidernet.io/ annotation wait on the webhook (matchConditions), so an
        // outage blocks editing those alone. Deleting a namespace is never held: DELETE
        // is not hooked and the namespace controller writes the finalize and status
        // subresources, which `namespaces` does not match.
        failurePolicy: 'Fail',
        clientConfig: client(cc, '/validate'),
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['namespaces'],
            scope: 'Cluster',
          },
        ],
        // For a Namespace the selector reads the object's own labels (the API server sets
        // kubernetes.io/metadata.name before admission): kube-system and nicpool-system stay
        // editable whatever the webhook's state, as for pods.
        namespaceSelector: excluded,
        matchConditions: [
          { name: 'has-nicpool-annotation', expression: annotated(['metadata', 'annotations']) },
        ],
      },
      {
        name: 'pools.validate.nicpool.spidernet.io',
        ...COMMON,
        clientConfig: client(cc, '/validate'),
        rules: POOL_RULES,
        matchConditions: notController,
      },
    ],
  };
  const mutating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: meta('nicpool-mutating'),
    webhooks: [
      {
        name: 'pools.mutate.nicpool.spidernet.io',
        ...COMMON,
        reinvocationPolicy: 'Never',
        clientConfig: client(cc, '/mutate'),
        rules: POOL_RULES,
        matchConditions: notController,
      },
    ],
  };
  return [validating, mutating];
}
