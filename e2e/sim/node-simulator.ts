/**
 * Plays scheduler and kubelet for many nodes, for e2e tests and benchmarks (test
 * infrastructure, not product).
 *
 * - Each simulated node is a network namespace of its own (`nicpool-node-<name>`), holding
 *   the node's host NICs (veth pairs named like the tutorial's `ens192`, `ens224`, addressed
 *   like its node: 10.6.168.123/16 on the first node's ens192) and a node agent
 *   (node-agent.ts) that runs the CNI chain there, in a mount namespace where the node's own
 *   allocator socket is at the default path (/var/run/spidernet/spiderpool.sock).
 * - It registers the Node objects and marks them Ready, binds pending pods to them (round
 *   robin), and for each pod bound to one of them creates a network namespace and runs the
 *   real CNI chain, the Multus thin plugin with the cluster's kubeconfig delegating to the
 *   real plugins; then writes the pod status (Running, Ready, IPs). A deleted pod gets CNI
 *   DEL, its netns removed and its deletion completed.
 * - Watch-driven (one paginated list, then a watch of pods: libs/kube's loop), with up to
 *   `parallel` sandboxes being set up or torn down at once per node, as a kubelet does; a
 *   failed ADD is retried with backoff while the pod exists.
 *
 * Every netns is named `nicpool-…`, so a crashed run is cleaned up by the next
 * `cluster-up` / `cluster-down` (cleanupSimLeftovers); the host NICs die with their node's
 * netns, and a node agent exits when the simulator's end of its stdin closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, symlinkSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { apiStatus, retryOnConflict, watchInto, type Watching } from '@nicpool/kube';
import { NETNS_PREFIX, REPO, STATE_DIR, type ClusterState } from '../cluster/control-plane.ts';
import type { AgentConfig, AgentReply, AgentRequest } from './node-agent.ts';
import { run, type RunResult } from './run.ts';

export interface SimulatorOptions {
  readonly cluster: ClusterState;
  readonly nodes: readonly string[];
  /** Host NICs of every node, created as veth pairs in the node's netns (macvlan parents). */
  readonly hostNics?: readonly string[];
  /** Multus `clusterNetwork`: a NAD name in `multusNamespace`, used when a pod has no default-network annotation. */
  readonly clusterNetwork: string;
  readonly multusNamespace?: string;
  /** Extra executables to put next to the plugins in the CNI bin dir (name → path), e.g. the nicpool shim. */
  readonly extraPlugins?: Readonly<Record<string, string>>;
  /**
   * Node → its allocator's socket path. The socket's directory is mounted at
   * /var/run/spidernet in that node, so the shim finds it at the default path; the socket
   * file must be named `spiderpool.sock`.
   */
  readonly allocators?: Readonly<Record<string, string>>;
  /** Run CNI DEL when a pod disappears without a graceful deletion (as a kubelet would). Default true. */
  readonly delOnVanish?: boolean;
  /** Bind pods that have no node to the simulated nodes, as a scheduler would (default true). */
  readonly schedule?: boolean;
  /**
   * Niceness of everything that runs on the nodes (the CNI chain; the caller's allocators
   * too, if it wants): a benchmark sets 10 so the control plane keeps its share of this
   * machine's CPUs, as on machines of its own. Default 0.
   */
  readonly nodeNice?: number;
  /** Sandboxes set up or torn down at once per node (default 16). */
  readonly parallel?: number;
}

interface Sandbox {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
  readonly node: string;
}

export type CNIRun = RunResult;

/** One CNI invocation: for assertions, benchmarks and for debugging a failed test. */
export interface CNILogEntry {
  readonly pod: string;
  readonly uid: string;
  readonly node: string;
  readonly command: string;
  readonly result: CNIRun;
  /** Date.now() when it started, and how long it took (ms). */
  readonly startedAt: number;
  readonly ms: number;
}

const SOCKET_MOUNT = '/var/run/spidernet';
/** CNI DEL attempts for one teardown (about 15 s of backoff) before the sandbox is let go. */
const DEL_ATTEMPTS = 6;
const NODE_NETNS_PREFIX = `${NETNS_PREFIX}node-`;
/**
 * The tutorial's node addresses, the i-th node counting up from them: ens192 has the node's
 * one IPv4 address, ens224 none (veth.md "Outcome to test": the veth plugin routes to every
 * node address, so tests know exactly which there are). The node's default route is via
 * ens192's gateway, as on the tutorial's node.
 */
const NIC_ADDRESS: Readonly<Record<string, (i: number) => string>> = {
  ens192: (i) => `10.6.168.${123 + i}/16`,
};
const NODE_GATEWAY = { nic: 'ens192', via: '10.6.0.1' };

async function ip(...args: string[]): Promise<CNIRun> {
  return run({ cmd: 'ip', args });
}

async function mustIp(...args: string[]): Promise<void> {
  const r = await ip(...args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** At most `n` at once; the rest wait in order. */
class Limit {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await f();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    }
  }
}

/** The node agent of one simulated node: runs commands in the node's namespaces. */
class NodeAgent {
  readonly netns: string;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (r: CNIRun) => void>();
  readonly #ready: Promise<void>;
  #next = 0;

  /** `netns` undefined: in the host's namespaces (the API proxy). */
  constructor(netns: string | undefined, config: AgentConfig, nice = 0) {
    this.netns = netns ?? '';
    const agent = [
      join(REPO, 'node_modules', '.bin', 'node'),
      join(import.meta.dirname, 'node-agent.ts'),
      JSON.stringify(config),
    ];
    const inNode = netns === undefined ? agent : ['ip', 'netns', 'exec', netns, ...agent];
    const argv = nice === 0 ? inNode : ['nice', '-n', String(nice), ...inNode];
    this.#child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: this.#child.stdout! });
    this.#ready = new Promise((resolve, reject) => {
      this.#child.once('exit', (code) => {
        reject(new Error(`node agent in ${netns} exited (${code})`));
        for (const done of this.#pending.values())
          done({ code: -1, stdout: '', stderr: `node agent in ${netns} exited` });
        this.#pending.clear();
      });
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as Partial<AgentReply> & { ready?: boolean; error?: string };
        if (msg.ready === true) resolve();
        else if (msg.ready === false) reject(new Error(`node agent in ${netns}: ${msg.error}`));
        else if (msg.id !== undefined) {
          this.#pending.get(msg.id)?.({
            code: msg.code!,
            stdout: msg.stdout!,
            stderr: msg.stderr!,
          });
          this.#pending.delete(msg.id);
        }
      });
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  call(req: Omit<AgentRequest, 'id'>): Promise<CNIRun> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#child.stdin!.write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    this.#child.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}

export class NodeSimulator {
  readonly #opts: SimulatorOptions;
  readonly #kc: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #dir: string;
  readonly #binDir: string;
  readonly #conf: string;
  readonly #agents = new Map<string, NodeAgent>();
  readonly #limits = new Map<string, Limit>();
  /** Pods as the watch last saw them, by UID. */
  readonly #pods = new Map<string, V1Pod>();
  readonly #sandboxes = new Map<string, Sandbox>();
  /** Per pod UID: is a reconcile running, and was it asked for again meanwhile. */
  readonly #work = new Map<string, { again: boolean; done: Promise<void> }>();
  readonly #retries = new Map<string, { n: number; timer?: NodeJS.Timeout }>();
  readonly #failures = new Map<string, string>();
  #apiProxy: NodeAgent | undefined;
  #watch: Watching | undefined;
  #createdSocketMount = false;
  #stopped = false;
  #next = 0;
  /** Every CNI invocation, for assertions, benchmarks and debugging a failed test. */
  readonly log: CNILogEntry[] = [];
  /** Pod UID → when (Date.now()) its status was written Running; gone when torn down. */
  readonly running = new Map<string, number>();

  constructor(opts: SimulatorOptions) {
    this.#opts = opts;
    this.#kc = new KubeConfig();
    this.#kc.loadFromFile(opts.cluster.kubeconfig);
    this.#core = this.#kc.makeApiClient(CoreV1Api);
    this.#dir = mkdtempSync(join(tmpdir(), 'nicpool-sim-'));
    this.#binDir = join(this.#dir, 'bin');
    this.#conf = JSON.stringify({
      cniVersion: '0.3.1',
      name: 'multus-cni-network',
      type: 'multus',
      confDir: join(this.#dir, 'net.d'),
      cniDir: join(this.#dir, 'multus-cache'),
      binDir: this.#binDir,
      kubeconfig: opts.cluster.kubeconfig,
      clusterNetwork: opts.clusterNetwork,
      multusNamespace: opts.multusNamespace ?? 'kube-system',
      logFile: join(this.#dir, 'multus.log'),
      logLevel: 'verbose',
    });
  }

  get dir(): string {
    return this.#dir;
  }

  /** The CNI bin dir: the real plugins, Multus and the extra plugins. */
  get binDir(): string {
    return this.#binDir;
  }

  /** The netns path of a running pod, by UID. */
  netnsOf(uid: string): string | undefined {
    const s = this.#sandboxes.get(uid);
    return s === undefined ? undefined : `/var/run/netns/${s.netns}`;
  }

  /** The container (sandbox) ID CNI got for a running pod, by UID. */
  containerIdOf(uid: string): string | undefined {
    return this.#sandboxes.get(uid)?.containerId;
  }

  /** The namespace of the pod a sandbox of this simulator runs, by pod UID. */
  podNamespace(uid: string): string | undefined {
    return this.#sandboxes.get(uid)?.namespace;
  }

  /** The network namespace (name) of a simulated node, where its host NICs are. */
  nodeNetns(node: string): string {
    return `${NODE_NETNS_PREFIX}${node}`.slice(0, 64);
  }

  /** Runs a command inside a node (its netns and mount namespace), e.g. `ip rule`. */
  async exec(
    node: string,
    cmd: string,
    args: readonly string[],
    io: { input?: string; env?: Record<string, string> } = {},
  ): Promise<CNIRun> {
    const agent = this.#agents.get(node);
    if (agent === undefined) throw new Error(`no simulated node ${node}`);
    return agent.call({ cmd, args, ...io });
  }

  /** Last CNI failure per pod (namespace/name), so a stuck test can say why. */
  get failures(): ReadonlyMap<string, string> {
    return this.#failures;
  }

  async start(): Promise<void> {
    mkdirSync(this.#binDir, { recursive: true });
    mkdirSync(join(this.#dir, 'net.d'), { recursive: true });
    mkdirSync(STATE_DIR, { recursive: true });
    const { cniPluginDir, multus } = this.#opts.cluster.bin;
    for (const f of readdirSync(cniPluginDir))
      symlinkSync(join(cniPluginDir, f), join(this.#binDir, f));
    symlinkSync(multus, join(this.#binDir, 'multus'));
    for (const [name, path] of Object.entries(this.#opts.extraPlugins ?? {}))
      symlinkSync(path, join(this.#binDir, name));
    await this.#serveApi();
    if (Object.keys(this.#opts.allocators ?? {}).length > 0 && !existsSync(SOCKET_MOUNT)) {
      // The mount point only: each node mounts its allocator's directory over it privately.
      mkdirSync(SOCKET_MOUNT, { recursive: true });
      this.#createdSocketMount = true;
    }
    await Promise.all(this.#opts.nodes.map((node, i) => this.#startNode(node, i)));
    this.#watch = watchInto(
      this.#kc,
      {
        what: 'pods',
        path: '/api/v1/pods',
        list: (page) => this.#core.listPodForAllNamespaces({ ...page }),
        into: this.#pods,
        map: (o) => o as V1Pod,
        key: (o) => o.metadata?.uid ?? '',
        onEvent: (_type, o: KubernetesObject) => this.#kick(o.metadata?.uid ?? ''),
      },
      () => undefined, // the API server may be briefly away: the loop retries
    );
  }

  /** Node loopback → this Unix socket → the API server on the host's loopback. */
  async #serveApi(): Promise<void> {
    this.#apiProxy = new NodeAgent(undefined, {
      hostProxy: true,
      apiPort: this.#opts.cluster.ports.apiserver,
      apiSocket: join(this.#dir, 'api.sock'),
    });
    await this.#apiProxy.ready();
  }

  async #startNode(node: string, i: number): Promise<void> {
    const netns = this.nodeNetns(node);
    const add = await ip('netns', 'add', netns);
    if (add.code !== 0 && !add.stderr.includes('File exists'))
      throw new Error(`ip netns add ${netns}: ${add.stderr.trim()}`);
    for (const nic of this.#opts.hostNics ?? []) {
      if ((await ip('-n', netns, 'link', 'show', nic)).code !== 0)
        await mustIp(
          '-n',
          netns,
          'link',
          'add',
          nic,
          'type',
          'veth',
          'peer',
          'name',
          `${nic}p`.slice(0, 15),
        );
      const address = NIC_ADDRESS[nic]?.(i);
      if (address !== undefined) await ip('-n', netns, 'addr', 'replace', address, 'dev', nic);
      await mustIp('-n', netns, 'link', 'set', nic, 'up');
      await mustIp('-n', netns, 'link', 'set', `${nic}p`.slice(0, 15), 'up');
      if (nic === NODE_GATEWAY.nic)
        await mustIp(
          '-n',
          netns,
          'route',
          'replace',
          'default',
          'via',
          NODE_GATEWAY.via,
          'dev',
          nic,
        );
    }
    const socket = this.#opts.allocators?.[node];
    const agent = new NodeAgent(
      netns,
      {
        apiPort: this.#opts.cluster.ports.apiserver,
        apiSocket: join(this.#dir, 'api.sock'),
        ...(socket === undefined ? {} : { socketDir: dirname(socket) }),
      },
      this.#opts.nodeNice ?? 0,
    );
    this.#agents.set(node, agent);
    this.#limits.set(node, new Limit(this.#opts.parallel ?? 16));
    await agent.ready();
    await this.#registerNode(node, NIC_ADDRESS['ens192']!(i).split('/')[0]!);
  }

  async #registerNode(name: string, address: string): Promise<void> {
    const now = new Date();
    try {
      await this.#core.createNode({
        body: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
          },
        },
      });
    } catch (e) {
      if (apiStatus(e) !== 409) throw e;
    }
    // kube-controller-manager touches new Nodes too (ttl, …): a status write can conflict.
    await retryOnConflict(
      `node ${name} status`,
      () => this.#core.readNode({ name }),
      (node) => ({
        write: {
          ...node,
          status: {
            ...node.status,
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'simulated by the nicpool node simulator',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
            addresses: [
              { type: 'InternalIP', address },
              { type: 'Hostname', address: name },
            ],
          },
        },
        result: undefined,
      }),
      (body) => this.#core.replaceNodeStatus({ name, body }),
    );
  }

  /** Reconciles one pod, never two reconciles of it at once; events meanwhile coalesce. */
  #kick(uid: string): void {
    if (uid === '' || this.#stopped) return;
    const w = this.#work.get(uid);
    if (w !== undefined) {
      w.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    this.#work.set(uid, entry);
    entry.done = (async () => {
      do {
        entry.again = false;
        await this.#reconcile(uid);
      } while (entry.again && !this.#stopped);
      this.#work.delete(uid);
    })();
  }

  async #reconcile(uid: string): Promise<void> {
    const pod = this.#pods.get(uid);
    const key = pod === undefined ? uid : `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    try {
      await this.#reconcileOnce(uid, pod);
      this.#failures.delete(key);
      const r = this.#retries.get(uid);
      if (r !== undefined) clearTimeout(r.timer);
      this.#retries.delete(uid);
    } catch (e) {
      this.#failures.set(key, e instanceof Error ? e.message : String(e));
      // As a kubelet does: try again later, backing off, while the pod is there.
      const r = this.#retries.get(uid) ?? { n: 0 };
      r.n++;
      clearTimeout(r.timer);
      r.timer = setTimeout(() => this.#kick(uid), Math.min(250 * 2 ** r.n, 5000));
      this.#retries.set(uid, r);
    }
  }

  async #reconcileOnce(uid: string, pod: V1Pod | undefined): Promise<void> {
    const sb = this.#sandboxes.get(uid);
    if (pod === undefined) {
      if (sb === undefined) return;
      // Force-deleted: a kubelet would still tear down the sandbox.
      if (this.#opts.delOnVanish ?? true) await this.#teardown(sb);
      else {
        await ip('netns', 'delete', sb.netns);
        this.#sandboxes.delete(uid);
        this.running.delete(uid);
      }
      return;
    }
    const meta = pod.metadata!;
    const nodeName = pod.spec?.nodeName;
    const ours = nodeName !== undefined && this.#agents.has(nodeName);
    if (meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null) {
      if (!ours) return;
      if (sb !== undefined) await this.#teardown(sb);
      // With a body, the API server ignores query parameters: grace period goes in the body.
      await this.#core
        .deleteNamespacedPod({
          name: meta.name!,
          namespace: meta.namespace!,
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        })
        .catch((e: unknown) => {
          // 404: already gone; 409: a new pod of the same name (precondition on uid).
          const code = apiStatus(e);
          if (code !== 404 && code !== 409) throw e;
        });
      return;
    }
    if (nodeName === undefined || nodeName === '') {
      if (this.#opts.nodes.length === 0 || this.#opts.schedule === false) return;
      if (pod.spec?.schedulerName !== undefined && pod.spec.schedulerName !== 'default-scheduler')
        return;
      const node = this.#opts.nodes[this.#next++ % this.#opts.nodes.length]!;
      await this.#core
        .createNamespacedPodBinding({
          name: meta.name!,
          namespace: meta.namespace!,
          body: {
            apiVersion: 'v1',
            kind: 'Binding',
            metadata: { name: meta.name!, namespace: meta.namespace!, uid },
            target: { apiVersion: 'v1', kind: 'Node', name: node },
          },
        })
        .catch((e: unknown) => {
          // 409: bound meanwhile; 404: gone. The watch brings what happened.
          const code = apiStatus(e);
          if (code !== 404 && code !== 409) throw e;
        });
      return;
    }
    if (!ours || sb !== undefined) return;
    const phase = pod.status?.phase;
    if (phase === 'Running' || phase === 'Failed' || phase === 'Succeeded') return;
    await this.#limits.get(nodeName)!.run(() => this.#setup(pod, nodeName));
  }

  #cniEnv(sb: Sandbox, command: string): Record<string, string> {
    return {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: sb.containerId,
      CNI_NETNS: `/var/run/netns/${sb.netns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: this.#binDir,
      CNI_ARGS: `IgnoreUnknown=true;K8S_POD_NAMESPACE=${sb.namespace};K8S_POD_NAME=${sb.name};K8S_POD_INFRA_CONTAINER_ID=${sb.containerId};K8S_POD_UID=${sb.uid}`,
      NODE_NAME: sb.node,
    };
  }

  async #multus(sb: Sandbox, command: string): Promise<CNIRun> {
    const startedAt = Date.now();
    const t0 = performance.now();
    const result = await this.#agents.get(sb.node)!.call({
      cmd: join(this.#binDir, 'multus'),
      args: [],
      input: this.#conf,
      env: this.#cniEnv(sb, command),
    });
    this.log.push({
      pod: `${sb.namespace}/${sb.name}`,
      uid: sb.uid,
      node: sb.node,
      command,
      result,
      startedAt,
      ms: performance.now() - t0,
    });
    return result;
  }

  async #setup(pod: V1Pod, node: string): Promise<void> {
    const meta = pod.metadata!;
    const uid = meta.uid!;
    const sb: Sandbox = {
      uid,
      namespace: meta.namespace!,
      name: meta.name!,
      netns: `${NETNS_PREFIX}${uid.slice(0, 18)}`,
      containerId: `sim${uid.replace(/-/g, '')}`,
      node,
    };
    const add = await ip('netns', 'add', sb.netns);
    if (add.code !== 0 && !add.stderr.includes('File exists'))
      throw new Error(`ip netns add ${sb.netns}: ${add.stderr.trim()}`);
    await ip('-n', sb.netns, 'link', 'set', 'lo', 'up');
    const r = await this.#multus(sb, 'ADD');
    if (r.code !== 0) {
      // As a kubelet does: tell the pod's events, tear the half-made sandbox down; a later
      // attempt starts afresh.
      await this.#sandboxFailed(sb, r);
      await this.#multus(sb, 'DEL');
      await ip('netns', 'delete', sb.netns);
      throw new Error(`CNI ADD failed (exit ${r.code}): ${r.stdout.trim()} ${r.stderr.trim()}`);
    }
    this.#sandboxes.set(uid, sb);
    const result = JSON.parse(r.stdout) as { ips?: { address: string }[] };
    const podIPs = (result.ips ?? []).map((x) => x.address.split('/')[0]!);
    const hostIP = NIC_ADDRESS['ens192']!(this.#opts.nodes.indexOf(node)).split('/')[0]!;
    const now = new Date();
    // A merge patch of the status alone: one request, and no conflict with Multus writing
    // its network-status annotation meanwhile.
    await this.#core.patchNamespacedPodStatus(
      {
        name: sb.name,
        namespace: sb.namespace,
        body: {
          status: {
            phase: 'Running',
            hostIP,
            hostIPs: [{ ip: hostIP }],
            startTime: now,
            ...(podIPs.length > 0
              ? { podIP: podIPs[0], podIPs: podIPs.map((ip) => ({ ip })) }
              : {}),
            conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
              type,
              status: 'True',
              lastTransitionTime: now,
            })),
            containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
              name: c.name,
              image: c.image ?? '',
              imageID: '',
              ready: true,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: now } },
            })),
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.running.set(uid, Date.now());
  }

  /**
   * The kubelet's Warning event for a failed ADD, worded as containerd words it, so
   * `kubectl describe pod` shows the CNI error as on a real node. Best effort.
   */
  async #sandboxFailed(sb: Sandbox, r: CNIRun): Promise<void> {
    let msg = r.stderr.trim();
    try {
      const body = JSON.parse(r.stdout) as { msg?: unknown; details?: unknown };
      if (typeof body.msg === 'string') msg = body.msg;
    } catch {
      // not a CNI error object: the stderr stands
    }
    const now = new Date();
    await this.#core
      .createNamespacedEvent({
        namespace: sb.namespace,
        body: {
          metadata: { name: `${sb.name}.${randomUUID().slice(0, 8)}`, namespace: sb.namespace },
          involvedObject: {
            apiVersion: 'v1',
            kind: 'Pod',
            namespace: sb.namespace,
            name: sb.name,
            uid: sb.uid,
          },
          type: 'Warning',
          reason: 'FailedCreatePodSandBox',
          message:
            `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox ` +
            `"${sb.containerId}": plugin type="multus" name="multus-cni-network" failed (add): ${msg}`,
          source: { component: 'kubelet', host: sb.node },
          reportingComponent: 'kubelet',
          reportingInstance: sb.node,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch(() => undefined);
  }

  async #teardown(sb: Sandbox): Promise<void> {
    await this.#limits.get(sb.node)!.run(async () => {
      // As a kubelet does: a failed DEL (an allocator restarting, the API away) is tried
      // again, backing off, before the sandbox is let go; its pod stays Terminating meanwhile.
      for (let attempt = 1; ; attempt++) {
        const r = await this.#multus(sb, 'DEL');
        if (r.code === 0) break;
        this.#failures.set(
          `${sb.namespace}/${sb.name}`,
          `CNI DEL failed (attempt ${attempt}): ${r.stdout.trim()} ${r.stderr.trim()}`,
        );
        if (attempt === DEL_ATTEMPTS || this.#stopped) break;
        await new Promise((res) => setTimeout(res, Math.min(250 * 2 ** attempt, 4000)));
      }
      await ip('netns', 'delete', sb.netns);
      this.#sandboxes.delete(sb.uid);
      this.running.delete(sb.uid);
    });
  }

  /** Stops reconciling; tears down every sandbox it made, its nodes' netns and agents. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#watch?.stop();
    for (const r of this.#retries.values()) clearTimeout(r.timer);
    await Promise.all([...this.#work.values()].map((w) => w.done));
    await Promise.all(
      [...this.#sandboxes.values()].map((sb) => this.#teardown(sb).catch(() => undefined)),
    );
    for (const agent of this.#agents.values()) {
      await agent.stop();
      await ip('netns', 'delete', agent.netns);
    }
    await this.#apiProxy?.stop();
    if (this.#createdSocketMount) {
      try {
        rmdirSync(SOCKET_MOUNT); // only if empty; another user's files stay
      } catch {
        // in use or not empty: leave it
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
