/**
 * nicpool's install manifests as data: `npm run gen` writes deploy/ from here, and the e2e
 * suites apply the same RBAC and run each component under its own ServiceAccount, so a
 * missing permission fails a test. Every rule names the code that needs it.
 */
import { DEPLOY, type Install, type Placement } from './install.ts';
import { NICPOOL_NAMESPACE } from './names.ts';
import {
  block,
  choose,
  items,
  optional,
  scalar,
  type Cond,
  type Knob,
  type When,
} from './template.ts';

export type Component = 'webhook' | 'controller' | 'allocator';
export const COMPONENTS: readonly Component[] = ['webhook', 'controller', 'allocator'];

/** `nicpool-<component>`: ServiceAccount, ClusterRole, Deployment/DaemonSet names. */
export const nameOf = (c: Component): string => `nicpool-${c}`;
/** The user name the API server sees for a component (the webhook lets only the controller edit auto-pools). */
export const userOf = (c: Component, namespace: string = NICPOOL_NAMESPACE): string =>
  `system:serviceaccount:${namespace}:${nameOf(c)}`;

/** The image all three components run from (deploy/images/Containerfile). */
export const IMAGE = DEPLOY.image;

type Obj = Record<string, unknown>;
/** A document of an install; in the chart, some stand behind a condition. */
export type Doc = Obj | When;
interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

const CRD = 'spiderpool.spidernet.io';
const READ = ['get', 'list', 'watch'];

/** What the webhook's self-managed certificates need (certs-kube.ts); cert-manager's mode needs neither. */
const SELF_MANAGED_CERTS = {
  // Keeps caBundle of its own two configurations current.
  caBundles: {
    apiGroups: ['admissionregistration.k8s.io'],
    resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
    verbs: ['get', 'patch'],
    resourceNames: ['nicpool-validating', 'nicpool-mutating'],
  },
  // The CA and serving certificate.
  secret: { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'update'] },
} as const satisfies Record<string, Rule>;
const certsOnly = (r: Rule): boolean => Object.values<Rule>(SELF_MANAGED_CERTS).includes(r);

/** Cluster-wide permissions per component. */
export const CLUSTER_RULES: Readonly<Record<Component, readonly Rule[]>> = {
  webhook: [
    // caches.ts: watch-fed caches of pools, subnets, reserved IPs, namespaces, NADs.
    {
      apiGroups: [CRD],
      resources: ['spiderippools', 'spidersubnets', 'spiderreservedips'],
      verbs: READ,
    },
    { apiGroups: [''], resources: ['namespaces'], verbs: READ },
    { apiGroups: ['k8s.cni.cncf.io'], resources: ['network-attachment-definitions'], verbs: READ },
    SELF_MANAGED_CERTS.caBundles,
  ],
  controller: [
    // kube-store.ts: watches; reconciler.ts: auto-pools, counters, finalizers, GC.
    {
      apiGroups: [CRD],
      resources: ['spiderippools'],
      verbs: [...READ, 'create', 'update', 'delete'],
    },
    { apiGroups: [CRD], resources: ['spiderippools/status'], verbs: ['update'] },
    { apiGroups: [CRD], resources: ['spidersubnets'], verbs: [...READ, 'update'] },
    { apiGroups: [CRD], resources: ['spidersubnets/status'], verbs: ['update'] },
    // ownerReferences with blockOwnerDeletion on auto-pools point at their subnet.
    { apiGroups: [CRD], resources: ['spidersubnets/finalizers'], verbs: ['update'] },
    { apiGroups: [CRD], resources: ['spiderreservedips'], verbs: READ },
    { apiGroups: [CRD], resources: ['spiderendpoints'], verbs: [...READ, 'update', 'delete'] },
    { apiGroups: [''], resources: ['pods'], verbs: READ },
    {
      apiGroups: ['apps'],
      resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
      verbs: ['list', 'watch'],
    },
    { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['list', 'watch'] },
    // events.ts: what an admin must know, on workloads (any namespace) and pools ("default").
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  ],
  allocator: [
    // kube-store.ts: pool cache + status writes (records), reserved IPs, endpoints.
    { apiGroups: [CRD], resources: ['spiderippools'], verbs: READ },
    { apiGroups: [CRD], resources: ['spiderippools/status'], verbs: ['update'] },
    { apiGroups: [CRD], resources: ['spiderreservedips'], verbs: READ },
    {
      apiGroups: [CRD],
      resources: ['spiderendpoints'],
      verbs: [...READ, 'create', 'update', 'delete'],
    },
    { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: READ },
    { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
    // StatefulSet stickiness (DEL); the Deployment behind a ReplicaSet's pods and the CronJob
    // behind a Job's, with their UIDs (auto-pools made for that very object, review #17).
    { apiGroups: ['apps'], resources: ['statefulsets', 'replicasets'], verbs: ['get'] },
    { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
  ],
};

/** Permissions inside nicpool's namespace. */
export const NAMESPACE_RULES: Readonly<Record<Component, readonly Rule[]>> = {
  webhook: [SELF_MANAGED_CERTS.secret],
  // lease-store.ts: leader election.
  controller: [
    {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'create', 'update'],
    },
  ],
  allocator: [],
};

/** The labels of a component's objects, selectors and pods. */
export const labelsOf = (c: Component): Record<string, string> => ({
  'app.kubernetes.io/name': 'nicpool',
  'app.kubernetes.io/component': c,
});
const labels = labelsOf;

export function namespaceObject(): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: NICPOOL_NAMESPACE,
      labels: { 'pod-security.kubernetes.io/enforce': 'privileged' },
    },
  };
}

/** A component's rules in an install: the certificate ones only where the webhook makes its own. */
const rulesIn = (rules: readonly Rule[], inst: Install): unknown[] =>
  items(...rules.map((r) => (certsOnly(r) ? choose(inst.selfManagedCerts, r, undefined) : r)));

/** ServiceAccount, ClusterRole(+Binding) and, where needed, Role(+Binding) of a component. */
export function rbacObjects(c: Component, inst: Install = DEPLOY): Doc[] {
  const name = nameOf(c);
  const namespace = inst.namespace;
  const subject = [{ kind: 'ServiceAccount', name, namespace }];
  const out: Doc[] = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace, labels: labels(c) },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels: labels(c) },
      rules: rulesIn(CLUSTER_RULES[c], inst),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels: labels(c) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: subject,
    },
  ];
  const inNamespace = NAMESPACE_RULES[c];
  if (inNamespace.length === 0) return out;
  // A Role whose every rule is for self-managed certificates goes with them.
  const certsRole = inNamespace.every(certsOnly);
  const role = [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name, namespace, labels: labels(c) },
      rules: certsRole ? inNamespace : rulesIn(inNamespace, inst),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace, labels: labels(c) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: subject,
    },
  ];
  const choice = certsRole ? choose(inst.selfManagedCerts, role, undefined) : role;
  out.push(...items(choice).map((d) => d as Doc));
  return out;
}

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

function spreadOut(c: Component): Obj {
  // Two replicas on two nodes where there are two: one node going down keeps one serving.
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: labels(c) },
          },
        },
      ],
    },
  };
}

const probe = (path: string, port: number, scheme: 'HTTP' | 'HTTPS', period: number): Obj => ({
  httpGet: { path, port, scheme },
  periodSeconds: period,
  timeoutSeconds: 2,
});

/** The image fields of a container. */
const image = (inst: Install): Obj => ({
  image: inst.image,
  imagePullPolicy: scalar(inst.imagePullPolicy),
});

/** NICPOOL_LOG_LEVEL, read by all three (libs/config). */
const logLevel = (inst: Install): Obj => ({
  name: 'NICPOOL_LOG_LEVEL',
  value: scalar(inst.logLevel, true),
});

/** Pod-spec fields from a component's placement; `affinity` falls back to the component's own. */
const placed = (inst: Install, p: Placement, affinity?: Obj): Obj => ({
  imagePullSecrets: optional(inst.imagePullSecrets),
  nodeSelector: optional(p.nodeSelector),
  affinity: optional(p.affinity, affinity),
});

/** The DaemonSet; with ServiceMonitors, the headless Service they scrape its pods through. */
export function allocatorObjects(inst: Install = DEPLOY): Doc[] {
  const c: Component = 'allocator';
  const namespace = inst.namespace;
  const daemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: nameOf(c), namespace, labels: labels(c) },
    spec: {
      selector: { matchLabels: labels(c) },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: labels(c) },
        spec: {
          serviceAccountName: nameOf(c),
          // Pods' sandboxes on every node need it, before any other workload.
          priorityClassName: 'system-node-critical',
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          ...placed(inst, inst.allocator),
          tolerations: optional(inst.allocator.tolerations),
          initContainers: [
            {
              name: 'install-cni-plugins',
              ...image(inst),
              // nicpool's two CNI executables: the IPAM shim and the chained veth plugin
              // (the tutorial's NADs name both). Copy then rename: Multus never execs a
              // half-written binary.
              command: [
                'sh',
                '-c',
                [
                  ['cni-shim', 'spiderpool'],
                  ['cni-veth', 'veth'],
                ]
                  .map(
                    ([app, exe]) =>
                      `cp /app/apps/${app}/dist/${exe} /host/opt/cni/bin/.${exe}.new && mv -f /host/opt/cni/bin/.${exe}.new /host/opt/cni/bin/${exe}`,
                  )
                  .join(' && '),
              ],
              securityContext: { ...RESTRICTED, runAsUser: 0 },
              volumeMounts: [{ name: 'cni-bin', mountPath: '/host/opt/cni/bin' }],
              resources: { requests: { cpu: '10m', memory: '16Mi' } },
            },
          ],
          containers: [
            {
              name: 'allocator',
              ...image(inst),
              command: ['node', '/app/apps/allocator/dist/main.js'],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'NICPOOL_ALLOCATOR_PORT', value: '5711' },
                logLevel(inst),
              ],
              ports: [{ name: 'metrics', containerPort: 5711 }],
              readinessProbe: probe('/readyz', 5711, 'HTTP', 5),
              livenessProbe: { ...probe('/healthz', 5711, 'HTTP', 10), failureThreshold: 6 },
              // The socket is root-owned, mode 0600: only root (the runtime's CNI) may call it.
              securityContext: { ...RESTRICTED, runAsUser: 0 },
              resources: block(inst.allocator.resources),
              volumeMounts: [{ name: 'socket-dir', mountPath: '/var/run/spidernet' }],
            },
          ],
          volumes: [
            {
              name: 'socket-dir',
              hostPath: { path: '/var/run/spidernet', type: 'DirectoryOrCreate' },
            },
            {
              name: 'cni-bin',
              hostPath: { path: scalar(inst.cniBinDir, true), type: 'DirectoryOrCreate' },
            },
          ],
        },
      },
    },
  };
  // Host network: the Service's endpoints are the nodes' addresses, port 5711.
  const metrics = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${nameOf(c)}-metrics`, namespace, labels: labels(c) },
    spec: {
      clusterIP: 'None',
      selector: labels(c),
      ports: [{ name: 'metrics', port: 5711, targetPort: 'metrics' }],
    },
  };
  return items(daemonSet, choose(inst.serviceMonitors.enabled, metrics, undefined)) as Doc[];
}

function pdb(c: Component, budget: Obj, namespace: string): Obj {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: nameOf(c), namespace, labels: labels(c) },
    spec: { ...budget, selector: { matchLabels: labels(c) } },
  };
}

/** What differs between the webhook's and the controller's Deployment. */
interface ServerShape {
  readonly port: {
    readonly name: string;
    readonly number: number;
    readonly scheme: 'HTTP' | 'HTTPS';
  };
  readonly env: readonly unknown[];
  /** Extra pod-spec fields (priority class, grace period). */
  readonly pod: Obj;
  /** Extra container fields (volume mounts). */
  readonly container?: Obj;
  /** The Service in front of it. */
  readonly service: { readonly name: string; readonly port: number };
  readonly budget: Obj;
  /** Whether the PodDisruptionBudget is there. */
  readonly withBudget: Cond;
  readonly placement: Placement & { readonly replicas: Knob<number> };
}

/**
 * A two-replica Deployment of an HTTP(S) server component, its Service and its
 * PodDisruptionBudget: non-root, read-only, spread over nodes, probed on its own port.
 */
function serverObjects(c: Component, shape: ServerShape, inst: Install): Doc[] {
  const { port } = shape;
  const namespace = inst.namespace;
  return items(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: nameOf(c), namespace, labels: labels(c) },
      spec: {
        replicas: scalar(shape.placement.replicas),
        selector: { matchLabels: labels(c) },
        template: {
          metadata: { labels: labels(c) },
          spec: {
            serviceAccountName: nameOf(c),
            ...shape.pod,
            ...placed(inst, shape.placement, spreadOut(c)),
            tolerations: optional(shape.placement.tolerations),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: c,
                ...image(inst),
                command: ['node', `/app/apps/${c}/dist/main.js`],
                env: shape.env,
                ports: [{ name: port.name, containerPort: port.number }],
                readinessProbe: probe('/readyz', port.number, port.scheme, 5),
                livenessProbe: {
                  ...probe('/healthz', port.number, port.scheme, 10),
                  failureThreshold: 6,
                },
                securityContext: RESTRICTED,
                resources: block(shape.placement.resources),
                ...shape.container,
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: shape.service.name, namespace, labels: labels(c) },
      spec: {
        selector: labels(c),
        ports: [{ name: port.name, port: shape.service.port, targetPort: port.name }],
      },
    },
    choose(shape.withBudget, pdb(c, shape.budget, namespace), undefined),
  ) as Doc[];
}

/** Where the webhook finds cert-manager's certificate (files mode). */
export const CERT_MANAGER_TLS = { secret: 'nicpool-webhook-cert', dir: '/tls' } as const;

export function webhookObjects(inst: Install = DEPLOY): Doc[] {
  const sm = inst.selfManagedCerts;
  const tls = CERT_MANAGER_TLS;
  return serverObjects(
    'webhook',
    {
      port: { name: 'https', number: 9443, scheme: 'HTTPS' },
      env: items(
        { name: 'NICPOOL_WEBHOOK_CERT_MODE', value: choose(sm, 'self-managed', 'files') },
        { name: 'NICPOOL_WEBHOOK_PORT', value: '9443' },
        choose(
          sm,
          // The Service and the Secret are in the pod's own namespace.
          {
            name: 'NICPOOL_WEBHOOK_NAMESPACE',
            valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
          },
          [
            { name: 'NICPOOL_WEBHOOK_TLS_CERT', value: `${tls.dir}/tls.crt` },
            { name: 'NICPOOL_WEBHOOK_TLS_KEY', value: `${tls.dir}/tls.key` },
          ],
        ),
        // Only the controller may change auto-pools (matchConditions skip its writes).
        { name: 'NICPOOL_WEBHOOK_CONTROLLER_USERS', value: userOf('controller', inst.namespace) },
        logLevel(inst),
      ),
      pod: {
        priorityClassName: 'system-cluster-critical',
        // The whole Secret, not subPath: the kubelet updates only whole-volume mounts.
        volumes: choose(sm, undefined, [{ name: 'tls', secret: { secretName: tls.secret } }]),
      },
      container: {
        volumeMounts: choose(sm, undefined, [{ name: 'tls', mountPath: tls.dir, readOnly: true }]),
        // A terminating replica keeps serving while the endpoint removal reaches kube-proxy and
        // the API server's kept-alive connections move on; closing at SIGTERM made admissions
        // through it fail during a rollout, with failurePolicy Fail (e2e/install.e2e.test.ts).
        lifecycle: { preStop: { sleep: { seconds: 5 } } },
      },
      service: { name: nameOf('webhook'), port: 443 },
      budget: { minAvailable: 1 },
      // minAvailable: 1 of a single replica would block every node drain.
      withBudget: inst.webhook.disruptionBudget,
      placement: inst.webhook,
    },
    inst,
  );
}

export function controllerObjects(inst: Install = DEPLOY): Doc[] {
  return serverObjects(
    'controller',
    {
      port: { name: 'metrics', number: 5721, scheme: 'HTTP' },
      env: [
        {
          name: 'NICPOOL_CONTROLLER_IDENTITY',
          valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
        },
        {
          name: 'NICPOOL_NAMESPACE',
          valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
        },
        logLevel(inst),
      ],
      // One leads (Lease), one stands by. The leader gives its Lease back on SIGTERM; the
      // grace period covers the item in hand.
      pod: { terminationGracePeriodSeconds: 30 },
      service: { name: `${nameOf('controller')}-metrics`, port: 5721 },
      budget: { maxUnavailable: 1 },
      withBudget: true,
      placement: inst.controller,
    },
    inst,
  );
}
