// nicpool on this machine: the webhook, the controller and one allocator per simulated node
// as local processes, each under its ServiceAccount and the RBAC from deploy/, plus the node
// simulator (real Multus, macvlan, nicpool's shim and veth plugin). Used in-process by `make demo`, and
// as a detached server by `make up` (`node scripts/stack.ts serve`), stopped by `make down`.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, kubectl, REPO, type ClusterState } from '../e2e/cluster/control-plane.ts';
import { AllocatorProcess } from '../e2e/harness/allocator.ts';
import { ControllerProcess } from '../e2e/harness/controller.ts';
import { WebhookProcess } from '../e2e/harness/webhook.ts';
import { NodeSimulator } from '../e2e/sim/node-simulator.ts';

export const SHIM = join(REPO, 'apps', 'cni-shim', 'dist', 'spiderpool');
/** nicpool's chained `veth` plugin, which the tutorial's NADs name (docs/veth.md). */
export const VETH = join(REPO, 'apps', 'cni-veth', 'dist', 'veth');
/** The CNI executables nicpool ships, as the simulator's bin dir gets them. */
export const PLUGINS = { spiderpool: SHIM, veth: VETH } as const;
/** The tutorial's NADs name no socket: the shim uses Spiderpool's default path. */
/** Where node1's shim finds its allocator (the simulator mounts the socket there, in node1). */
export const DEFAULT_SOCKET = '/var/run/spidernet/spiderpool.sock';

/**
 * The Deployment the demos and the install tests apply to show nicpool refusing a broken
 * annotation at `kubectl apply`: net1's entry of ipam.spidernet.io/ippools says `ipv4s`. The
 * webhook refuses it before any pod exists; `IfNotPresent` only matters if it were admitted
 * on the real node (busybox is imported there, never pulled).
 */
export function brokenApp(namespace?: string): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'broken-app', ...(namespace === undefined ? {} : { namespace }) },
    spec: {
      selector: { matchLabels: { app: 'broken-app' } },
      template: {
        metadata: {
          labels: { app: 'broken-app' },
          annotations: {
            'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
            'ipam.spidernet.io/ippools':
              '[{"interface":"eth0","ipv4":["ippool-test-ens192"]},{"interface":"net1","ipv4s":["ippool-test-ens224"]}]',
          },
        },
        spec: { containers: [{ name: 'c', image: 'busybox', imagePullPolicy: 'IfNotPresent' }] },
      },
    },
  };
}
export const STACK_STATE = join(REPO, '.nicpool', 'stack.json');

export interface Stack {
  readonly webhook: WebhookProcess;
  readonly controller: ControllerProcess;
  readonly allocator: AllocatorProcess;
  readonly sim: NodeSimulator;
  stop(): Promise<void>;
}

/** Starts everything; on failure stops what it started before rethrowing. */
export async function startStack(
  cluster: ClusterState,
  say: (line: string) => void,
): Promise<Stack> {
  const undo: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    undo.length = 0;
  };
  try {
    say('webhook: starting (ServiceAccount nicpool-webhook)');
    const webhook = new WebhookProcess(cluster, await freePort());
    await webhook.start();
    await webhook.register();
    undo.push(async () => {
      await webhook.unregister().catch(() => undefined);
      await webhook.stop();
      webhook.cleanup();
    });
    say(
      'controller: starting (ServiceAccount nicpool-controller, Lease nicpool-system/nicpool-controller)',
    );
    const controller = new ControllerProcess(cluster, {
      identity: 'local',
      port: await freePort(),
      namespace: 'nicpool-system',
      leaseSeconds: { duration: 4, renew: 3, retry: 1 },
    });
    await controller.start();
    undo.push(async () => {
      await controller.stop();
      controller.cleanup();
      await kubectl(cluster, [
        'delete',
        'lease',
        'nicpool-controller',
        '-n',
        'nicpool-system',
        '--ignore-not-found',
      ]);
    });
    const allocator = new AllocatorProcess(cluster, 'node1', await freePort());
    say(
      `allocator node1: starting on ${allocator.socket} (ServiceAccount nicpool-allocator; node1 sees it at ${DEFAULT_SOCKET})`,
    );
    await allocator.start();
    undo.push(async () => {
      await allocator.stop();
      allocator.cleanup();
    });
    say(
      'node1: simulated kubelet; host NICs ens192 (10.6.168.123/16) and ens224; CNI: Multus → macvlan → nicpool shim, then nicpool veth',
    );
    const sim = new NodeSimulator({
      cluster,
      nodes: ['node1'],
      hostNics: ['ens192', 'ens224'],
      clusterNetwork: 'macvlan-conf-ens192',
      extraPlugins: PLUGINS,
      allocators: { node1: allocator.socket },
    });
    await sim.start();
    undo.push(() => sim.stop());
    return { webhook, controller, allocator, sim, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// `serve`: run until SIGTERM, for `make up`.
if (process.argv[2] === 'serve') {
  const { readState, isHealthy } = await import('../e2e/cluster/control-plane.ts');
  const say = (l: string): void =>
    console.log(`[stack ${new Date().toISOString().slice(11, 19)}] ${l}`);
  const cluster = readState();
  if (cluster === undefined || !(await isHealthy(cluster))) {
    console.error('no running local control plane (make cluster-up)');
    process.exit(1);
  }
  const stack = await startStack(cluster, say).catch((e: unknown) => {
    console.error(`start failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
  writeFileSync(
    STACK_STATE,
    JSON.stringify({
      pid: process.pid,
      webhook: `https://127.0.0.1:${stack.webhook.port}`,
      controllerMetrics: `http://127.0.0.1:${stack.controller.opts.port}/metrics`,
      allocatorMetrics: `http://127.0.0.1:${stack.allocator.port}/metrics`,
      socket: stack.allocator.socket,
      logs: {
        webhook: stack.webhook.dir,
        controller: stack.controller.dir,
        allocator: stack.allocator.dir,
        sim: stack.sim.dir,
      },
    }),
  );
  say('ready');
  process.once('SIGTERM', () => {
    say('stopping');
    void stack.stop().then(() => {
      rmSync(STACK_STATE, { force: true });
      say('stopped');
      process.exit(0);
    });
  });
}
