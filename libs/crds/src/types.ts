/** TypeScript shapes of the nicpool custom resources (crds.md). */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface Route {
  dst: string;
  gw: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Fields shared by pools and subnets. */
export interface AddressSpec {
  ipVersion?: 4 | 6;
  subnet: string;
  ips?: string[];
  excludeIPs?: string[];
  gateway?: string;
  routes?: Route[];
  vlan?: number;
}

export interface SpiderIPPoolSpec extends AddressSpec {
  podAffinity?: LabelSelector;
  namespaceAffinity?: LabelSelector;
  nodeAffinity?: LabelSelector;
  namespaceName?: string[];
  nodeName?: string[];
  multusName?: string[];
  default?: boolean;
  disable?: boolean;
}

export interface SpiderIPPoolStatus {
  /** JSON string; see {@link decodeAllocatedIPs}. */
  allocatedIPs?: string;
  allocatedIPCount?: number;
  totalIPCount?: number;
}

export interface SpiderIPPool {
  apiVersion: 'spiderpool.spidernet.io/v2beta1';
  kind: 'SpiderIPPool';
  metadata: ObjectMeta;
  spec: SpiderIPPoolSpec;
  status?: SpiderIPPoolStatus;
}

export interface SpiderSubnetStatus {
  /** JSON string; see {@link decodeControlledIPPools}. */
  controlledIPPools?: string;
  allocatedIPCount?: number;
  totalIPCount?: number;
}

export interface SpiderSubnet {
  apiVersion: 'spiderpool.spidernet.io/v2beta1';
  kind: 'SpiderSubnet';
  metadata: ObjectMeta;
  spec: AddressSpec;
  status?: SpiderSubnetStatus;
}

export interface EndpointIP {
  interface: string;
  ipv4?: string;
  ipv6?: string;
  ipv4Pool?: string;
  ipv6Pool?: string;
  ipv4Gateway?: string;
  ipv6Gateway?: string;
  cleanGateway?: boolean;
  routes?: Route[];
  vlan?: number;
}

export interface SpiderEndpoint {
  apiVersion: 'spiderpool.spidernet.io/v2beta1';
  kind: 'SpiderEndpoint';
  metadata: ObjectMeta;
  status?: {
    current?: { uid: string; node: string; ips: EndpointIP[] };
    ownerControllerType?: string;
    ownerControllerName?: string;
  };
}

export interface SpiderReservedIP {
  apiVersion: 'spiderpool.spidernet.io/v2beta1';
  kind: 'SpiderReservedIP';
  metadata: ObjectMeta;
  spec: { ipVersion?: 4 | 6; ips?: string[] };
}
