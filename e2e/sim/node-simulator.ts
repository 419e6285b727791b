/**
 * Plays scheduler and kubelet for the e2e tests (test infrastructure, not product).
 *
 * - registers Node objects and marks them Ready;
 * - binds pending pods to them (pods/binding), round robin;
 * - for each bound pod: creates a network namespace and runs the real CNI chain, the
 *   Multus thin plugin with a kubeconfig, delegating to the real plugins; then writes the
 *   pod status (Running, Ready, IPs);
 * - for each deleted pod: runs CNI DEL, removes the netns, completes the deletion.
 *
 * Host NICs for macvlan are veth ends named like the tutorial's (`ens192`, `ens224`);
 * `dummy` links do not work on these machines. Every netns is named `nicpool-…` and every
 * link it creates is recorded in `.nicpool/sim-links`, so a crashed run is cleaned up by the
 * next `cluster-up` / `cluster-down` (see cleanupSimLeftovers).
 */
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { retryOnConflict } from '@nicpool/kube';
import {
  LINKS_FILE,
  NETNS_PREFIX,
  STATE_DIR,
  type ClusterState,
} from '../cluster/control-plane.ts';

export interface SimulatorOptions {
  readonly cluster: ClusterState;
  readonly nodes: readonly string[];
  /** Host NICs to create as veth pairs (macvlan parents). */
  readonly hostNics?: readonly string[];
  /** Multus `clusterNetwork`: a NAD name in `multusNamespace`, used when a pod has no default-network annotation. */
  readonly clusterNetwork: string;
  readonly multusNamespace?: string;
  /** Extra executables to put next to the plugins in the CNI bin dir (name → path), e.g. the nicpool shim. */
  readonly extraPlugins?: Readonly<Record<string, string>>;
  /** Run CNI DEL when a pod disappears without a graceful deletion (as a kubelet would). Default true. */
  readonly delOnVanish?: boolean;
  readonly pollMs?: number;
}

interface Sandbox {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
  readonly node: string;
}

export interface CNIRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function sh(
  cmd: string,
  args: readonly string[],
  input?: string,
  env?: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<CNIRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // A program that exits without reading stdin (ip) makes the write fail with EPIPE;
    // its exit code and output are what count.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

async function ip(...args: string[]): Promise<CNIRun> {
  return sh('ip', args);
}

export class NodeSimulator {
  readonly #opts: SimulatorOptions;
  readonly #core: CoreV1Api;
  readonly #dir: string;
  readonly #binDir: string;
  readonly #confFile: string;
  readonly #sandboxes = new Map<string, Sandbox>();
  readonly #failures = new Map<string, string>();
  readonly #links: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #stopped = false;
  #next = 0;
  /** Every CNI invocation, for assertions and for debugging a failed test. */
  readonly log: { pod: string; command: string; result: CNIRun }[] = [];

  constructor(opts: SimulatorOptions) {
    this.#opts = opts;
    const kc = new KubeConfig();
    kc.loadFromFile(opts.cluster.kubeconfig);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#dir = mkdtempSync(join(tmpdir(), 'nicpool-sim-'));
    this.#binDir = join(this.#dir, 'bin');
    this.#confFile = join(this.#dir, '00-multus.conf');
  }

  get dir(): string {
    return this.#dir;
  }

  /** Host links this simulator created (and removes on stop). */
  get createdLinks(): readonly string[] {
    return this.#links;
  }

  /** The netns path of a running pod, by UID. */
  netnsOf(uid: string): string | undefined {
    const s = this.#sandboxes.get(uid);
    return s === undefined ? undefined : `/var/run/netns/${s.netns}`;
  }

  /** Last CNI failure per pod (namespace/name), so a stuck test can say why. */
  get failures(): ReadonlyMap<string, string> {
    return this.#failures;
  }

  async start(): Promise<void> {
    mkdirSync(this.#binDir, { recursive: true });
    mkdirSync(join(this.#dir, 'net.d'), { recursive: true });
    const { cniPluginDir, multus } = this.#opts.cluster.bin;
    for (const f of readdirSync(cniPluginDir))
      symlinkSync(join(cniPluginDir, f), join(this.#binDir, f));
    symlinkSync(multus, join(this.#binDir, 'multus'));
    for (const [name, path] of Object.entries(this.#opts.extraPlugins ?? {}))
      symlinkSync(path, join(this.#binDir, name));
    writeFileSync(
      this.#confFile,
      JSON.stringify({
        cniVersion: '0.3.1',
        name: 'multus-cni-network',
        type: 'multus',
        confDir: join(this.#dir, 'net.d'),
        cniDir: join(this.#dir, 'multus-cache'),
        binDir: this.#binDir,
        kubeconfig: this.#opts.cluster.kubeconfig,
        clusterNetwork: this.#opts.clusterNetwork,
        multusNamespace: this.#opts.multusNamespace ?? 'kube-system',
        logFile: join(this.#dir, 'multus.log'),
        logLevel: 'verbose',
      }),
    );
    mkdirSync(STATE_DIR, { recursive: true });
    for (const nic of this.#opts.hostNics ?? []) await this.#addHostNic(nic);
    for (const node of this.#opts.nodes) await this.#registerNode(node);
    this.#timer = setInterval(() => void this.#tick(), this.#opts.pollMs ?? 300);
  }

  async #addHostNic(name: string): Promise<void> {
    const exists = await ip('link', 'show', name);
    if (exists.code === 0) return; // left by a run that did not clean up, or real: leave it be
    const peer = `${name}p`.slice(0, 15);
    const r = await ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
    if (r.code !== 0) throw new Error(`ip link add ${name}: ${r.stderr.trim()}`);
    this.#links.push(name);
    appendFileSync(LINKS_FILE, `${name}\n`);
    await ip('link', 'set', name, 'up');
    await ip('link', 'set', peer, 'up');
  }

  async #registerNode(name: string): Promise<void> {
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
      if ((e as { code?: number }).code !== 409) throw e;
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
                message: 'simulated by the nicpool e2e node simulator',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
            addresses: [{ type: 'Hostname', address: name }],
          },
        },
        result: undefined,
      }),
      (body) => this.#core.replaceNodeStatus({ name, body }),
    );
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#stopped) return;
    this.#busy = true;
    try {
      const pods = (await this.#core.listPodForAllNamespaces()).items;
      const seen = new Set<string>();
      for (const pod of pods) {
        const uid = pod.metadata?.uid ?? '';
        seen.add(uid);
        await this.#reconcile(pod).catch((e: unknown) => {
          this.#failures.set(
            `${pod.metadata?.namespace}/${pod.metadata?.name}`,
            e instanceof Error ? e.message : String(e),
          );
        });
      }
      for (const [uid, sb] of this.#sandboxes) {
        if (seen.has(uid)) continue;
        // Force-deleted: a kubelet would still tear down the sandbox.
        if (this.#opts.delOnVanish ?? true) await this.#teardown(sb);
        else {
          await ip('netns', 'delete', sb.netns);
          this.#sandboxes.delete(uid);
        }
      }
    } catch {
      // The API server may be briefly unavailable; the next tick retries.
    } finally {
      this.#busy = false;
    }
  }

  async #reconcile(pod: V1Pod): Promise<void> {
    const meta = pod.metadata!;
    const uid = meta.uid!;
    const nodeName = pod.spec?.nodeName;
    if (meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null) {
      if (nodeName === undefined || !this.#opts.nodes.includes(nodeName)) return;
      const sb = this.#sandboxes.get(uid);
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
          const code = (e as { code?: number }).code;
          if (code !== 404 && code !== 409) throw e;
        });
      return;
    }
    if (nodeName === undefined || nodeName === '') {
      if (pod.spec?.schedulerName !== undefined && pod.spec.schedulerName !== 'default-scheduler')
        return;
      const node = this.#opts.nodes[this.#next++ % this.#opts.nodes.length]!;
      await this.#core.createNamespacedPodBinding({
        name: meta.name!,
        namespace: meta.namespace!,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name: meta.name!, namespace: meta.namespace! },
          target: { apiVersion: 'v1', kind: 'Node', name: node },
        },
      });
      return;
    }
    if (!this.#opts.nodes.includes(nodeName) || this.#sandboxes.has(uid)) return;
    if (pod.status?.phase === 'Running' || pod.status?.phase === 'Failed') return;
    await this.#setup(pod, nodeName);
  }

  #cniEnv(sb: Sandbox, command: string): NodeJS.ProcessEnv {
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
    const result = await sh(
      join(this.#binDir, 'multus'),
      [],
      readFileSync(this.#confFile, 'utf8'),
      this.#cniEnv(sb, command),
    );
    this.log.push({ pod: `${sb.namespace}/${sb.name}`, command, result });
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
      // As a kubelet does: tear the half-made sandbox down and retry on a later tick.
      await this.#multus(sb, 'DEL');
      await ip('netns', 'delete', sb.netns);
      throw new Error(`CNI ADD failed (exit ${r.code}): ${r.stdout.trim()} ${r.stderr.trim()}`);
    }
    this.#sandboxes.set(uid, sb);
    this.#failures.delete(`${sb.namespace}/${sb.name}`);
    const result = JSON.parse(r.stdout) as { ips?: { address: string }[] };
    const podIPs = (result.ips ?? []).map((x) => x.address.split('/')[0]!);
    const now = new Date();
    const running = (p: V1Pod): V1Pod => ({
      ...p,
      status: {
        ...p.status,
        phase: 'Running',
        hostIP: '127.0.0.1',
        hostIPs: [{ ip: '127.0.0.1' }],
        startTime: now,
        ...(podIPs.length > 0 ? { podIP: podIPs[0], podIPs: podIPs.map((ip) => ({ ip })) } : {}),
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
          type,
          status: 'True',
          lastTransitionTime: now,
        })),
        containerStatuses: (p.spec?.containers ?? []).map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
        })),
      },
    });
    // Multus writes the network-status annotation concurrently: status writes can conflict.
    await retryOnConflict(
      `pod ${sb.namespace}/${sb.name} status`,
      () => this.#core.readNamespacedPod({ name: sb.name, namespace: sb.namespace }),
      (p) => ({ write: running(p), result: undefined }),
      (body) =>
        this.#core.replaceNamespacedPodStatus({ name: sb.name, namespace: sb.namespace, body }),
    );
  }

  async #teardown(sb: Sandbox): Promise<void> {
    const r = await this.#multus(sb, 'DEL');
    if (r.code !== 0)
      this.#failures.set(
        `${sb.namespace}/${sb.name}`,
        `CNI DEL failed: ${r.stdout.trim()} ${r.stderr.trim()}`,
      );
    await ip('netns', 'delete', sb.netns);
    this.#sandboxes.delete(sb.uid);
  }

  /** Stops reconciling; tears down every sandbox it made and the host NICs it created. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 50));
    for (const sb of [...this.#sandboxes.values()]) await this.#teardown(sb).catch(() => undefined);
    for (const link of this.#links) await ip('link', 'delete', link);
    if (existsSync(LINKS_FILE)) {
      const rest = readFileSync(LINKS_FILE, 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !this.#links.includes(l));
      if (rest.length === 0) rmSync(LINKS_FILE, { force: true });
      else writeFileSync(LINKS_FILE, `${rest.join('\n')}\n`);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
