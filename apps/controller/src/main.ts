import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { describeConfigErrors } from '@nicpool/config';
import { DEFAULT_RETRY, loadKubeConfig } from '@nicpool/kube';
import { buildApp } from './app.ts';
import { readControllerConfig } from './config.ts';
import { KubeControllerStore } from './kube-store.ts';
import { LeaderElector } from './leader.ts';
import { kubeLeaseStore } from './lease-store.ts';
import { createMetrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';

const config = readControllerConfig(process.env);
if (!config.ok) {
  console.error(describeConfigErrors('nicpool-controller', config.error));
  process.exit(2);
}
const c = config.value;
const kc = loadKubeConfig(
  c.kubeconfig === undefined ? { kind: 'in-cluster' } : { kind: 'file', path: c.kubeconfig },
);
const identity = c.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
const metrics = createMetrics();
let reconciler: Reconciler | undefined;
let store: KubeControllerStore | undefined;
const app = buildApp(c, {
  metrics: metrics.registry,
  // Ready = able to serve: a standby is ready (it is waiting for the lease), a leader once synced.
  ready: () => !elector.isLeader() || store?.ready() === true,
});
const log = {
  info: (msg: string): void => app.log.info(msg),
  warn: (msg: string, err?: unknown): void => app.log.warn({ err }, msg),
};

const elector = new LeaderElector(
  kubeLeaseStore(kc, c.namespace, c.leaseName),
  identity,
  {
    leaseDurationMs: c.leaseDurationSeconds * 1000,
    renewDeadlineMs: c.renewDeadlineSeconds * 1000,
    retryPeriodMs: c.retryPeriodSeconds * 1000,
  },
  {
    onStartedLeading: () => {
      metrics.leader.set(1);
      app.log.info({ identity }, 'became leader; starting reconcilers');
      store = new KubeControllerStore(
        kc,
        (msg, err) => app.log.warn({ err }, msg),
        'nicpool-controller',
      );
      reconciler = new Reconciler(
        store,
        {
          retry: DEFAULT_RETRY,
          resyncMs: c.resyncSeconds * 1000,
          gcIntervalMs: c.gcIntervalSeconds * 1000,
          gcDelayMs: c.gcDelaySeconds * 1000,
          // A leaked record's grace goes on from the previous leader's first sighting.
          ...(elector.inheritedNote() === undefined
            ? {}
            : { inheritedGcNote: elector.inheritedNote()! }),
        },
        metrics,
        log,
      );
      const leaderStore = store;
      metrics.pools = () => leaderStore.pools();
      const r = reconciler;
      elector.setNote(() => r.gcNote());
      store.start((change) => r.onChange(change));
      void r.start();
    },
    onStoppedLeading: () => {
      // Another replica may already act: stop at once rather than write as a stale leader.
      metrics.leader.set(0);
      app.log.error({ identity }, 'lost the leader Lease; exiting');
      process.exit(1);
    },
    onNewLeader: (holder) => app.log.info({ holder, identity }, 'leader observed'),
  },
);

let stopping = false;
process.once('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  // Finish the item in hand, give up the Lease so a standby takes over at once, then exit.
  void (async () => {
    await reconciler?.stop();
    await store?.stop();
    await elector.release();
    metrics.leader.set(0);
    await app.close();
    process.exit(0);
  })();
});
await app.listen({ host: c.host, port: c.port });
app.log.info({ identity, lease: `${c.namespace}/${c.leaseName}` }, 'campaigning for leadership');
void elector.run();
