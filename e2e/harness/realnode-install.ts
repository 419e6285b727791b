/**
 * nicpool installed on the real kubelet node (e2e/realnode) the way docs/install.md tells a
 * cluster admin to: `kubectl apply -k` of the overlay e2e/install, or `helm install` of
 * deploy/helm/nicpool; the rollouts; the uninstall and exactly what it leaves; the tutorial's
 * printed output held line by line against what real pods print; and a loop of admissions to
 * run beside a rollout. Shared by e2e/install.e2e.test.ts and e2e/helm-install.e2e.test.ts.
 *
 * Failures say what was expected and what was seen, with the nicpool pods, the namespace's
 * events and the logs of the pods involved ({@link diagnose}); nothing prints progress.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { request } from 'node:https';
import { homedir, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, TUTORIAL, versions } from '../cluster/control-plane.ts';
import type { RealNode } from '../realnode/node.ts';
import { eventually } from './helpers.ts';

export const NAMESPACE = 'nicpool-system';
/** deploy/ with only the allocator's cni-bin hostPath changed to the node's private bin dir. */
export const OVERLAY = join(REPO, 'e2e', 'install');
export const CHART = join(REPO, 'deploy', 'helm', 'nicpool');
export const RELEASE = 'nicpool';
/** The allocator's socket dir, a hostPath (DirectoryOrCreate) of its DaemonSet. */
export const SOCKET_DIR = '/var/run/spidernet';
/** What the allocator's init container installs into the node's CNI bin dir. */
export const CNI_PLUGINS = ['spiderpool', 'veth'] as const;
export const CRDS = [
  'spiderendpoints.spiderpool.spidernet.io',
  'spiderippools.spiderpool.spidernet.io',
  'spiderreservedips.spiderpool.spidernet.io',
  'spidersubnets.spiderpool.spidernet.io',
] as const;

export type Component = 'webhook' | 'controller' | 'allocator';
/** The label selector of a component's pods (deploy/ and the chart use the same). */
export const selector = (c: Component): string =>
  `app.kubernetes.io/name=nicpool,app.kubernetes.io/component=${c}`;
const WORKLOADS = [
  ['deployment', 'nicpool-webhook'],
  ['deployment', 'nicpool-controller'],
  ['daemonset', 'nicpool-allocator'],
] as const;

/**
 * docs/install.md, "Uninstall" of a kustomize install: one `kubectl delete` of every object of
 * deploy/ but the CRDs and the namespaced ones, in this order. The webhook configurations go
 * first, so that no admission waits on a webhook that is going away (failurePolicy: Fail);
 * the namespace goes last and takes the Deployments, the DaemonSet, the Services, the
 * ServiceAccounts, the Roles, and the Secret, Lease and Events nicpool made at run time.
 */
export const UNINSTALL = [
  'validatingwebhookconfiguration/nicpool-validating',
  'mutatingwebhookconfiguration/nicpool-mutating',
  'clusterrolebinding/nicpool-webhook',
  'clusterrolebinding/nicpool-controller',
  'clusterrolebinding/nicpool-allocator',
  'clusterrole/nicpool-webhook',
  'clusterrole/nicpool-controller',
  'clusterrole/nicpool-allocator',
  `namespace/${NAMESPACE}`,
] as const;

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** kubectl against the node; never rejects (the exit code, stdout and stderr). */
export function tryKubectl(node: RealNode, args: readonly string[], input?: string): Promise<Run> {
  return node.kubectl(args, input).then(
    (stdout) => ({ code: 0, stdout, stderr: '' }),
    (e: { stdout?: string; stderr?: string; message?: string }) => ({
      code: 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr || (e.message ?? 'kubectl failed without stderr'),
    }),
  );
}

const tail = (text: string, n: number): string => text.trimEnd().split('\n').slice(-n).join('\n');

interface PodJSON {
  metadata: { name: string; namespace: string; uid: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}
interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  state?: { terminated?: { exitCode: number; reason?: string } };
}

export async function podsOf(node: RealNode, namespace: string, sel: string): Promise<PodJSON[]> {
  const out = await node.kubectl(['get', 'pods', '-n', namespace, '-l', sel, '-o', 'json']);
  return (JSON.parse(out) as { items: PodJSON[] }).items;
}

const isReady = (p: PodJSON): boolean =>
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/**
 * What an admin looks at when something is stuck: the pods (of `sel`, or all) of `namespace`,
 * its last events, and the logs of every pod there that is not Ready or has restarted (with
 * the previous container's, after a restart). `alsoLogsOf` adds pods by name.
 */
export async function diagnose(
  node: RealNode,
  namespace = NAMESPACE,
  sel?: string,
  alsoLogsOf: readonly string[] = [],
): Promise<string> {
  const parts: string[] = [];
  const show = async (args: string[], lines = 40): Promise<void> => {
    const r = await tryKubectl(node, args);
    parts.push(`$ kubectl ${args.join(' ')}\n${tail(r.stdout + r.stderr, lines)}`);
  };
  const selArgs = sel === undefined ? [] : ['-l', sel];
  await show(['get', 'pods', '-n', namespace, '-o', 'wide', ...selArgs]);
  await show(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp'], 25);
  const pods = await podsOf(node, namespace, sel ?? '').catch(() => []);
  const names = new Set(alsoLogsOf);
  for (const p of pods) {
    const restarted = (p.status.containerStatuses ?? []).some((c) => c.restartCount > 0);
    if (!isReady(p) || restarted) names.add(p.metadata.name);
    if (restarted)
      await show(['logs', '-n', namespace, p.metadata.name, '--all-containers', '--previous'], 30);
  }
  for (const name of names)
    await show(['logs', '-n', namespace, name, '--all-containers', '--prefix', '--tail=30'], 30);
  return parts.join('\n\n');
}

/**
 * `seen` unchanged when it is what was expected, else with `context()` after it: a failed
 * `expect(…).toBe(expected)` then shows the state that explains it.
 */
export async function withContext(
  seen: string,
  expected: string,
  context: () => Promise<string>,
): Promise<string> {
  return seen === expected ? seen : `${seen}\n\n${await context()}`;
}

/** The allocator's logs (the pod that answers the CNI shim on the node), for pod failures. */
export async function allocatorLogs(node: RealNode): Promise<string> {
  const r = await tryKubectl(node, [
    'logs',
    '-n',
    NAMESPACE,
    '-l',
    selector('allocator'),
    '--all-containers',
    '--prefix',
    '--tail=40',
  ]);
  return `nicpool allocator logs:\n${tail(r.stdout + r.stderr, 40)}`;
}

/**
 * A workload with a broken nicpool annotation, server dry run: "denied the request" once the
 * API server reaches the webhook through its Service. Ready pods are not enough: kube-proxy
 * programs the Service's endpoints a moment later, and until then the call is refused
 * (`connect: connection refused`), which with failurePolicy Fail refuses the object.
 */
const PROBE = JSON.stringify({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'nicpool-webhook-probe', namespace: 'default' },
  spec: {
    selector: { matchLabels: { app: 'probe' } },
    template: {
      metadata: {
        labels: { app: 'probe' },
        annotations: { 'ipam.spidernet.io/ippools': '[{"interface":"eth0","ipv4s":["x"]}]' },
      },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    },
  },
});

/** Until the API server's calls reach the webhook through its Service (see PROBE). */
export async function waitForWebhookService(node: RealNode, timeoutMs = 60_000): Promise<void> {
  let last = '';
  try {
    await eventually(
      'the API server to reach the webhook through its Service',
      async () => {
        const r = await tryKubectl(node, ['create', '--dry-run=server', '-f', '-'], PROBE);
        last = r.stderr.trim();
        return r.code !== 0 && last.includes('denied the request') ? true : undefined;
      },
      timeoutMs,
    );
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}; its last answer: ${last}`);
  }
}

/** `kubectl rollout status` of the webhook, the controller and the allocator DaemonSet. */
export async function waitForRollouts(node: RealNode, timeout = '150s'): Promise<void> {
  for (const [kind, name] of WORKLOADS) {
    const r = await tryKubectl(node, [
      'rollout',
      'status',
      '-n',
      NAMESPACE,
      `${kind}/${name}`,
      `--timeout=${timeout}`,
    ]);
    if (r.code !== 0)
      throw new Error(
        `${kind}/${name} did not finish rolling out within ${timeout}: ${r.stderr.trim()}\nlast status: ${tail(r.stdout, 3)}\n\n${await diagnose(node)}`,
      );
  }
  await waitForWebhookService(node);
}

/**
 * A Deployment's rollout in another namespace (the tutorial's); a failure names its pods, the
 * events and the allocator's logs (a pod without addresses is stuck in its sandbox).
 */
export async function waitForDeployment(
  node: RealNode,
  namespace: string,
  name: string,
  app: string,
  timeout = '120s',
): Promise<void> {
  const r = await tryKubectl(node, [
    'rollout',
    'status',
    '-n',
    namespace,
    `deployment/${name}`,
    `--timeout=${timeout}`,
  ]);
  if (r.code !== 0)
    throw new Error(
      `deployment ${namespace}/${name} not rolled out within ${timeout}: ${r.stderr.trim()}\n\n${await diagnose(node, namespace, `app=${app}`)}\n\n${await allocatorLogs(node)}`,
    );
}

/** The Pods of `app` once exactly `n` exist and all are Running and Ready. */
export async function runningPods(
  node: RealNode,
  namespace: string,
  app: string,
  n: number,
  timeoutMs = 120_000,
): Promise<PodJSON[]> {
  let seen: PodJSON[] = [];
  try {
    return await eventually(
      `${n} ${app} pods Running and Ready`,
      async () => {
        seen = await podsOf(node, namespace, `app=${app}`);
        const live = seen.filter((p) => p.status.phase !== 'Succeeded');
        return live.length === n && live.every((p) => p.status.phase === 'Running' && isReady(p))
          ? live.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
          : undefined;
      },
      timeoutMs,
    );
  } catch (e) {
    const phases = seen.map((p) => `${p.metadata.name} ${p.status.phase ?? '?'}`).join(', ');
    throw new Error(
      `${e instanceof Error ? e.message : String(e)}; seen: ${phases || 'no pods'}\n\n${await diagnose(node, namespace, `app=${app}`)}\n\n${await allocatorLogs(node)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Install with kustomize or Helm

/** `kubectl apply -k e2e/install`, then every rollout done. Returns kubectl's output. */
export async function kustomizeInstall(node: RealNode): Promise<string> {
  const out = await node.kubectl(['apply', '-k', OVERLAY]);
  await waitForRollouts(node);
  return out;
}

/** `kubectl delete` of {@link UNINSTALL} (docs/install.md), waiting for the namespace to go. */
export async function kustomizeUninstall(node: RealNode): Promise<string> {
  return node.kubectl(['delete', '--ignore-not-found', '--timeout=120s', ...UNINSTALL]);
}

/** The helm binary `make components` builds (e2e/cluster/build-components.sh). */
export const HELM = join(
  process.env['NICPOOL_CACHE'] ?? join(homedir(), '.cache', 'nicpool'),
  `helm-${versions()['HELM_VERSION']}`,
  'bin',
  'helm',
);

let helmHome: string | undefined;

/**
 * helm against the node (KUBECONFIG of the node), with its cache, config and data dirs in a
 * scratch dir of this process ({@link removeHelmHome}) rather than the user's home.
 */
export function helm(node: RealNode, args: readonly string[]): Promise<Run> {
  helmHome ??= mkdtempSync(join(tmpdir(), 'nicpool-helm-'));
  const env = {
    ...process.env,
    KUBECONFIG: node.kubeconfig,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return new Promise((resolve) => {
    execFile(HELM, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
    });
  });
}

/** helm that must succeed; a failure carries helm's stderr and the nicpool pods' state. */
export async function helmOk(node: RealNode, args: readonly string[]): Promise<string> {
  const r = await helm(node, args);
  if (r.code !== 0)
    throw new Error(
      `helm ${args.join(' ')} exited ${r.code}:\n${r.stderr.trim()}\n\n${await diagnose(node)}`,
    );
  return r.stdout;
}

export function removeHelmHome(): void {
  if (helmHome !== undefined) rmSync(helmHome, { recursive: true, force: true });
  helmHome = undefined;
}

// ---------------------------------------------------------------------------------------------
// What is there before, what an uninstall leaves, and removing all of it

/** What existed before a suite of the things an uninstall keeps (so cleanup removes only its own). */
export interface Kept {
  readonly crds: readonly string[];
  readonly cniPlugins: readonly string[];
  /** Entries of the socket dir; undefined when it did not exist. */
  readonly socketDir: readonly string[] | undefined;
}

const dirEntries = (dir: string): string[] | undefined =>
  existsSync(dir) ? readdirSync(dir).sort() : undefined;

export async function keptBefore(node: RealNode): Promise<Kept> {
  return {
    crds: await presentCRDs(node),
    cniPlugins: CNI_PLUGINS.filter((p) => existsSync(join(node.cniBinDir, p))),
    socketDir: dirEntries(SOCKET_DIR),
  };
}

async function presentCRDs(node: RealNode): Promise<string[]> {
  const out = await node.kubectl(['get', 'crd', '-o', 'jsonpath={.items[*].metadata.name}']);
  return CRDS.filter((c) => out.split(' ').includes(c));
}

/** Fails, saying what is there, when nicpool is already installed on the node. */
export async function expectNotInstalled(node: RealNode): Promise<void> {
  const found = [
    ...(await namesOf(node, ['namespace', NAMESPACE])),
    ...(await clusterScopedOfNicpool(node)),
  ];
  if (found.length > 0)
    throw new Error(
      `nicpool is already installed on the real node (${found.join(', ')}): a run that did not clean up left it. Uninstall it as docs/install.md says, or \`make node-down\``,
    );
}

async function namesOf(node: RealNode, args: readonly string[]): Promise<string[]> {
  const r = await tryKubectl(node, ['get', ...args, '-o', 'name', '--ignore-not-found']);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** Webhook configurations, ClusterRoles and ClusterRoleBindings named nicpool-*. */
async function clusterScopedOfNicpool(node: RealNode): Promise<string[]> {
  return (
    await namesOf(node, [
      'validatingwebhookconfiguration,mutatingwebhookconfiguration,clusterrole,clusterrolebinding',
    ])
  ).filter((n) => n.split('/')[1]?.startsWith('nicpool-'));
}

/** Everything of nicpool on the node after an uninstall, to compare with what the docs list. */
export interface Leftovers {
  /** Objects of any listable kind labelled app.kubernetes.io/name=nicpool (`kind/ns/name`). */
  readonly labelled: readonly string[];
  /** Webhook configurations, ClusterRoles and ClusterRoleBindings named nicpool-*. */
  readonly clusterScoped: readonly string[];
  /** The namespace's objects (Events aside) as `kind/name`, or undefined when it is gone. */
  readonly namespace: readonly string[] | undefined;
  readonly crds: readonly string[];
  /** Helm releases in the namespace. */
  readonly helmReleases: readonly string[];
  /** nicpool's CNI plugins in the node's bin dir. */
  readonly cniPlugins: readonly string[];
  /** Entries of /var/run/spidernet, undefined when there is no such dir. */
  readonly socketDir: readonly string[] | undefined;
}

async function listableKinds(node: RealNode, namespaced: boolean): Promise<string> {
  const out = await node.kubectl([
    'api-resources',
    '--verbs=list',
    `--namespaced=${namespaced}`,
    '-o',
    'name',
  ]);
  return out
    .split('\n')
    .filter((k) => k !== '' && k !== 'events' && k !== 'events.events.k8s.io')
    .join(',');
}

type Meta = { kind: string; metadata: { name: string; namespace?: string } };
const ref = (o: Meta): string =>
  [o.kind, o.metadata.namespace, o.metadata.name].filter((x) => x !== undefined).join('/');

export async function leftovers(node: RealNode): Promise<Leftovers> {
  const all = `${await listableKinds(node, true)},${await listableKinds(node, false)}`;
  const labelled = (
    JSON.parse(
      await node.kubectl(['get', all, '-A', '-l', 'app.kubernetes.io/name=nicpool', '-o', 'json']),
    ) as { items: Meta[] }
  ).items.map(ref);
  const nsExists = (await namesOf(node, ['namespace', NAMESPACE])).length > 0;
  const namespace = nsExists
    ? (
        JSON.parse(
          await node.kubectl([
            'get',
            await listableKinds(node, true),
            '-n',
            NAMESPACE,
            '-o',
            'json',
          ]),
        ) as { items: Meta[] }
      ).items
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .sort()
    : undefined;
  const releases = nsExists
    ? (await helm(node, ['list', '-n', NAMESPACE, '-a', '-q'])).stdout
        .split('\n')
        .filter((l) => l !== '')
    : [];
  return {
    labelled: labelled.sort(),
    clusterScoped: (await clusterScopedOfNicpool(node)).sort(),
    namespace,
    crds: await presentCRDs(node),
    helmReleases: releases,
    cniPlugins: CNI_PLUGINS.filter((p) => existsSync(join(node.cniBinDir, p))),
    socketDir: dirEntries(SOCKET_DIR),
  };
}

/** The tutorial's files, in the order its text applies them. */
export const TUTORIAL_FILES = {
  nads: join(TUTORIAL, 'multus-conf.yaml'),
  subnets: join(TUTORIAL, 'different-segment-ipv4-subnets.yaml'),
  subnetDeploy: join(TUTORIAL, 'subnet-test-deploy.yaml'),
  ippools: join(TUTORIAL, 'different-segment-ipv4-ippools.yaml'),
  ippoolDeploy: join(TUTORIAL, 'ippool-test-deploy.yaml'),
  customDual: join(TUTORIAL, 'custom-dual-ippool-deploy.yaml'),
} as const;

/**
 * The tutorial's "Clean up", its files in its order (`kubectl delete -f … --ignore-not-found=true`),
 * with the pods' end awaited: their CNI DEL needs nicpool's allocator, so this runs before an
 * uninstall. Returns the pods still there after `timeoutMs` (none when all went).
 */
export async function tutorialCleanup(node: RealNode, timeoutMs = 90_000): Promise<string[]> {
  const f = TUTORIAL_FILES;
  const files = [f.nads, f.subnets, f.subnetDeploy, f.ippools, f.customDual, f.ippoolDeploy];
  await node.kubectl([
    'delete',
    '--wait=false',
    ...files.flatMap((x) => ['-f', x]),
    '--ignore-not-found=true',
  ]);
  return podsGone(
    node,
    'default',
    'app in (test-app,ippool-test-app,custom-dual-ippool-deploy)',
    timeoutMs,
  );
}

async function podsGone(
  node: RealNode,
  namespace: string,
  sel: string,
  timeoutMs: number,
): Promise<string[]> {
  const left = async (): Promise<string[]> =>
    namesOf(node, ['pods', '-n', namespace, '-l', sel]).catch(() => ['(unknown)']);
  await eventually(
    `pods ${sel} gone`,
    async () => ((await left()).length === 0 ? true : undefined),
    timeoutMs,
  ).catch(() => undefined);
  return left();
}

/**
 * A suite's afterAll, also after a failure: the suite's namespaces and the tutorial's objects
 * (while nicpool still runs, so the pods' CNI DEL releases their addresses), then nicpool
 * (the Helm release if there is one, and the objects of {@link UNINSTALL}), then what an
 * uninstall keeps but the suite added: the CRDs (with any object whose finalizer no controller
 * will remove any more), the CNI plugins in the node's bin dir, the socket dir's new entries.
 * Returns what it could not remove, '' when nothing.
 */
export async function removeEverything(
  node: RealNode,
  before: Kept,
  namespaces: readonly string[],
): Promise<string> {
  const problems: string[] = [];
  const attempt = async (what: string, f: () => Promise<unknown>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  for (const ns of namespaces)
    await attempt(`namespace ${ns}`, () =>
      node.kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']),
    );
  await attempt('the tutorial', async () => {
    const stuck = await tutorialCleanup(node);
    if (stuck.length > 0) {
      // No allocator to answer their DEL: their records go with the CRDs below.
      await node.kubectl(['delete', '-n', 'default', '--force', '--grace-period=0', ...stuck]);
      problems.push(`pods force-deleted after 90 s: ${stuck.join(', ')}`);
    }
  });
  for (const ns of namespaces)
    await attempt(`namespace ${ns}`, () =>
      node.kubectl(['wait', '--for=delete', `namespace/${ns}`, '--timeout=90s']).catch(() => ''),
    );
  if ((await helm(node, ['status', RELEASE, '-n', NAMESPACE])).code === 0)
    await attempt('helm uninstall', () =>
      helmOk(node, ['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout', '120s']),
    );
  await attempt('uninstall', () => kustomizeUninstall(node));
  // Only the CRDs the suite added go, and with them their objects: a pool's or an endpoint's
  // finalizer would hold the CRD's deletion now that no nicpool controller removes it.
  const added = CRDS.filter((c) => !before.crds.includes(c));
  const present = await presentCRDs(node).catch(() => [...CRDS]);
  for (const crd of added.filter((c) => present.includes(c))) {
    const plural = crd.split('.')[0]!;
    const out = await node
      .kubectl([
        'get',
        plural,
        '-A',
        '-o',
        'jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\\n"}{end}',
      ])
      .catch(() => '');
    for (const line of out.split('\n').filter((l) => l.trim() !== '')) {
      const [ns, name] = line.startsWith(' ') ? ['', line.trim()] : line.split(' ');
      await attempt(`finalizers of ${plural}/${name}`, () =>
        node.kubectl([
          'patch',
          plural,
          name!,
          ...(ns === '' ? [] : ['-n', ns!]),
          '--type=merge',
          '-p',
          '{"metadata":{"finalizers":null}}',
        ]),
      );
    }
  }
  if (added.length > 0)
    await attempt('CRDs', () =>
      node.kubectl(['delete', 'crd', '--ignore-not-found', '--timeout=60s', ...added]),
    );
  for (const p of CNI_PLUGINS)
    if (!before.cniPlugins.includes(p)) rmSync(join(node.cniBinDir, p), { force: true });
  for (const e of dirEntries(SOCKET_DIR) ?? [])
    if (before.socketDir?.includes(e) !== true)
      rmSync(join(SOCKET_DIR, e), { force: true, recursive: true });
  if (before.socketDir === undefined && existsSync(SOCKET_DIR)) {
    try {
      rmdirSync(SOCKET_DIR);
    } catch {
      // not empty: something else put a file there since
    }
  }
  removeHelmHome();
  return problems.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The tutorial's printed output

/** One `~# command` of the tutorial and the lines it prints after it. */
export interface TutorialStep {
  readonly command: string;
  readonly output: readonly string[];
}

/** Whitespace-normalised, as the tutorial's output is compared (veth.md T*). */
export const norm = (line: string): string => line.trim().replace(/\s+/g, ' ');

/** Every `~# …` command in the tutorial's code blocks, with its output up to a blank line. */
export function tutorialSteps(): TutorialStep[] {
  const md = readFileSync(join(TUTORIAL, 'multi-interfaces-annotation.md'), 'utf8').split('\n');
  const steps: { command: string; output: string[] }[] = [];
  let inBlock = false;
  let cur: { command: string; output: string[] } | undefined;
  for (const line of md) {
    if (line.startsWith('```')) {
      inBlock = !inBlock;
      cur = undefined;
    } else if (!inBlock) continue;
    else if (line.startsWith('~#')) {
      cur = { command: norm(line.slice(2)), output: [] };
      steps.push(cur);
    } else if (line.trim() === '') cur = undefined;
    else cur?.output.push(line);
  }
  return steps;
}

/** The output of the `nth` (0-based) step whose command is `command`. */
export function tutorialPrints(command: string, nth = 0): string[] {
  const found = tutorialSteps().filter((s) => s.command === command);
  const s = found[nth];
  if (s === undefined)
    throw new Error(`the tutorial prints no "${command}" (#${nth + 1}; found ${found.length})`);
  return [...s.output];
}

/**
 * What the tutorial prints for `kubectl exec -ti <a pod of app> -- <command>`, and that pod's
 * name (the tutorial's pods are `<app>-<hash>-<suffix>`).
 */
export function tutorialExec(app: string, command: string): { pod: string; lines: string[] } {
  const re = new RegExp(`^kubectl exec -ti (${app}-[a-z0-9]+-[a-z0-9]+) -- (.+)$`);
  for (const s of tutorialSteps()) {
    const m = re.exec(s.command);
    if (m !== null && m[2] === command) return { pod: m[1]!, lines: [...s.output] };
  }
  throw new Error(`the tutorial runs no "${command}" in a ${app} pod`);
}

/** Columns of a `kubectl get` table (header included), whitespace-separated. */
export const columns = (lines: readonly string[]): string[][] =>
  lines
    .map(norm)
    .filter((l) => l !== '')
    .map((l) => l.split(' '));

/** Replaces whole addresses (`from` → `to`) in a line. */
export function substitute(line: string, map: ReadonlyMap<string, string>): string {
  let out = line;
  for (const [from, to] of map)
    out = out.replace(new RegExp(`(?<![\\d.])${from.replaceAll('.', '\\.')}(?![\\d])`, 'g'), to);
  return out;
}

/**
 * A line the real node prints that the tutorial does not, and why it is allowed. Each rule
 * matches whole lines (or one exact suffix), never a substring anywhere.
 */
export interface Allowed {
  readonly rule: string;
  readonly line: string;
}

/** The pod's output with the allowed lines taken out, beside the tutorial's lines. */
export interface Comparison {
  /** The tutorial's lines, normalised, with the tutorial pod's addresses replaced by this pod's. */
  readonly expected: readonly string[];
  /** The pod's lines, normalised, minus what a rule allows. */
  readonly actual: readonly string[];
  /** What the rules took out. */
  readonly allowed: readonly Allowed[];
}

const HEADER = /^(\d+): ([^@:\s]+)(@[^:\s]+)?: (.*)$/;
/**
 * `ip a` lines in a form that holds on any node: a link's index and its peer (`@if13`, or
 * BusyBox's `@tunl0` when the peer's host index happens to be a link in the pod) depend on the
 * host; so does BusyBox's `M-DOWN` flag, which says that the link the peer's index names *in
 * the pod* is down or missing (the tutorial's `net1@eth0` lacks it because its master's host
 * index was the pod's eth0). A MAC is random per pod.
 */
function ipAddrCanon(line: string): string {
  const l = norm(line).replace(/link\/ether [0-9a-f:]{17}/, 'link/ether <mac>');
  const h = HEADER.exec(l);
  if (h === null) return l;
  if (h[3] === undefined) return `<n>: ${h[2]}: ${h[4]}`;
  return `<n>: ${h[2]}@<peer>: ${h[4]!.replace(/^<([^>]*),M-DOWN>/, '<$1>')}`;
}

/**
 * `ip a` of a pod against the tutorial's listing. Rules for what the real node adds:
 * - `lo`: the tutorial lists the pod's NICs only (its second listing marks the cut with `...`);
 * - IPv6 link-local addresses (`inet6 fe80::…/64 scope link`, with or without `tentative`, and
 *   the `valid_lft` line under each): the node's kernel gives every link one; the tutorial's
 *   cluster ran with IPv6 off in pods.
 * veth0's line has no ` qlen`: nicpool's veth creates the pair with `txqueuelen 0`, as
 * Spiderpool's plugin does, so it matches the tutorial's as it is.
 */
export function compareIpAddr(
  tutorial: readonly string[],
  actual: string,
  addresses: ReadonlyMap<string, string>,
): Comparison {
  const expected = tutorial
    .filter((l) => norm(l) !== '...') // the tutorial's own mark of links it leaves out
    .map((l) => ipAddrCanon(substitute(l, addresses)));
  const allowed: Allowed[] = [];
  const kept: string[] = [];
  let link = '';
  let skipValid = false;
  for (const raw of actual.split('\n')) {
    const l = norm(raw);
    if (l === '') continue;
    const h = HEADER.exec(l);
    if (h !== null) link = h[2]!;
    if (link === 'lo') {
      allowed.push({ rule: 'lo', line: l });
      continue;
    }
    if (skipValid && l === 'valid_lft forever preferred_lft forever') {
      allowed.push({ rule: 'IPv6 link-local', line: l });
      skipValid = false;
      continue;
    }
    skipValid = false;
    if (/^inet6 fe80::[0-9a-f:]+\/64 scope link( tentative)?$/.test(l)) {
      allowed.push({ rule: 'IPv6 link-local', line: l });
      skipValid = true;
      continue;
    }
    kept.push(ipAddrCanon(l));
  }
  return { expected, actual: kept, allowed };
}

/**
 * The node's IPv4 addresses (this process runs on the node's host). The `veth` plugin routes
 * every one of them through veth0 (veth.md A3), where the tutorial's node had only ens192's.
 */
export function hostIPv4(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

/**
 * Routes or rules of a pod against the tutorial's lines. One rule for what the real node adds:
 * `<address> dev veth0 scope link` for an address the host holds other than `tutorialNodeIP`
 * (the tutorial's node had one address, 10.6.168.123; this host also has rn-br0's 10.251.0.1
 * and its own uplink's, and the plugin routes each: docs/realnode.md, "Obstacles"), each at
 * most once.
 */
export function compareRoutes(
  tutorial: readonly string[],
  actual: string,
  addresses: ReadonlyMap<string, string>,
  hostAddresses: readonly string[] = [],
  tutorialNodeIP = '10.6.168.123',
): Comparison {
  const expected = tutorial.map((l) => norm(substitute(l, addresses)));
  const extra = new Set(hostAddresses.filter((a) => a !== tutorialNodeIP));
  const allowed: Allowed[] = [];
  const kept: string[] = [];
  for (const raw of actual.split('\n')) {
    const l = norm(raw);
    if (l === '') continue;
    const m = /^(\d+\.\d+\.\d+\.\d+) dev veth0 scope link$/.exec(l);
    if (m !== null && extra.delete(m[1]!)) {
      allowed.push({ rule: "a /32 to another of the host's addresses", line: l });
      continue;
    }
    kept.push(l);
  }
  return { expected, actual: kept, allowed };
}

/** A pod's IPv4 address per interface, from the kernel (`ip -4 -o addr` in the pod). */
export async function podAddresses(
  node: RealNode,
  namespace: string,
  pod: string,
): Promise<Map<string, string>> {
  const out = await node.kubectl(['exec', '-n', namespace, pod, '--', 'ip', '-4', '-o', 'addr']);
  const m = new Map<string, string>();
  for (const l of out.split('\n')) {
    const x = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(l);
    if (x !== null && x[1] !== 'lo') m.set(x[1]!, x[2]!);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Admissions during a rollout

export interface AdmissionFailure {
  readonly at: string;
  readonly status: number;
  readonly message: string;
}

export interface AdmissionResult {
  readonly sent: number;
  readonly failures: readonly AdmissionFailure[];
  /** Ticks skipped because too many requests of this kind were still in flight. */
  readonly skipped: number;
}

/**
 * Creates one Pod per kind every `intervalMs` as a server dry run (admission runs in full,
 * webhooks included; nothing is stored), without waiting for the previous answer, until
 * stopped. `kinds` maps a name to the pod's annotations (`{}`: an unannotated pod).
 */
export function admissionLoop(
  node: RealNode,
  namespace: string,
  kinds: Readonly<Record<string, Readonly<Record<string, string>>>>,
  intervalMs = 200,
): { stop(): Promise<Record<string, AdmissionResult>> } {
  const s = node.state;
  const ca = readFileSync(s.caFile);
  const results: Record<string, { sent: number; failures: AdmissionFailure[]; skipped: number }> =
    {};
  const inflight: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  let i = 0;
  const post = (kind: string, body: string): Promise<void> =>
    new Promise((resolve) => {
      const r = results[kind]!;
      const at = new Date().toISOString().slice(11, 23);
      const fail = (status: number, message: string): void => {
        r.failures.push({ at, status, message });
      };
      const req = request(
        `${s.server}/api/v1/namespaces/${namespace}/pods?dryRun=All`,
        {
          method: 'POST',
          ca,
          headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' },
          timeout: 20_000,
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            if (res.statusCode !== 201) {
              let message = text;
              try {
                message = (JSON.parse(text) as { message?: string }).message ?? text;
              } catch {
                // not a Status: keep the body
              }
              fail(res.statusCode ?? 0, message);
            }
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
      req.on('error', (e) => {
        fail(0, e.message);
        resolve();
      });
      r.sent++;
      req.end(body);
    });
  const tick = (): void => {
    i++;
    for (const [kind, annotations] of Object.entries(kinds)) {
      results[kind] ??= { sent: 0, failures: [], skipped: 0 };
      if ((inflight[kind] ?? 0) >= 16) {
        results[kind].skipped++;
        continue;
      }
      inflight[kind] = (inflight[kind] ?? 0) + 1;
      const body = JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${kind}-${i}`, annotations },
        spec: { containers: [{ name: 'c', image: 'busybox', imagePullPolicy: 'IfNotPresent' }] },
      });
      const p = post(kind, body).finally(() => {
        inflight[kind]!--;
        pending.delete(p);
      });
      pending.add(p);
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
      return results;
    },
  };
}

/** Failures one per line, for a test's message. */
export const failuresText = (r: AdmissionResult): string =>
  r.failures.map((f) => `${f.at} HTTP ${f.status}: ${f.message}`).join('\n');
