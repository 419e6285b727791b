/**
 * The CustomResourceDefinitions of `spiderpool.spidernet.io/v2beta1`, as data. The YAML in
 * `deploy/crds/` is generated from these (`npm run gen`) and `make verify` fails on drift.
 * Spec: crds.md. Every rule that needs no other object is a CEL rule here, so basic safety
 * holds while the webhook is down.
 */

export const GROUP = 'spiderpool.spidernet.io';
export const VERSION = 'v2beta1';
export const API_VERSION = `${GROUP}/${VERSION}`;

type Schema = Record<string, unknown>;

const str = (description: string, extra: Schema = {}): Schema => ({
  type: 'string',
  description,
  ...extra,
});
const bool = (description: string, dflt?: boolean): Schema => ({
  type: 'boolean',
  description,
  ...(dflt === undefined ? {} : { default: dflt }),
});
const int = (description: string, extra: Schema = {}): Schema => ({
  type: 'integer',
  format: 'int64',
  description,
  ...extra,
});
const list = (description: string, items: Schema, maxItems: number): Schema => ({
  type: 'array',
  description,
  items,
  maxItems,
});
const obj = (
  description: string,
  properties: Record<string, Schema>,
  extra: Schema = {},
): Schema => ({
  type: 'object',
  description,
  properties,
  ...extra,
});
const rule = (r: string, message: string, fieldPath?: string): Schema => ({
  rule: r,
  message,
  ...(fieldPath === undefined ? {} : { fieldPath }),
});

/** Longest IPv6 range `a-b` is 2 × 39 + 1 characters. */
const MAX_RANGE_LEN = 80;
const MAX_IPS_ENTRIES = 4096;

const ipVersion = int(
  'IP version of the addresses: 4 or 6. Defaulted from `subnet` by the mutating webhook; immutable once set.',
  {
    enum: [4, 6],
  },
);
const subnet = str(
  'The network, as a CIDR (`10.6.0.0/16`). Host bits may be set (`10.6.0.1/16`): the value is kept as written and its network is used for every comparison. Immutable.',
  {
    maxLength: 64,
    'x-kubernetes-validations': [
      rule('isCIDR(self)', 'subnet must be a CIDR such as 10.6.0.0/16 or fd00:6::/64'),
      rule('self == oldSelf', 'subnet is immutable; create a new object for another subnet'),
    ],
  },
);
const rangeItem = str(
  'A single IP (`10.6.168.171`) or an inclusive range `first-last` (`10.6.168.171-10.6.168.180`). No CIDR.',
  {
    maxLength: MAX_RANGE_LEN,
    'x-kubernetes-validations': [
      rule(
        "isIP(self) || (self.split('-').size() == 2 && isIP(self.split('-')[0]) && isIP(self.split('-')[1]) && ip(self.split('-')[0]).family() == ip(self.split('-')[1]).family())",
        'must be an IP or a range "first-last" of two IPs of one family',
      ),
    ],
  },
);
const ips = list(
  'Addresses of this object: single IPs and `first-last` ranges. May be empty.',
  rangeItem,
  MAX_IPS_ENTRIES,
);
const excludeIPs = list(
  'Addresses subtracted from `ips`; same format.',
  rangeItem,
  MAX_IPS_ENTRIES,
);
const gateway = str(
  'Default gateway for the NIC; inside `subnet`. If it falls inside `ips` it must also be in `excludeIPs`.',
  {
    maxLength: 39,
    'x-kubernetes-validations': [rule('isIP(self)', 'gateway must be an IP address')],
  },
);
const routes = list(
  'Extra routes handed to the NIC. No default route (use `gateway`), no duplicate `dst`, `gw` inside `subnet`.',
  obj(
    'One route.',
    {
      dst: str('Destination CIDR.', {
        maxLength: 64,
        'x-kubernetes-validations': [rule('isCIDR(self)', 'dst must be a CIDR')],
      }),
      gw: str('Next hop, inside the subnet.', {
        maxLength: 39,
        'x-kubernetes-validations': [rule('isIP(self)', 'gw must be an IP address')],
      }),
    },
    { required: ['dst', 'gw'] },
  ),
  256,
);
const vlan = int('VLAN ID, 0–4094. Accepted for compatibility; informational.', {
  minimum: 0,
  maximum: 4094,
});

const labelSelector = (what: string): Schema =>
  obj(
    `Label selector over ${what}. An empty selector matches everything; absent means no restriction.`,
    {
      matchLabels: {
        type: 'object',
        description: 'Labels that must all match.',
        additionalProperties: { type: 'string' },
      },
      matchExpressions: list(
        'Label requirements, all of which must match.',
        obj(
          'A label requirement.',
          {
            key: str('Label key.'),
            operator: str('In, NotIn, Exists or DoesNotExist.', {
              enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
            }),
            values: list('Values for In and NotIn.', str('A label value.'), 256),
          },
          { required: ['key', 'operator'] },
        ),
        64,
      ),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  );

const commonSpecRules = [
  rule(
    '!has(self.ipVersion) || !isCIDR(self.subnet) || cidr(self.subnet).ip().family() == self.ipVersion',
    'ipVersion does not match the family of subnet',
    '.ipVersion',
  ),
  rule(
    '!has(oldSelf.ipVersion) || (has(self.ipVersion) && self.ipVersion == oldSelf.ipVersion)',
    'ipVersion is immutable',
    '.ipVersion',
  ),
  rule(
    '!has(self.gateway) || !isCIDR(self.subnet) || !isIP(self.gateway) || cidr(self.subnet).masked().containsIP(self.gateway)',
    'gateway must be inside subnet',
    '.gateway',
  ),
];

const count = (d: string): Schema => int(d, { minimum: 0 });

function crd(args: {
  kind: string;
  plural: string;
  shortName: string;
  scope: 'Cluster' | 'Namespaced';
  description: string;
  spec?: Schema;
  status: Schema;
  columns: readonly Schema[];
  statusSubresource: boolean;
}): Record<string, unknown> {
  const schema: Schema = obj(args.description, {
    apiVersion: str('APIVersion of this object.'),
    kind: str('Kind of this object.'),
    metadata: { type: 'object' },
    ...(args.spec === undefined ? {} : { spec: args.spec }),
    status: args.status,
  });
  if (args.spec !== undefined) schema['required'] = ['spec'];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${args.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'nicpool' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: args.kind,
        listKind: `${args.kind}List`,
        plural: args.plural,
        singular: args.kind.toLowerCase(),
        shortNames: [args.shortName],
        categories: ['spiderpool'],
      },
      scope: args.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: schema },
          additionalPrinterColumns: args.columns,
          ...(args.statusSubresource ? { subresources: { status: {} } } : {}),
        },
      ],
    },
  };
}

const col = (
  name: string,
  type: string,
  jsonPath: string,
  description: string,
  priority = 0,
): Schema => ({
  name,
  type,
  jsonPath,
  description,
  ...(priority > 0 ? { priority } : {}),
});

export const spiderIPPoolCRD = crd({
  kind: 'SpiderIPPool',
  plural: 'spiderippools',
  shortName: 'sp',
  scope: 'Cluster',
  description:
    'A pool of IP addresses that pods draw from, per interface. Pods name pools in the ipam.spidernet.io/ippool(s) annotations, or a pool is a namespace or cluster default.',
  statusSubresource: true,
  spec: obj(
    'What the pool holds and who may use it.',
    {
      ipVersion,
      subnet,
      ips,
      excludeIPs,
      gateway,
      routes,
      vlan,
      podAffinity: labelSelector('pod labels: only matching pods may use the pool'),
      namespaceAffinity: labelSelector(
        'namespace labels: only pods in matching namespaces may use the pool',
      ),
      nodeAffinity: labelSelector('node labels: only pods on matching nodes may use the pool'),
      namespaceName: list(
        'Namespaces whose pods may use the pool; when non-empty it replaces namespaceAffinity.',
        str('Namespace name.'),
        1024,
      ),
      nodeName: list(
        'Nodes whose pods may use the pool; when non-empty it replaces nodeAffinity.',
        str('Node name.'),
        1024,
      ),
      multusName: list(
        'NetworkAttachmentDefinitions (`ns/name` or `name`) this pool serves; empty: any.',
        str('NAD reference.'),
        256,
      ),
      default: bool(
        'Cluster-default pool: used when no annotation, namespace or netconf names a pool.',
        false,
      ),
      disable: bool('No new allocations from this pool; releasing still works.', false),
    },
    { required: ['subnet'], 'x-kubernetes-validations': commonSpecRules },
  ),
  status: obj('Allocations, written by nicpool.', {
    allocatedIPs: str(
      'JSON object from IP to its holder: {"10.6.168.171":{"pod":"ns/name","podUid":"…","interface":"net1"}}. Absent when empty.',
    ),
    allocatedIPCount: count('Number of allocated addresses.'),
    totalIPCount: count('Number of addresses in ips minus excludeIPs.'),
  }),
  columns: [
    col('VERSION', 'string', '.spec.ipVersion', 'IP version'),
    col('SUBNET', 'string', '.spec.subnet', 'Subnet'),
    col('ALLOCATED-IP-COUNT', 'integer', '.status.allocatedIPCount', 'Allocated addresses'),
    col('TOTAL-IP-COUNT', 'integer', '.status.totalIPCount', 'Addresses in the pool'),
    col('DEFAULT', 'boolean', '.spec.default', 'Cluster-default pool'),
    col('DISABLE', 'boolean', '.spec.disable', 'No new allocations'),
    col('NODENAME', 'string', '.spec.nodeName', 'Nodes that may use the pool', 1),
    col('MULTUSNAME', 'string', '.spec.multusName', 'NADs the pool serves', 1),
    col('APP-NAMESPACE', 'string', '.spec.namespaceName', 'Namespaces that may use the pool', 1),
  ],
});

export const spiderSubnetCRD = crd({
  kind: 'SpiderSubnet',
  plural: 'spidersubnets',
  shortName: 'ss',
  scope: 'Cluster',
  description:
    'A range of addresses from which nicpool carves pools for workloads annotated with ipam.spidernet.io/subnet(s), and which admins can use to keep manual pools apart.',
  statusSubresource: true,
  spec: obj(
    'The subnet and its addresses.',
    { ipVersion, subnet, ips, excludeIPs, gateway, routes, vlan },
    { required: ['subnet'], 'x-kubernetes-validations': commonSpecRules },
  ),
  status: obj('Addresses handed to pools, written by nicpool.', {
    controlledIPPools: str(
      'JSON object from pool name to its addresses and application: {"pool":{"ips":["10.6.168.171-10.6.168.173"],"application":"apps_v1_Deployment_default_test-app"}}.',
    ),
    allocatedIPCount: count('Number of addresses handed to pools.'),
    totalIPCount: count('Number of addresses in ips minus excludeIPs.'),
  }),
  columns: [
    col('VERSION', 'string', '.spec.ipVersion', 'IP version'),
    col('SUBNET', 'string', '.spec.subnet', 'Subnet'),
    col('ALLOCATED-IP-COUNT', 'integer', '.status.allocatedIPCount', 'Addresses handed to pools'),
    col('TOTAL-IP-COUNT', 'integer', '.status.totalIPCount', 'Addresses in the subnet'),
  ],
});

const endpointIP = obj(
  'The addresses of one NIC.',
  {
    interface: str('Interface name in the pod (eth0, net1, …).'),
    ipv4: str('IPv4 address with prefix length (10.6.168.172/16).'),
    ipv6: str('IPv6 address with prefix length.'),
    ipv4Pool: str('Pool of the IPv4 address.'),
    ipv6Pool: str('Pool of the IPv6 address.'),
    ipv4Gateway: str('IPv4 gateway handed to the NIC.'),
    ipv6Gateway: str('IPv6 gateway handed to the NIC.'),
    cleanGateway: bool('True when no default route was handed to this NIC.'),
    routes: list(
      'Routes handed to the NIC.',
      obj(
        'One route.',
        { dst: str('Destination CIDR.'), gw: str('Next hop.') },
        { required: ['dst', 'gw'] },
      ),
      256,
    ),
    vlan: vlan,
  },
  { required: ['interface'] },
);

export const spiderEndpointCRD = crd({
  kind: 'SpiderEndpoint',
  plural: 'spiderendpoints',
  shortName: 'se',
  scope: 'Namespaced',
  description:
    'The addresses nicpool gave one pod, per interface (same namespace and name as the pod). For StatefulSet pods it outlives the pod so the addresses stick.',
  statusSubresource: false,
  status: obj('Current allocation of the pod.', {
    current: obj('The allocation of the pod with this UID.', {
      uid: str('Pod UID.'),
      node: str('Node the pod runs on.'),
      ips: list('One entry per NIC.', endpointIP, 64),
    }),
    ownerControllerType: str('Kind of the top controller (Deployment, StatefulSet, …) or Pod.'),
    ownerControllerName: str('Name of the top controller.'),
  }),
  columns: [
    col('INTERFACE', 'string', '.status.current.ips[0].interface', 'First NIC'),
    col('IPV4POOL', 'string', '.status.current.ips[0].ipv4Pool', 'Pool of the first NIC (IPv4)'),
    col('IPV4', 'string', '.status.current.ips[0].ipv4', 'IPv4 of the first NIC'),
    col('IPV6POOL', 'string', '.status.current.ips[0].ipv6Pool', 'Pool of the first NIC (IPv6)'),
    col('IPV6', 'string', '.status.current.ips[0].ipv6', 'IPv6 of the first NIC'),
    col('NODE', 'string', '.status.current.node', 'Node'),
  ],
});

export const spiderReservedIPCRD = crd({
  kind: 'SpiderReservedIP',
  plural: 'spiderreservedips',
  shortName: 'sr',
  scope: 'Cluster',
  description:
    'Addresses that are never allocated from any pool nor pre-allocated into auto-pools.',
  statusSubresource: false,
  spec: obj(
    'The reserved addresses.',
    {
      ipVersion: int(
        'IP version of the addresses: 4 or 6. Defaulted from ips[0] by the mutating webhook.',
        { enum: [4, 6] },
      ),
      ips: list(
        'Reserved addresses: single IPs and `first-last` ranges.',
        rangeItem,
        MAX_IPS_ENTRIES,
      ),
    },
    {
      'x-kubernetes-validations': [
        rule(
          "!has(self.ipVersion) || !has(self.ips) || self.ips.all(r, ip(r.split('-')[0]).family() == self.ipVersion)",
          'every entry of ips must be of ipVersion',
          '.ips',
        ),
      ],
    },
  ),
  status: obj(
    'Unused; present for compatibility.',
    {},
    { 'x-kubernetes-preserve-unknown-fields': true },
  ),
  columns: [col('VERSION', 'string', '.spec.ipVersion', 'IP version')],
});

/** The NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1), for clusters without Multus's own. */
export const networkAttachmentDefinitionCRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'network-attachment-definitions.k8s.cni.cncf.io' },
  spec: {
    group: 'k8s.cni.cncf.io',
    scope: 'Namespaced',
    names: {
      plural: 'network-attachment-definitions',
      singular: 'network-attachment-definition',
      kind: 'NetworkAttachmentDefinition',
      shortNames: ['net-attach-def'],
    },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            description:
              'NetworkAttachmentDefinition is a CRD schema specified by the Network Plumbing Working Group to express the intent for attaching pods to one or more logical or physical networks.',
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                description:
                  'NetworkAttachmentDefinition spec defines the desired state of a network attachment',
                type: 'object',
                properties: {
                  config: {
                    description:
                      'NetworkAttachmentDefinition config is a JSON-formatted CNI configuration',
                    type: 'string',
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

/** File name → CRD, in apply order. */
export const CRD_FILES: readonly (readonly [string, Record<string, unknown>])[] = [
  ['spiderpool.spidernet.io_spiderippools.yaml', spiderIPPoolCRD],
  ['spiderpool.spidernet.io_spidersubnets.yaml', spiderSubnetCRD],
  ['spiderpool.spidernet.io_spiderendpoints.yaml', spiderEndpointCRD],
  ['spiderpool.spidernet.io_spiderreservedips.yaml', spiderReservedIPCRD],
  ['k8s.cni.cncf.io_network-attachment-definitions.yaml', networkAttachmentDefinitionCRD],
];
