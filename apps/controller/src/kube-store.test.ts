import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { loadKubeConfig, type ListPage, type WatchTransport } from '@nicpool/kube';
import { KubeControllerStore } from './kube-store.ts';

const kc = loadKubeConfig({
  kind: 'inline',
  yaml: 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
});

const pod = (i: number): KubernetesObject =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p${i}`, namespace: 'd', uid: `u${i}`, resourceVersion: `${i + 1}` },
    spec: { terminationGracePeriodSeconds: 7, containers: [{ name: 'c', image: 'x' }] },
    status: { phase: i === 0 ? 'Succeeded' : 'Running' },
  }) as KubernetesObject;

const owner = (name: string): Record<string, string> => ({
  'ipam.spidernet.io/owner-application-kind': 'Deployment',
  'ipam.spidernet.io/owner-application-namespace': 'd',
  'ipam.spidernet.io/owner-application-name': name,
});

function setup(podCount: number) {
  const lists: Record<string, ListPage[]> = {};
  const send: Record<string, (type: string, o: KubernetesObject) => void> = {};
  const items: Record<string, (i: number) => KubernetesObject> = {
    pods: pod,
    endpoints: (i) =>
      ({
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderEndpoint',
        metadata: { name: `p${i}`, namespace: 'd', uid: `e${i}`, resourceVersion: '9' },
        status: {
          current: {
            uid: `u${i}`,
            node: 'n',
            ips: [
              {
                interface: 'eth0',
                ipv4: '10.6.0.2/16',
                ipv4Pool: 'pool-a',
                ipv4Gateway: '10.6.0.1',
              },
            ],
          },
          ownerControllerType: 'StatefulSet',
          ownerControllerName: 'p',
        },
      }) as KubernetesObject,
    deployments: (i) =>
      ({
        metadata: { name: `w${i}`, namespace: 'd', uid: `w${i}` },
        spec: {
          replicas: 2,
          template: {
            metadata: {
              annotations: {
                'ipam.spidernet.io/subnet': '{"interface":"eth0","ipv4":["s"]}',
                'kubectl.kubernetes.io/restartedAt': 'now',
              },
            },
          },
        },
      }) as KubernetesObject,
  };
  items.pools = (i) =>
    ({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: `auto-w${i}`, resourceVersion: '5', labels: owner(`w${i}`) },
      spec: { subnet: '10.6.0.0/16' },
    }) as KubernetesObject;
  const counts: Record<string, number> = {
    pods: podCount,
    endpoints: 1,
    deployments: 1,
    pools: 2,
  };
  const transport = (what: string): WatchTransport => ({
    list: async (p) => {
      (lists[what] ??= []).push(p);
      const make = items[what];
      const n = make === undefined ? 0 : counts[what]!;
      const from = Number(p._continue ?? 0);
      const to = Math.min(from + p.limit, n);
      const out: KubernetesObject[] = [];
      for (let i = from; i < to; i++) out.push(make!(i));
      return {
        items: out,
        metadata: { resourceVersion: '100', ...(to < n ? { _continue: String(to) } : {}) },
      };
    },
    watch: async (_r, onEvent) => {
      send[what] = onEvent;
      return { abort: () => undefined };
    },
  });
  const store = new KubeControllerStore(kc, () => undefined, 'test', {
    watch: (what) => ({ transport: transport(what) }),
  });
  return { store, lists, send };
}

async function synced(store: KubeControllerStore): Promise<void> {
  store.start(() => undefined);
  for (let i = 0; i < 500 && !store.ready(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(store.ready()).toBe(true);
}

describe('KubeControllerStore caches (review #6)', () => {
  it('lists pods in pages of 500 and keeps only what GC reads of each', async () => {
    const { store, lists } = setup(1201);
    await synced(store);
    expect(lists.pods).toEqual([
      { limit: 500 },
      { limit: 500, _continue: '500' },
      { limit: 500, _continue: '1000' },
    ]);
    expect(store.pod('d', 'p0')).toEqual({ uid: 'u0', finished: true, graceSeconds: 7 });
    expect(store.pod('d', 'p1200')).toEqual({ uid: 'u1200', finished: false, graceSeconds: 7 });
    await store.stop();
  });

  it('keeps endpoints without their addresses, and workloads with their nicpool annotations only', async () => {
    const { store } = setup(1);
    await synced(store);
    expect(store.endpoint('d', 'p0')).toEqual({
      metadata: { name: 'p0', namespace: 'd', uid: 'e0', resourceVersion: '9' },
      status: {
        current: { uid: 'u0', ips: [{ ipv4Pool: 'pool-a' }] },
        ownerControllerType: 'StatefulSet',
        ownerControllerName: 'p',
      },
    });
    expect(store.workloads('Deployment')[0]?.annotations).toEqual({
      'ipam.spidernet.io/subnet': '{"interface":"eth0","ipv4":["s"]}',
    });
    await store.stop();
  });

  it('finds a workload’s auto-pools by their owner labels, following relabels and deletes', async () => {
    const { store, send } = setup(1);
    await synced(store);
    expect(store.autoPoolsOf('Deployment', 'd', 'w0').map((p) => p.metadata.name)).toEqual([
      'auto-w0',
    ]);
    const moved = {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: 'auto-w0', resourceVersion: '6', labels: owner('w1') },
      spec: { subnet: '10.6.0.0/16' },
    } as KubernetesObject;
    send.pools!('MODIFIED', moved);
    expect(store.autoPoolsOf('Deployment', 'd', 'w0')).toEqual([]);
    expect(
      store
        .autoPoolsOf('Deployment', 'd', 'w1')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['auto-w0', 'auto-w1']);
    send.pools!('DELETED', { ...moved, metadata: { ...moved.metadata, resourceVersion: '7' } });
    expect(store.autoPoolsOf('Deployment', 'd', 'w1').map((p) => p.metadata.name)).toEqual([
      'auto-w1',
    ]);
    expect(store.workload('Deployment', 'd', 'w0')?.uid).toBe('w0');
    await store.stop();
  });

  it('remembers the grace of a pod seen deleted', async () => {
    const { store, send } = setup(2);
    await synced(store);
    send.pods!('DELETED', { ...pod(1), metadata: { ...pod(1).metadata, resourceVersion: '200' } });
    expect(store.pod('d', 'p1')).toBeUndefined();
    expect(store.lastGrace('d', 'p1')).toBe(7);
    await store.stop();
  });
});
