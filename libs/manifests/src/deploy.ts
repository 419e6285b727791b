/**
 * nicpool's install manifests as data: `npm run gen` writes deploy/ from here, and the e2e
 * suites apply the same RBAC and run each component under its own ServiceAccount, so a
 * missing permission fails a test. Every rule names the code that needs it.
 */
import { NICPOOL_NAMESPACE } from './names.ts';

export type Component = 'webhook' | 'controller' | 'allocator';
export const COMPONENTS: readonly Component[] = ['webhook', 'controller', 'allocator'];

/** `nicpool-<component>`: ServiceAccount, ClusterRole, Deployment/DaemonSet names. */
export const nameOf = (c: Component): string => `nicpool-${c}`;
/** The user name the API server sees for a component (the webhook lets only the controller edit auto-pools). */
export const userOf = (c: Component): string =>
  `system:serviceaccount:${NICPOOL_NAMESPACE}:${nameOf(c)}`;

/** The image all three components run from (deploy/images/Containerfile). */
export const IMAGE = 'nicpool:0.1.0';

type Obj = Record<string, unknown>;
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const CRD = 'spiderpool.spidernet.io';
const READ = ['get', 'list', 'watch'];

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
    // certs-kube.ts: keeps caBundle of its own two configurations current (self-managed mode).
    {
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
      verbs: ['get', 'patch'],
      resourceNames: ['nicpool-validating', 'nicpool-mutating'],
    },
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
  // certs-kube.ts: the self-managed CA and serving certificate.
  webhook: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'update'] }],
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

const labels = (c: Component): Record<string, string> => ({
  'app.kubernetes.io/name': 'nicpool',
  'app.kubernetes.io/component': c,
});

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

/** ServiceAccount, ClusterRole(+Binding) and, where needed, Role(+Binding) of a component. */
export function rbacObjects(c: Component): Obj[] {
  const name = nameOf(c);
  const subject = [{ kind: 'ServiceAccount', name, namespace: NICPOOL_NAMESPACE }];
  const out: Obj[] = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: NICPOOL_NAMESPACE, labels: labels(c) },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels: labels(c) },
      rules: CLUSTER_RULES[c],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels: labels(c) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: subject,
    },
  ];
  if (NAMESPACE_RULES[c].length > 0)
    out.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name, namespace: NICPOOL_NAMESPACE, labels: labels(c) },
        rules: NAMESPACE_RULES[c],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name, namespace: NICPOOL_NAMESPACE, labels: labels(c) },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: subject,
      },
    );
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

export function allocatorObjects(): Obj[] {
  const c: Component = 'allocator';
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: nameOf(c), namespace: NICPOOL_NAMESPACE, labels: labels(c) },
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
            tolerations: [{ operator: 'Exists' }],
            initContainers: [
              {
                name: 'install-cni-plugins',
                image: IMAGE,
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
                image: IMAGE,
                command: ['node', '/app/apps/allocator/dist/main.js'],
                env: [
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                  { name: 'NICPOOL_ALLOCATOR_PORT', value: '5711' },
                ],
                ports: [{ name: 'metrics', containerPort: 5711 }],
                readinessProbe: probe('/readyz', 5711, 'HTTP', 5),
                livenessProbe: { ...probe('/healthz', 5711, 'HTTP', 10), failureThreshold: 6 },
                // The socket is root-owned, mode 0600: only root (the runtime's CNI) may call it.
                securityContext: { ...RESTRICTED, runAsUser: 0 },
                resources: {
                  requests: { cpu: '50m', memory: '96Mi' },
                  limits: { memory: '384Mi' },
                },
                volumeMounts: [{ name: 'socket-dir', mountPath: '/var/run/spidernet' }],
              },
            ],
            volumes: [
              {
                name: 'socket-dir',
                hostPath: { path: '/var/run/spidernet', type: 'DirectoryOrCreate' },
              },
              { name: 'cni-bin', hostPath: { path: '/opt/cni/bin', type: 'DirectoryOrCreate' } },
            ],
          },
        },
      },
    },
  ];
}

function pdb(c: Component, budget: Obj): Obj {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: nameOf(c), namespace: NICPOOL_NAMESPACE, labels: labels(c) },
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
  readonly env: readonly Obj[];
  /** Extra pod-spec fields (priority class, grace period). */
  readonly pod: Obj;
  /** The Service in front of it. */
  readonly service: { readonly name: string; readonly port: number };
  readonly budget: Obj;
}

/**
 * A two-replica Deployment of an HTTP(S) server component, its Service and its
 * PodDisruptionBudget: non-root, read-only, spread over nodes, probed on its own port.
 */
function serverObjects(c: Component, shape: ServerShape): Obj[] {
  const { port } = shape;
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: nameOf(c), namespace: NICPOOL_NAMESPACE, labels: labels(c) },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels(c) },
        template: {
          metadata: { labels: labels(c) },
          spec: {
            serviceAccountName: nameOf(c),
            ...shape.pod,
            affinity: spreadOut(c),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: c,
                image: IMAGE,
                command: ['node', `/app/apps/${c}/dist/main.js`],
                env: shape.env,
                ports: [{ name: port.name, containerPort: port.number }],
                readinessProbe: probe('/readyz', port.number, port.scheme, 5),
                livenessProbe: {
                  ...probe('/healthz', port.number, port.scheme, 10),
                  failureThreshold: 6,
                },
                securityContext: RESTRICTED,
                resources: {
                  requests: { cpu: '50m', memory: '128Mi' },
                  limits: { memory: '512Mi' },
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: shape.service.name, namespace: NICPOOL_NAMESPACE, labels: labels(c) },
      spec: {
        selector: labels(c),
        ports: [{ name: port.name, port: shape.service.port, targetPort: port.name }],
      },
    },
    pdb(c, shape.budget),
  ];
}

export function webhookObjects(): Obj[] {
  return serverObjects('webhook', {
    port: { name: 'https', number: 9443, scheme: 'HTTPS' },
    env: [
      { name: 'NICPOOL_WEBHOOK_CERT_MODE', value: 'self-managed' },
      { name: 'NICPOOL_WEBHOOK_PORT', value: '9443' },
    ],
    pod: { priorityClassName: 'system-cluster-critical' },
    service: { name: nameOf('webhook'), port: 443 },
    budget: { minAvailable: 1 },
  });
}

export function controllerObjects(): Obj[] {
  return serverObjects('controller', {
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
    ],
    // One leads (Lease), one stands by. The leader gives its Lease back on SIGTERM; the
    // grace period covers the item in hand.
    pod: { terminationGracePeriodSeconds: 30 },
    service: { name: `${nameOf('controller')}-metrics`, port: 5721 },
    budget: { maxUnavailable: 1 },
  });
}
