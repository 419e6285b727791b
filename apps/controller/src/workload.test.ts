import { describe, expect, it } from '@jest/globals';
import { poolIntents, poolSize, toWorkload, type RawWorkload } from './workload.ts';

const UID = '6f1c2a55-1b2c-4d3e-9f00-b1a361c7e9df';
const SUBNETS = JSON.stringify([
  { interface: 'eth0', ipv4: ['subnet-test-ens192'] },
  { interface: 'net1', ipv4: ['subnet-test-ens224'], ipv6: ['v6-net'] },
]);

function raw(spec: RawWorkload['spec'], extra: Partial<RawWorkload> = {}): RawWorkload {
  return { metadata: { name: 'test-app', namespace: 'default', uid: UID }, spec, ...extra };
}
const template = (annotations: Record<string, string>, hostNetwork = false) => ({
  metadata: { annotations },
  spec: { hostNetwork },
});

describe('replicas by kind', () => {
  const t = template({});
  it.each([
    ['Deployment', raw({ replicas: 3, template: t }), 3],
    ['Deployment', raw({ template: t }), 1],
    ['ReplicaSet', raw({ replicas: 0, template: t }), 0],
    ['StatefulSet', raw({ replicas: 5, template: t }), 5],
    ['DaemonSet', raw({ template: t }, { status: { desiredNumberScheduled: 4 } }), 4],
    ['DaemonSet', raw({ template: t }), 0],
    ['Job', raw({ parallelism: 3, completions: 10, template: t }), 3],
    ['Job', raw({ parallelism: 5, completions: 2, template: t }), 2],
    ['Job', raw({ template: t }), 1],
    ['Job', raw({ parallelism: 0, template: t }), 1],
    ['CronJob', raw({ jobTemplate: { spec: { parallelism: 2, template: t } } }), 2],
    ['CronJob', raw({ jobTemplate: { spec: { template: t } } }), 1],
  ] as const)('%s %#', (kind, o, replicas) => {
    expect(toWorkload(kind, o).replicas).toBe(replicas);
  });

  it('reads the CronJob pod template', () => {
    const w = toWorkload(
      'CronJob',
      raw({ jobTemplate: { spec: { template: template({ 'ipam.spidernet.io/subnet': 's' }) } } }),
    );
    expect(w.annotations).toEqual({ 'ipam.spidernet.io/subnet': 's' });
  });

  it('keeps only the ipam.spidernet.io annotations of the template (the cache holds every workload)', () => {
    const w = toWorkload(
      'Deployment',
      raw({
        template: template({
          'ipam.spidernet.io/subnets': SUBNETS,
          'kubectl.kubernetes.io/restartedAt': '2026-12-01T00:00:00Z',
          'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-ens224',
        }),
      }),
    );
    expect(w.annotations).toEqual({ 'ipam.spidernet.io/subnets': SUBNETS });
  });

  it('leaves pools of a Deployment ReplicaSet and a CronJob Job to their parents', () => {
    const owned = (kind: string) => ({
      metadata: {
        name: 'x',
        namespace: 'd',
        uid: 'u',
        ownerReferences: [{ kind, name: 'p', controller: true }],
      },
    });
    const rs = toWorkload('ReplicaSet', {
      ...owned('Deployment'),
      spec: { template: template({}) },
    });
    expect(rs.managedBy).toBe('Deployment/p');
    const job = toWorkload('Job', { ...owned('CronJob'), spec: { template: template({}) } });
    expect(job.managedBy).toBe('CronJob/p');
    const bare = toWorkload('ReplicaSet', raw({ template: template({}) }));
    expect(bare.managedBy).toBeUndefined();
  });
});

describe('pool size', () => {
  it('is fixed N or replicas + N', () => {
    expect(poolSize({ kind: 'fixed', count: 5 }, 2)).toBe(5);
    expect(poolSize({ kind: 'relative', extra: 1 }, 2)).toBe(3);
    expect(poolSize({ kind: 'relative', extra: 0 }, 0)).toBe(0);
    expect(poolSize({ kind: 'relative', extra: 2 }, 4)).toBe(6);
  });
});

describe('poolIntents', () => {
  it('gives the tutorial two pools of replicas + 1 with the default +1', () => {
    const w = toWorkload(
      'Deployment',
      raw({ replicas: 2, template: template({ 'ipam.spidernet.io/subnets': SUBNETS }) }),
    );
    const r = poolIntents(w);
    expect(
      r.ok && r.value.map((i) => [i.poolName, i.subnet, i.size, i.reclaim, i.ipNumber]),
    ).toEqual([
      ['auto-test-app-v4-eth0-b1a361c7e9df', 'subnet-test-ens192', 3, true, '+1'],
      ['auto-test-app-v4-net1-b1a361c7e9df', 'subnet-test-ens224', 3, true, '+1'],
      ['auto-test-app-v6-net1-b1a361c7e9df', 'v6-net', 3, true, '+1'],
    ]);
  });

  it('reads ippool-ip-number and ippool-reclaim', () => {
    const w = toWorkload(
      'StatefulSet',
      raw({
        replicas: 2,
        template: template({
          'ipam.spidernet.io/subnet': '{"ipv4":["s4"]}',
          'ipam.spidernet.io/ippool-ip-number': '5',
          'ipam.spidernet.io/ippool-reclaim': 'false',
        }),
      }),
    );
    const r = poolIntents(w);
    expect(r.ok && r.value).toEqual([
      {
        poolName: 'auto-test-app-v4-eth0-b1a361c7e9df',
        ifName: 'eth0',
        family: 4,
        subnet: 's4',
        size: 5,
        reclaim: false,
        ipNumber: '5',
      },
    ]);
  });

  it('wants nothing without subnet annotations, on the host network, or under a parent', () => {
    const none = toWorkload('Deployment', raw({ template: template({}) }));
    expect(poolIntents(none)).toEqual({ ok: true, value: [] });
    const host = toWorkload(
      'Deployment',
      raw({ template: template({ 'ipam.spidernet.io/subnets': SUBNETS }, true) }),
    );
    expect(poolIntents(host)).toEqual({ ok: true, value: [] });
  });

  it('names what is wrong with a bad annotation', () => {
    const w = toWorkload(
      'Deployment',
      raw({
        template: template({
          'ipam.spidernet.io/subnets': SUBNETS,
          'ipam.spidernet.io/ippool-ip-number': 'lots',
        }),
      }),
    );
    const r = poolIntents(w);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain('ipam.spidernet.io/ippool-ip-number');
  });
});
