/**
 * Every annotation, label and finalizer key nicpool reads or writes. Nothing else in the
 * code base spells these strings (spec: annotations.md, crds.md).
 */
export const PREFIX = 'ipam.spidernet.io/';

/** Pod (or pod template) annotations. */
export const PodAnnotation = {
  ippool: 'ipam.spidernet.io/ippool',
  ippools: 'ipam.spidernet.io/ippools',
  subnet: 'ipam.spidernet.io/subnet',
  subnets: 'ipam.spidernet.io/subnets',
  ippoolIPNumber: 'ipam.spidernet.io/ippool-ip-number',
  ippoolReclaim: 'ipam.spidernet.io/ippool-reclaim',
  routes: 'ipam.spidernet.io/routes',
  defaultRouteNic: 'ipam.spidernet.io/default-route-nic',
} as const;
export type PodAnnotationKey = (typeof PodAnnotation)[keyof typeof PodAnnotation];

/** Namespace annotations. */
export const NamespaceAnnotation = {
  defaultIPv4IPPool: 'ipam.spidernet.io/default-ipv4-ippool',
  defaultIPv6IPPool: 'ipam.spidernet.io/default-ipv6-ippool',
} as const;
export type NamespaceAnnotationKey = (typeof NamespaceAnnotation)[keyof typeof NamespaceAnnotation];

/** Multus annotations: read, never written. */
export const MultusAnnotation = {
  networks: 'k8s.v1.cni.cncf.io/networks',
  defaultNetwork: 'v1.multus-cni.io/default-network',
} as const;
export type MultusAnnotationKey = (typeof MultusAnnotation)[keyof typeof MultusAnnotation];

export type AnnotationKey = PodAnnotationKey | NamespaceAnnotationKey | MultusAnnotationKey;

/** Labels nicpool writes on its custom resources. */
export const Label = {
  ippoolCIDR: 'ipam.spidernet.io/ippool-cidr',
  subnetCIDR: 'ipam.spidernet.io/subnet-cidr',
  ownerSpiderSubnet: 'ipam.spidernet.io/owner-spider-subnet',
  /** On SpiderEndpoints: the node whose allocator serves the pod (lets each allocator watch only its own). */
  endpointNode: 'ipam.spidernet.io/node',
  // Auto-pools (controllers.md): which workload, NIC and family a pool belongs to.
  ownerApplicationGV: 'ipam.spidernet.io/owner-application-gv',
  ownerApplicationKind: 'ipam.spidernet.io/owner-application-kind',
  ownerApplicationNamespace: 'ipam.spidernet.io/owner-application-namespace',
  ownerApplicationName: 'ipam.spidernet.io/owner-application-name',
  ownerApplicationUID: 'ipam.spidernet.io/owner-application-uid',
  interface: 'ipam.spidernet.io/interface',
  ippoolReclaim: 'ipam.spidernet.io/ippool-reclaim',
  ipVersion: 'ipam.spidernet.io/ip-version',
} as const;

/**
 * Keys of an auto-pool's `podAffinity`. Pods do not carry them: the allocator matches them
 * against the pod's owning application (allocator.md, ADD step 4).
 */
export const AppLabel = {
  apiGroup: 'ipam.spidernet.io/app-api-group',
  apiVersion: 'ipam.spidernet.io/app-api-version',
  kind: 'ipam.spidernet.io/app-kind',
  namespace: 'ipam.spidernet.io/app-namespace',
  name: 'ipam.spidernet.io/app-name',
} as const;

/** Annotation on an auto-pool: the `ippool-ip-number` it was sized by. */
export const PoolAnnotation = {
  ippoolIPNumber: 'ipam.spidernet.io/ippool-ip-number',
} as const;

/** Finalizer on pools, subnets and endpoints. */
export const FINALIZER = 'spiderpool.spidernet.io';

/** Every `ipam.spidernet.io/` key nicpool understands on a pod, for "did you mean". */
export const KNOWN_POD_KEYS: readonly string[] = Object.values(PodAnnotation);
export const KNOWN_NAMESPACE_KEYS: readonly string[] = Object.values(NamespaceAnnotation);
