// `make demo NODE=real`: replays the tutorial (e2e/fixtures/tutorial/multi-interfaces-annotation.md)
// on the real kubelet node (e2e/realnode, docs/realnode.md): nicpool installed from its image with
// `kubectl apply -k e2e/install` (deploy/ with only the CNI bin dir changed), the tutorial's
// manifests applied unchanged, its output printed from real pods. Then uninstalls nicpool and
// cleans up, also after a failure or Ctrl-C, and stops the node if it started it.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../e2e/cluster/control-plane.ts';
import { brokenApp } from './stack.ts';
import {
  INSTALL_OVERLAY,
  NICPOOL_NAMESPACE,
  SOCKET_DIR,
  keptBefore,
  kubectlStream,
  overlayObjects,
  removeKept,
  uninstallTargets,
  type Kept,
} from '../e2e/harness/demo-real-steps.ts';
import {
  FAILED_LOGS,
  IMAGES_DIR,
  recordedRealNode,
  startRealNode,
  stopRealNode,
  type RealNode,
} from '../e2e/realnode/node.ts';

// The tutorial's own files, byte for byte (e2e/fixtures/tutorial/SHA256SUMS).
const T = 'e2e/fixtures/tutorial';
const NADS = `${T}/multus-conf.yaml`;
const SUBNETS = `${T}/different-segment-ipv4-subnets.yaml`;
const SUBNET_DEPLOY = `${T}/subnet-test-deploy.yaml`;
const IPPOOLS = `${T}/different-segment-ipv4-ippools.yaml`;
const IPPOOL_DEPLOY = `${T}/ippool-test-deploy.yaml`;
const NICPOOL_IMAGE = 'docker.io/library/nicpool:0.1.0';

const bold = (s: string): string => `\x1b[1m${s}\x1b[0m`;
const secs = (ms: number): string =>
  ms < 60_000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;

// Ctrl-C (or SIGTERM) stops the run where it is and cleans up; a second one says so again, a
// third quits at once (make node-down then removes the node and whatever is left on it).
const interrupt = new AbortController();
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    signals += 1;
    if (signals === 1) {
      console.log(`\n${sig}: stopping, then cleaning up`);
      interrupt.abort(new Error(`interrupted (${sig})`));
    } else if (signals === 2) console.log(`${sig}: still cleaning up; once more quits at once`);
    else {
      console.log(`${sig}: quitting; \`make node-down\` removes what is left`);
      process.exit(130);
    }
  });

const t0 = Date.now();
/** Wall time of each part (node up, install, tutorial, cleanup, node down), for the last line. */
const phases: string[] = [];
let phase = 'node up';
let phaseStart = t0;
function nextPhase(next: string): void {
  phases.push(`${phase} ${secs(Date.now() - phaseStart)}`);
  phase = next;
  phaseStart = Date.now();
}
function header(s: string): void {
  console.log(`\n${bold(`==> ${s}`)}`);
}
/** A step of the run: stops here once interrupted. */
function step(s: string): void {
  interrupt.signal.throwIfAborted();
  header(s);
}

let node: RealNode | undefined;
const k = (args: readonly string[], input?: string): Promise<string> => node!.kubectl(args, input);

/** Prints a command as the tutorial does, runs it, prints its output; fails if it fails. */
async function show(...args: string[]): Promise<string> {
  console.log(`~# kubectl ${args.join(' ')}`);
  const out = await k(args);
  process.stdout.write(out === '' || out.endsWith('\n') ? out : `${out}\n`);
  return out;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 120_000, abortable = true, explain = '' } = {},
): Promise<T> {
  const start = Date.now();
  let last = start;
  for (;;) {
    if (abortable) interrupt.signal.throwIfAborted();
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) {
      const why = explain === '' ? '' : await explainWith(explain);
      throw new Error(`timed out after ${secs(timeoutMs)} waiting for ${what}${why}`);
    }
    if (Date.now() - last > 5000) {
      console.log(`   … waiting for ${what} (${Math.round((Date.now() - start) / 1000)} s)`);
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The pods' state and their last events, for a wait that timed out. */
async function explainWith(selector: string): Promise<string> {
  const pods = await k(['get', 'pods', '-A', '-l', selector, '-o', 'wide']).catch(() => '');
  const events = await k(['get', 'events', '-A', '--sort-by=.lastTimestamp']).catch(() => '');
  return `\n${pods}\nlast events:\n${events.trimEnd().split('\n').slice(-15).join('\n')}`;
}

interface Pod {
  metadata: { name: string };
  status: { phase?: string };
}
async function runningPods(app: string, count: number): Promise<Pod[]> {
  return waitFor(
    `${count} ${app} pod${count > 1 ? 's' : ''} to be Running`,
    async () => {
      const items = (
        JSON.parse(await k(['get', 'pods', '-l', `app=${app}`, '-o', 'json'])) as {
          items: Pod[];
        }
      ).items;
      return items.length === count && items.every((p) => p.status.phase === 'Running')
        ? items
        : undefined;
    },
    { explain: `app=${app}` },
  );
}

/** `kubectl exec` in a real pod, printed as the tutorial prints it; returns the output. */
async function exec(pod: string, ...cmd: string[]): Promise<string> {
  console.log(
    `~# kubectl exec ${pod} -- ${cmd.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`,
  );
  const out = await k(['exec', pod, '--', ...cmd]);
  process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
  return out;
}

/** Rollout status of each workload, its lines as kubectl prints them. */
async function rollouts(...workloads: string[]): Promise<void> {
  for (const w of workloads) {
    console.log(`~# kubectl -n ${NICPOOL_NAMESPACE} rollout status ${w}`);
    const start = Date.now();
    await kubectlStream(
      node!,
      ['-n', NICPOOL_NAMESPACE, 'rollout', 'status', w, '--timeout=240s'],
      (l) => console.log(l),
      interrupt.signal,
    ).catch(async (e: unknown) => {
      interrupt.signal.throwIfAborted();
      throw new Error(
        `${(e as Error).message}${await explainWith('app.kubernetes.io/name=nicpool')}`,
      );
    });
    console.log(`   (${secs(Date.now() - start)})`);
  }
}

let scratchDir: string | undefined;
/** A temporary dir for the broken manifest, removed at the end. */
function scratch(): string {
  scratchDir ??= mkdtempSync(join(tmpdir(), 'nicpool-demo-'));
  return scratchDir;
}

let startedNode = false;
let installing = false;
let crds: string[] = [];
let kept: Kept | undefined;

async function cleanup(): Promise<void> {
  if (scratchDir !== undefined) rmSync(scratchDir, { recursive: true, force: true });
  if (node === undefined) return;
  // Interrupted on a node of its own, the demo only takes the node down: that deletes every pod
  // through the kubelet (the tutorial's before the allocator, docs/realnode.md) and everything else.
  if (installing && !(startedNode && interrupt.signal.aborted)) {
    await removeTutorial();
    await uninstall(node);
  }
  if (startedNode) {
    nextPhase('node down');
    header('Stopping the real node the demo started (make node-down does the same)');
    await stopRealNode();
  }
}

const warn = (e: unknown): void => console.log(`   ${e instanceof Error ? e.message : String(e)}`);

/** The tutorial's objects, Deployments first, as its "Clean up" section (ours tolerate a failure). */
async function removeTutorial(): Promise<void> {
  header("Cleaning up: the tutorial's objects (the Deployments first)");
  // Pods first, while the allocator still answers their CNI DEL; then pools and subnets, while
  // the controller runs (it removes their finalizers once the last address is released).
  await show('delete', '--ignore-not-found', '-f', IPPOOL_DEPLOY, '-f', SUBNET_DEPLOY).catch(warn);
  await waitFor(
    'the pods to be deleted',
    async () =>
      (await k(['get', 'pods', '-l', 'app in (ippool-test-app,test-app)', '-o', 'name'])) === ''
        ? true
        : undefined,
    { timeoutMs: 90_000, abortable: false },
  ).catch(warn);
  await show(
    'delete',
    '--ignore-not-found',
    '--timeout=60s',
    '-f',
    IPPOOLS,
    '-f',
    SUBNETS,
    '-f',
    NADS,
  ).catch(warn);
}

/** Everything the overlay made but the CRDs; then, on a node found running, what that keeps. */
async function uninstall(n: RealNode): Promise<void> {
  header('Uninstalling nicpool: every object of the overlay but the CRDs');
  await show(
    'delete',
    '--ignore-not-found',
    '--wait=false',
    ...uninstallTargets(await overlayObjects(n)),
  ).catch(warn);
  await waitFor(
    `namespace ${NICPOOL_NAMESPACE} to be gone`,
    async () =>
      (await k(['get', 'namespace', NICPOOL_NAMESPACE, '--ignore-not-found', '-o', 'name'])) === ''
        ? true
        : undefined,
    { timeoutMs: 120_000, abortable: false },
  ).catch(warn);
  await show('get', 'crd', ...crds).catch(warn);
  console.log(
    `   an uninstall keeps the CRDs (and every pool and subnet in them), \`spiderpool\` and \`veth\` in the node's CNI bin dir (${n.cniBinDir}) and ${SOCKET_DIR}`,
  );
  if (startedNode || kept === undefined) return; // the node's own down removes them
  // The node was running before the demo: leave it as it was found.
  const removed = await removeKept(n, crds, kept).catch((e: unknown) => {
    warn(e);
    return [];
  });
  if (removed.length > 0)
    console.log(
      `   the node was running before the demo, so the demo removes them: ${removed.join(', ')}`,
    );
}

try {
  process.chdir(REPO);
  step(
    'The real node: kube-apiserver on 10.251.0.1, containerd, kubelet, kube-proxy, Multus thin (e2e/realnode)',
  );
  const found = recordedRealNode();
  if (found !== undefined && (await found.healthy())) {
    node = found;
    console.log('   reusing the running node (make node-down stops it)');
    await node.importImages(); // archives rebuilt since its up
  } else {
    // A failed up tears the node down and keeps its logs for a look; after Ctrl-C, they go too.
    const hadLogs = existsSync(FAILED_LOGS);
    node = await startRealNode('test').catch((e: unknown) => {
      if (interrupt.signal.aborted && !hadLogs)
        rmSync(FAILED_LOGS, { recursive: true, force: true });
      throw e;
    });
    startedNode = true;
  }
  if (!(await node.images()).includes(NICPOOL_IMAGE))
    throw new Error(
      `containerd has no ${NICPOOL_IMAGE}: run \`make images\` (it writes ${join(IMAGES_DIR, 'nicpool.oci.tar')})`,
    );
  await show('get', 'nodes', '-o', 'wide');

  nextPhase('install');

  step(`Installing nicpool from its image: kubectl apply -k ${INSTALL_OVERLAY}`);
  // The demo removes what it made, so it starts only on a node without nicpool or the tutorial.
  if ((await k(['get', 'namespace', NICPOOL_NAMESPACE, '--ignore-not-found', '-o', 'name'])) !== '')
    throw new Error(
      `nicpool is installed on the node already (namespace ${NICPOOL_NAMESPACE}); uninstall it first, or \`make node-down\``,
    );
  if ((await k(['get', '-f', NADS, '--ignore-not-found', '-o', 'name'])) !== '')
    throw new Error(
      `the tutorial's NADs exist on the node already: \`kubectl delete -f ${NADS}\` first, or \`make node-down\``,
    );
  crds = (await overlayObjects(node))
    .filter((o) => o.kind === 'CustomResourceDefinition')
    .map((o) => o.name);
  kept = await keptBefore(node, crds);
  installing = true;
  await show('apply', '-k', INSTALL_OVERLAY);
  await rollouts(
    'daemonset/nicpool-allocator',
    'deployment/nicpool-webhook',
    'deployment/nicpool-controller',
  );
  // Self-managed certificates: a webhook pod writes the CA into both configurations.
  await waitFor("the webhook configurations' caBundle", async () => {
    for (const c of [
      'validatingwebhookconfiguration/nicpool-validating',
      'mutatingwebhookconfiguration/nicpool-mutating',
    ])
      if ((await k(['get', c, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])) === '')
        return undefined;
    return true;
  });
  await show('-n', NICPOOL_NAMESPACE, 'get', 'pods', '-o', 'wide');
  console.log(
    `~# ls ${node.cniBinDir}     (on the node: the allocator's init container installed these)`,
  );
  for (const p of ['spiderpool', 'veth'])
    if (!existsSync(join(node.cniBinDir, p))) throw new Error(`${p} is not in ${node.cniBinDir}`);
  console.log('spiderpool  veth');

  nextPhase('tutorial');

  step("Set up Multus configuration (the tutorial's multus-conf.yaml: macvlan + the veth plugin)");
  await show('apply', '-f', NADS);
  await show('get', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', 'kube-system');

  step("Multiple NICs by subnet: the tutorial's different-segment-ipv4-subnets.yaml");
  await show('apply', '-f', SUBNETS);
  await waitFor('the subnet counters', async () =>
    (await k([
      'get',
      'spidersubnet',
      'subnet-test-ens192',
      '-o',
      'jsonpath={.status.totalIPCount}',
    ])) === '10'
      ? true
      : undefined,
  );
  await show('get', 'spidersubnet');
  step('The subnet-annotated Deployment, 2 replicas of nginx (subnet-test-deploy.yaml)');
  await show('apply', '-f', SUBNET_DEPLOY);
  const subnetPods = await runningPods('test-app', 2);
  await show('get', 'spiderippool');
  for (const name of (await k(['get', 'spiderippool', '-o', 'name'])).split('\n'))
    if (name.includes('/auto-test-app-'))
      await show('get', 'spiderippool', name.split('/')[1]!, '-o', 'jsonpath={.spec.ips}');
  await show('get', 'spidersubnet');
  await show('get', 'po', '-l', 'app=test-app', '-o', 'wide');
  await exec(subnetPods[0]!.metadata.name, 'ip', 'a');
  step('Deleting the Deployment: its auto-pools go once their addresses are released');
  await show('delete', '-f', SUBNET_DEPLOY);
  await waitFor('the auto-pools to be gone', async () =>
    (await k(['get', 'spiderippool', '-o', 'name'])).includes('auto-test-app-') ? undefined : true,
  );
  await show('get', 'spidersubnet');

  step(
    "Multiple NICs by IPPool: the tutorial's different-segment-ipv4-ippools.yaml and ippool-test-deploy.yaml (busybox)",
  );
  await show('apply', '-f', IPPOOLS);
  await show('get', 'spiderippool');
  await show('apply', '-f', IPPOOL_DEPLOY);
  const [pod] = await runningPods('ippool-test-app', 1);
  await show('get', 'spiderippool');
  await show('get', 'po', '-l', 'app=ippool-test-app', '-o', 'wide');
  const ipA = await exec(pod!.metadata.name, 'ip', 'a');
  await exec(pod!.metadata.name, 'ip', 'rule', 'show');
  await exec(pod!.metadata.name, 'ip', 'r', 'show', 'main');
  await exec(pod!.metadata.name, 'ip', 'route', 'show', 'table', '100');
  await show('get', 'spiderendpoint', pod!.metadata.name);

  step(
    "The veth plugin: the pod reaches the kubernetes Service (10.96.0.1:443, kube-proxy's rules on the node) through veth0",
  );
  const net1 = /inet (\S+)\/\d+ .* net1$/m.exec(ipA)?.[1];
  await exec(pod!.metadata.name, 'ip', 'route', 'get', '10.96.0.1');
  if (net1 !== undefined)
    await exec(pod!.metadata.name, 'ip', 'route', 'get', '10.96.0.1', 'from', net1);
  // Plain HTTP to the API server's TLS port: its answer shows the connection reached it.
  await exec(
    pod!.metadata.name,
    'sh',
    '-c',
    'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 10.96.0.1 443',
  );

  step(
    'What nicpool adds: a broken annotation is refused at kubectl apply, by the webhook through its Service',
  );
  const bad = JSON.stringify(brokenApp('default'));
  const file = join(scratch(), 'broken-app.yaml');
  writeFileSync(file, bad);
  console.log(`~# kubectl apply -f ${file}    (net1 says "ipv4s")`);
  await k(['apply', '-f', file]).then(
    async () => {
      await k(['delete', '-f', file, '--ignore-not-found']);
      throw new Error('the broken Deployment was admitted');
    },
    (e: { stderr?: string }) => process.stdout.write(e.stderr ?? ''),
  );
} catch (e) {
  // Once interrupted, whatever was running fails too: say why it stopped, not how.
  const why: unknown = interrupt.signal.aborted ? interrupt.signal.reason : e;
  console.error(
    `\ndemo ${interrupt.signal.aborted ? 'stopped' : 'failed'}: ${why instanceof Error ? why.message : String(why)}`,
  );
  process.exitCode = interrupt.signal.aborted ? 130 : 1;
} finally {
  if (process.exitCode !== undefined)
    phase += interrupt.signal.aborted ? ' (until interrupted)' : ' (until the failure)';
  nextPhase('cleanup');
  try {
    await cleanup();
  } catch (e) {
    console.error(
      `cleanup failed: ${e instanceof Error ? e.message : String(e)}; \`make node-down\` removes the node and everything on it`,
    );
    process.exitCode = 1;
  }
  nextPhase('');
  console.log(
    `\n${bold(`==> ${interrupt.signal.aborted ? 'Stopped' : process.exitCode ? 'Failed' : 'Done'} in ${secs(Date.now() - t0)}`)} (${phases.join(', ')})`,
  );
}
