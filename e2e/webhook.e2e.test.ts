/**
 * The admission webhook registered with the real API server by URL: `kubectl apply` says
 * what is wrong, and a webhook outage never stops pods without nicpool annotations.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from './cluster/control-plane.ts';
import { cluster, createNamespace, eventually, k, uniqueName } from './harness/helpers.ts';
import { ControllerProcess } from './harness/controller.ts';
import { WebhookProcess } from './harness/webhook.ts';
import { expectInvariants } from './harness/invariants.ts';

const MULTUS = {
  'v1.multus-cni.io/default-network': 'kube-system/macvlan-conf-ens192',
  'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
};

/** kubectl's stderr when the apply is refused, '' when it succeeds. */
async function applyError(obj: object, ...extra: string[]): Promise<string> {
  return k(['apply', ...extra, '-f', '-'], JSON.stringify(obj)).then(
    () => '',
    (e: { stderr?: string }) => e.stderr ?? 'failed without stderr',
  );
}

describe('admission webhook e2e', () => {
  const ns = uniqueName('wh');
  const poolA = uniqueName('wh-eth0');
  const poolB = uniqueName('wh-net1');
  let wh: WebhookProcess;
  // The webhook puts the finalizer on pools; the controller is who removes it.
  let controller: ControllerProcess;

  const pool = (name: string, subnet: string, ips: string[], extra: object = {}): object => ({
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata: { name },
    spec: { subnet, ips, ...extra },
  });
  /** A status write, as the allocator makes one (the status subresource is never hooked). */
  const patchStatus = (pool: string, patch: string): Promise<string> =>
    k(['patch', 'spiderippool', pool, '--subresource=status', '--type=merge', '-p', patch]);
  const deployment = (name: string, annotations: Record<string, string>): object => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  });
  const ippools = (a: string, b: string): Record<string, string> => ({
    ...MULTUS,
    'ipam.spidernet.io/ippools': JSON.stringify([
      { interface: 'eth0', ipv4: [a] },
      { interface: 'net1', ipv4: [b] },
    ]),
  });

  beforeAll(async () => {
    await createNamespace(ns);
    await k(['create', 'namespace', 'nicpool-system']).catch(() => undefined);
    controller = new ControllerProcess(cluster(), {
      identity: 'wh-suite',
      port: await freePort(),
      namespace: 'nicpool-system',
      leaseSeconds: { duration: 4, renew: 3, retry: 1 },
    });
    await controller.start();
    wh = new WebhookProcess(cluster(), await freePort());
    await wh.start();
    await wh.register();
    await k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          pool(poolA, '10.36.0.0/16', ['10.36.1.1-10.36.1.9'], { gateway: '10.36.0.1' }),
          pool(poolB, '10.37.0.0/16', ['10.37.1.1-10.37.1.9']),
        ],
      }),
    );
    // The webhook's own cache must have seen the new pools before the workload checks.
    await eventually('pools in the webhook cache', async () =>
      (await applyError(deployment('probe', ippools(poolA, poolB)), '--dry-run=server')) === ''
        ? true
        : undefined,
    );
  }, 120_000);

  // The processes stop whatever the deletions do (a timed-out delete must not leave the
  // controller running and Jest waiting for it).
  afterAll(async () => {
    try {
      await wh.unregister();
      await wh.stop();
      wh.cleanup();
      await k(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
      await k(['delete', 'spiderippool', poolA, poolB, '--ignore-not-found', '--timeout=60s']);
    } finally {
      await wh.stop().catch(() => undefined);
      await controller.stop();
      controller.cleanup();
      await k([
        'delete',
        'lease',
        'nicpool-controller',
        '-n',
        'nicpool-system',
        '--ignore-not-found',
      ]);
    }
  }, 120_000);

  it('mutates pools: ipVersion defaulted, CIDR label set', async () => {
    const p = JSON.parse(await k(['get', 'spiderippool', poolA, '-o', 'json'])) as {
      spec: { ipVersion?: number };
      metadata: { labels?: Record<string, string> };
    };
    expect(p.spec.ipVersion).toBe(4);
    expect(p.metadata.labels?.['ipam.spidernet.io/ippool-cidr']).toBe('10-36-0-0-16');
    const row = (await k(['get', 'spiderippool', poolA, '--no-headers'])).trim().split(/\s+/);
    expect(row.slice(0, 3)).toEqual([poolA, '4', '10.36.0.0/16']);
  });

  it('rejects a bad Pod at kubectl apply, naming the annotation and the problem', async () => {
    const err = await applyError({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'bad-pod',
        namespace: ns,
        annotations: {
          ...MULTUS,
          'ipam.spidernet.io/ippools': JSON.stringify([{ interface: 'eth0', ipv4s: [poolA] }]),
        },
      },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    expect(err).toContain(
      'admission webhook "pods.validate.nicpool.spidernet.io" denied the request',
    );
    expect(err).toContain(
      'unknown field `ipv4s` in item 0 of ipam.spidernet.io/ippools; did you mean `ipv4`?',
    );
  });

  it('rejects a bad Deployment, and one whose ippools names a pool that does not exist', async () => {
    const bad = await applyError(
      deployment('bad-deploy', {
        ...MULTUS,
        'ipam.spidernet.io/ippools':
          '[{"interface":"eth0","ipv4":["' + poolA + '"]},{"ipv4":["' + poolB + '"]}]',
      }),
    );
    expect(bad).toContain(
      'admission webhook "workloads.validate.nicpool.spidernet.io" denied the request',
    );
    expect(bad).toContain(
      'spec.template.metadata.annotations: `interface` is missing (set `interface` on every item or on none) in item 1 of ipam.spidernet.io/ippools',
    );
    const missing = await applyError(deployment('missing-pool', ippools(poolA, 'no-such-pool')));
    expect(missing).toContain(
      `ipam.spidernet.io/ippools[1].ipv4[0]: SpiderIPPool "no-such-pool" does not exist`,
    );
    expect(await k(['get', 'deployments', '-n', ns, '-o', 'name'])).toBe('');
  });

  it('admits a good Deployment', async () => {
    expect(await applyError(deployment('good', ippools(poolA, poolB)))).toBe('');
    expect((await k(['get', 'deployment', 'good', '-n', ns, '-o', 'name'])).trim()).toBe(
      'deployment.apps/good',
    );
  });

  it('rejects a pool overlapping another', async () => {
    const err = await applyError(pool(uniqueName('wh-overlap'), '10.36.0.0/24', ['10.36.0.10']));
    expect(err).toContain(
      'admission webhook "pools.validate.nicpool.spidernet.io" denied the request',
    );
    expect(err).toContain(
      `spec.subnet: 10.36.0.0/24 overlaps 10.36.0.0/16 of SpiderIPPool ${poolA}`,
    );
  });

  it('an allocated address cannot be removed from a pool', async () => {
    const record = JSON.stringify({
      '10.36.1.5': { pod: `${ns}/web-0`, podUid: 'u-1', interface: 'eth0' },
    });
    await patchStatus(
      poolA,
      JSON.stringify({ status: { allocatedIPs: record, allocatedIPCount: 1, totalIPCount: 9 } }),
    );
    const err = await k([
      'patch',
      'spiderippool',
      poolA,
      '--type=merge',
      '-p',
      '{"spec":{"excludeIPs":["10.36.1.5"]}}',
    ]).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(err).toContain(
      `spec.ips/excludeIPs: 10.36.1.5 (allocated to ${ns}/web-0 eth0) cannot be removed while allocated`,
    );
    await patchStatus(poolA, '{"status":{"allocatedIPs":null,"allocatedIPCount":0}}');
  });

  it('deleting a pool is never blocked by the webhook', async () => {
    const name = uniqueName('wh-del');
    await k(['apply', '-f', '-'], JSON.stringify(pool(name, '10.38.0.0/16', ['10.38.0.1'])));
    await k(['delete', 'spiderippool', name, '--wait=true', '--timeout=30s']);
    expect(await k(['get', 'spiderippool', name, '--ignore-not-found', '-o', 'name'])).toBe('');
  });

  it('an in-use pool stays Terminating until its last address is released', async () => {
    const name = uniqueName('wh-busy');
    await k(
      ['apply', '-f', '-'],
      JSON.stringify(pool(name, '10.39.0.0/16', ['10.39.0.1-10.39.0.9'])),
    );
    const finalizers = (): Promise<string> =>
      k(['get', 'spiderippool', name, '-o', 'jsonpath={.metadata.finalizers}']);
    expect(await finalizers()).toBe('["spiderpool.spidernet.io"]');
    // An allocation, as the allocator records it.
    const record = JSON.stringify({
      '10.39.0.3': { pod: `${ns}/busy`, podUid: 'u-busy', interface: 'eth0' },
    });
    await patchStatus(
      name,
      JSON.stringify({ status: { allocatedIPs: record, allocatedIPCount: 1 } }),
    );
    await k(['delete', 'spiderippool', name, '--wait=false']);
    // The delete is accepted; the pool waits, Terminating, while the address is in use.
    await new Promise((r) => setTimeout(r, 3000));
    const held = JSON.parse(await k(['get', 'spiderippool', name, '-o', 'json'])) as {
      metadata: { deletionTimestamp?: string };
      status?: { allocatedIPCount?: number };
    };
    expect(held.metadata.deletionTimestamp).toBeDefined();
    expect(held.status?.allocatedIPCount).toBe(1);
    // The last release (what the allocator's DEL writes) lets it go.
    await patchStatus(name, '{"status":{"allocatedIPs":null,"allocatedIPCount":0}}');
    await eventually(
      'the pool gone after its last release',
      async () =>
        (await k(['get', 'spiderippool', name, '--ignore-not-found', '-o', 'name'])) === ''
          ? true
          : undefined,
      30_000,
      () => controller.log().slice(-2000),
    );
  }, 60_000);

  it('with the webhook process stopped, pods without nicpool annotations are still created', async () => {
    const held = uniqueName('wh-down');
    await k(
      ['apply', '-f', '-'],
      JSON.stringify(pool(held, '10.40.0.0/16', ['10.40.0.1-10.40.0.3'])),
    );
    const record = JSON.stringify({
      '10.40.0.2': { pod: `${ns}/x`, podUid: 'u-x', interface: 'eth0' },
    });
    await patchStatus(
      held,
      JSON.stringify({ status: { allocatedIPs: record, allocatedIPCount: 1 } }),
    );
    await wh.stop();
    expect(
      await applyError({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'plain', namespace: ns },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      }),
    ).toBe('');
    // …while an annotated pod fails closed (failurePolicy: Fail), with the reason.
    const err = await applyError({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'annotated',
        namespace: ns,
        annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [poolA] }) },
      },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    expect(err).toContain('failed calling webhook "pods.validate.nicpool.spidernet.io"');
    // The controller is never held up by the webhook: a pool deleted while the webhook is
    // down still goes once its last address is released (its finalizer removal is not hooked).
    await patchStatus(held, '{"status":{"allocatedIPs":null,"allocatedIPCount":0}}');
    await k(['delete', 'spiderippool', held, '--wait=false']);
    await eventually(
      'the pool gone with the webhook down',
      async () =>
        (await k(['get', 'spiderippool', held, '--ignore-not-found', '-o', 'name'])) === ''
          ? true
          : undefined,
      30_000,
      () => controller.log().slice(-2000),
    );
    await k(['delete', 'pod', 'plain', '-n', ns, '--grace-period=0', '--force']);
    await wh.start();
  }, 90_000);
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
