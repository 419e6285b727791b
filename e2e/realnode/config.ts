/**
 * Where the real node lives and what its components are told: paths, addresses, ports and
 * the config files (containerd, kubelet, kube-proxy, CNI), as pure functions of the state
 * directory. The recipe and the reason for each setting: /work/shared/spec/realnode.md §2,
 * docs/realnode.md.
 */
import { join } from 'node:path';
import { STATE_DIR } from '../cluster/control-plane.ts';

/** Everything of the node is under this directory (git-ignored). */
export const RN = join(STATE_DIR, 'realnode');
export const NODE_NAME = 'realnode';
/** The node IP: rn-br0's address, also the pods' gateway and where the control plane listens. */
export const NODE_IP = '10.251.0.1';
export const BRIDGE = 'rn-br0';
export const POD_CIDR = '10.251.0.0/24';
export const SERVICE_CIDR = '10.96.0.0/12';
/** The `kubernetes` Service's ClusterIP (first address of SERVICE_CIDR). */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/** Marks every link the node creates on the host, so a crashed run's links are found again. */
export const LINK_ALIAS = 'nicpool-realnode';

/**
 * The tutorial node's host NICs, as veth pairs whose peers stay up on the host: macvlan
 * masters for the tutorial's NADs (`master: ens192` / `ens224`), addressed like the
 * simulator's first node (e2e/sim/node-simulator.ts, veth.md "Outcome to test").
 */
export const HOST_NICS = [
  { name: 'ens192', peer: 'rn-ens192p', address: '10.6.168.123/16' },
  { name: 'ens224', peer: 'rn-ens224p', address: undefined },
] as const;
/**
 * The tutorial node's default route is via ens192's gateway, so the veth plugin's source for
 * net1 (10.7.x) is ens192's address. The host's own default route stays as it is; this
 * route stands in for it for the tutorial's second subnet only.
 */
export const NET1_ROUTE = { to: '10.7.0.0/16', via: '10.6.0.1', dev: 'ens192' } as const;
/** Address ranges of test traffic that must never leave through another link (the guard). */
export const TEST_RANGES = ['10.251.0.0/16', '10.6.0.0/16', '10.7.0.0/16', SERVICE_CIDR] as const;
export const GUARD_TABLE = 'realnode-guard';

/**
 * Fixed ports, below the kernel's ephemeral range so they never meet e2e/cluster's
 * freePort() ones (127.0.0.1, 32768+). Everything but etcd listens on the node IP only.
 */
export const PORTS = {
  etcd: 22379,
  etcdPeer: 22380,
  apiserver: 6443,
  controllerManager: 10257,
  scheduler: 10259,
  kubelet: 10250,
  kubeletHealthz: 10248,
  kubeProxyHealthz: 10256,
  kubeProxyMetrics: 10249,
} as const;

/** The node's private CNI bin dir (e2e/install/kustomization.yaml patches the DaemonSet to it). */
export const REALNODE_CNI_BIN = '/var/lib/nicpool-realnode/cni/bin';

export const PATHS = {
  state: join(RN, 'state.json'),
  /** What the host looked like before up (sysctls, which host paths existed): read by down. */
  host: join(RN, 'host.json'),
  kubeconfig: join(RN, 'kubeconfig'),
  pki: join(RN, 'pki'),
  logs: join(RN, 'logs'),
  pids: join(RN, 'pids'),
  etcd: join(RN, 'etcd'),
  images: join(RN, 'images'),
  containerd: join(RN, 'containerd'),
  containerdSock: join(RN, 'run', 'containerd.sock'),
  /**
   * A fixed host path, outside any clone, so the install overlay (e2e/install/) can name it:
   * nicpool's DaemonSet installs `spiderpool` and `veth` here. Removed at down.
   */
  cniBin: REALNODE_CNI_BIN,
  cniConf: join(RN, 'cni', 'net.d'),
  cniIpam: join(RN, 'cni', 'ipam'),
  multusCache: join(RN, 'cni', 'multus'),
  multusKubeconfig: join(RN, 'cni', 'multus.kubeconfig'),
  kubelet: join(RN, 'kubelet'),
  kubeletRoot: join(RN, 'kubelet', 'root'),
  kubeProxy: join(RN, 'kube-proxy'),
} as const;

/**
 * Host paths the components write whatever their config says (realnode.md §3 obstacle 10),
 * and /var/run/spidernet, the allocator DaemonSet's hostPath. Down removes the ones up did
 * not find; of one that existed, only the node's own entries.
 */
export const HOST_PATHS = [
  '/run/containerd',
  '/var/lib/cni',
  '/var/log/containers',
  '/var/lib/kubelet',
  '/var/run/spidernet',
] as const;

/** Kernel tunables the kubelet (and, on a host in strict mode, the veth plugin) rewrite. */
export const SAVED_SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.forwarding',
  'net.ipv4.conf.default.forwarding',
  'net.ipv4.conf.all.rp_filter',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
  'net.ipv6.conf.all.forwarding',
] as const;

/** Multus thin's own conf: the only file in the runtime's CNI conf dir. */
export const MULTUS_CONF_NAME = 'realnode-multus';
export const CLUSTER_NETWORK = 'realnode-bridge';

export function containerdConfig(sandboxImage: string): string {
  const c = PATHS.containerd;
  return `version = 2
root = "${join(c, 'root')}"
state = "${join(c, 'state')}"
oom_score = 0
# The opt plugin would create /opt/containerd; the others need kernel modules or tools absent here.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${PATHS.containerdSock}"

[ttrpc]
  address = "${PATHS.containerdSock}.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  # Required here: without CAP_SYS_RESOURCE runc cannot set the pause container's -998.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state dir, not /run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "${join(c, 'runc')}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${PATHS.cniBin}"
    conf_dir = "${PATHS.cniConf}"
    max_conf_num = 1
`;
}

export function kubeletConfig(caFile: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# 1.36 refuses cgroup v1 hosts by default; this machine is cgroup v1 (hybrid).
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${PATHS.containerdSock}
address: ${NODE_IP}
port: ${PORTS.kubelet}
readOnlyPort: 0
healthzBindAddress: ${NODE_IP}
healthzPort: ${PORTS.kubeletHealthz}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${caFile}
authorization:
  mode: Webhook
# No KUBE-FIREWALL / canary chains in the host's iptables.
makeIPTablesUtilChains: false
podLogsDir: ${join(PATHS.kubelet, 'pod-logs')}
staticPodPath: ${join(PATHS.kubelet, 'manifests')}
volumePluginDir: ${join(PATHS.kubelet, 'volume-plugins')}
clusterDomain: cluster.local
failSwapOn: false
serializeImagePulls: false
# Imported images cannot be pulled again: never collect them, never evict for a busy disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
nodeStatusUpdateFrequency: 5s
`;
}

export function kubeProxyConfig(kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
hostnameOverride: ${NODE_NAME}
mode: nftables
bindAddress: ${NODE_IP}
healthzBindAddress: ${NODE_IP}:${PORTS.kubeProxyHealthz}
metricsBindAddress: ${NODE_IP}:${PORTS.kubeProxyMetrics}
clusterCIDR: 10.251.0.0/16
nodePortAddresses:
  - ${NODE_IP}/32
# Zeros: kube-proxy sets no conntrack sysctl.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/**
 * The pod network: a bridge on rn-br0 with host-local IPAM. No gateway and no masquerade
 * by the plugin (it would turn on ip_forward and write iptables); rn-br0 has the gateway
 * address itself.
 */
export function bridgeNetconf(): Record<string, unknown> {
  return {
    cniVersion: '0.3.1',
    name: CLUSTER_NETWORK,
    type: 'bridge',
    bridge: BRIDGE,
    isGateway: false,
    ipMasq: false,
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      dataDir: PATHS.cniIpam,
      ranges: [
        [
          {
            subnet: POD_CIDR,
            rangeStart: '10.251.0.10',
            rangeEnd: '10.251.0.250',
            gateway: NODE_IP,
          },
        ],
      ],
      routes: [{ dst: '0.0.0.0/0' }],
    },
  };
}

export function multusConf(): Record<string, unknown> {
  return {
    cniVersion: '0.3.1',
    name: MULTUS_CONF_NAME,
    type: 'multus',
    confDir: PATHS.cniConf,
    cniDir: PATHS.multusCache,
    binDir: PATHS.cniBin,
    kubeconfig: PATHS.multusKubeconfig,
    clusterNetwork: CLUSTER_NETWORK,
    multusNamespace: 'kube-system',
    logFile: join(PATHS.logs, 'multus.log'),
    logLevel: 'verbose',
  };
}

/** The NAD Multus' clusterNetwork names: every pod without a default-network annotation. */
export function clusterNetworkNAD(): Record<string, unknown> {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: CLUSTER_NETWORK, namespace: 'kube-system' },
    spec: { config: JSON.stringify(bridgeNetconf()) },
  };
}
