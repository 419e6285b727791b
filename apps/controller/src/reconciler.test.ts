import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { SpiderEndpoint, SpiderIPPool } from '@nicpool/crds';
import type { EventSink } from './events.ts';
import type { PodState } from './gc.ts';
import { createMetrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';
import type { Change, ControllerStore } from './store.ts';
import { toWorkload, type Workload } from './workload.ts';

const UID = '11111111-2222-4333-8444-b1a361c7e9df';

function autoPool(): SpiderIPPool {
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata: {
      name: 'auto-web-v4-eth0-b1a361c7e9df',
      resourceVersion: '5',
      finalizers: ['spiderpool.spidernet.io'],
      labels: {
        'ipam.spidernet.io/owner-application-kind': 'Deployment',
        'ipam.spidernet.io/owner-application-namespace': 'default',
        'ipam.spidernet.io/owner-application-name': 'web',
        'ipam.spidernet.io/owner-application-uid': UID,
        'ipam.spidernet.io/interface': 'eth0',
        'ipam.spidernet.io/ip-version': 'IPv4',
        'ipam.spidernet.io/ippool-reclaim': 'true',
      },
    },
    spec: { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.168.171-10.6.168.173'] },
    status: { totalIPCount: 3, allocatedIPCount: 0 },
  };
}

/** Caches that fill one watch at a time, as a new leader's do. */
class FillingStore {
  poolList: SpiderIPPool[] = [];
  pools(): SpiderIPPool[] {
    return this.poolList;
  }
  workloadList: Workload[] = [];
  synced = false;
  deleted: string[] = [];
  readonly events: EventSink = { emit: () => undefined };
  ready(): boolean {
    return this.synced;
  }
  pool(name: string): SpiderIPPool | undefined {
    return this.poolList.find((p) => p.metadata.name === name);
  }
  autoPoolsOf(kind: string, namespace: string, nameLabel: string): SpiderIPPool[] {
    return this.poolList.filter((p) => {
      const l = p.metadata.labels ?? {};
      return (
        l['ipam.spidernet.io/owner-application-kind'] === kind &&
        l['ipam.spidernet.io/owner-application-namespace'] === namespace &&
        l['ipam.spidernet.io/owner-application-name'] === nameLabel
      );
    });
  }
  workload(kind: string, namespace: string, name: string): Workload | undefined {
    return this.workloadList.find(
      (w) => w.app.kind === kind && w.app.namespace === namespace && w.app.name === name,
    );
  }
  subnets(): [] {
    return [];
  }
  subnet(): undefined {
    return undefined;
  }
  reservedIPs(): [] {
    return [];
  }
  endpoints(): [] {
    return [];
  }
  endpoint(): undefined {
    return undefined;
  }
  workloads(): Workload[] {
    return this.workloadList;
  }
  pod(): undefined {
    return undefined;
  }
  lastGrace(): undefined {
    return undefined;
  }
  async deletePool(name: string): Promise<void> {
    this.deleted.push(name);
  }
  async readPool(name: string): Promise<SpiderIPPool | undefined> {
    return this.pool(name);
  }
  async replacePool(p: SpiderIPPool): Promise<SpiderIPPool> {
    return p;
  }
  async replacePoolStatus(p: SpiderIPPool): Promise<SpiderIPPool> {
    return p;
  }
}

describe('a new leader', () => {
  it('does not reclaim a live workload’s pool seen before the workload list arrives', async () => {
    const store = new FillingStore();
    const r = new Reconciler(
      store as unknown as ControllerStore,
      {
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
        resyncMs: 60_000,
        gcIntervalMs: 60_000,
        gcDelayMs: 0,
      },
      createMetrics(new Registry(), false),
      { info: () => undefined, warn: () => undefined },
    );
    const started = r.start();
    // The pool watch lists first; its events arrive while the workload list is still out.
    store.poolList = [autoPool()];
    const change: Change = {
      kind: 'pool',
      key: autoPool().metadata.name,
      type: 'add',
      labels: autoPool().metadata.labels!,
    };
    r.onChange(change);
    await new Promise((res) => setTimeout(res, 50));
    expect(store.deleted).toEqual([]);
    // Then the Deployment list arrives and every watch has synced.
    store.workloadList = [
      toWorkload('Deployment', {
        metadata: { name: 'web', namespace: 'default', uid: UID },
        spec: {
          replicas: 2,
          template: {
            metadata: {
              annotations: { 'ipam.spidernet.io/subnet': '{"interface":"eth0","ipv4":["s"]}' },
            },
          },
        },
      }),
    ];
    store.synced = true;
    await started;
    await new Promise((res) => setTimeout(res, 300));
    await r.stop();
    expect(store.deleted).toEqual([]);
  });
});

/** A synced store whose state the test sets, counting what the reconciler writes. */
class SteadyStore extends FillingStore {
  override synced = true;
  gone = new Set<string>();
  statusWrites: SpiderIPPool[] = [];
  override async replacePoolStatus(p: SpiderIPPool): Promise<SpiderIPPool> {
    this.statusWrites.push(p);
    this.poolList = this.poolList.map((q) => (q.metadata.name === p.metadata.name ? p : q));
    return p;
  }
  /** Pods seen deleted: grace 0 (force-deleted). */
  override lastGrace(): undefined {
    return undefined;
  }
  async readPod(): Promise<undefined> {
    return undefined;
  }
  podList: Record<string, PodState> = {};
  override pod = ((ns: string, name: string) =>
    this.podList[`${ns}/${name}`]) as unknown as () => undefined;
  endpointList: SpiderEndpoint[] = [];
  deletedEndpoints: string[] = [];
  override endpoints(): [] {
    return this.endpointList as unknown as [];
  }
  override endpoint = ((ns: string, name: string) =>
    this.endpointList.find(
      (e) => e.metadata.namespace === ns && e.metadata.name === name,
    )) as unknown as () => undefined;
  async readEndpoint(ns: string, name: string): Promise<SpiderEndpoint | undefined> {
    return this.endpointList.find((e) => e.metadata.namespace === ns && e.metadata.name === name);
  }
  async deleteEndpoint(ns: string, name: string): Promise<void> {
    this.deletedEndpoints.push(`${ns}/${name}`);
    this.endpointList = this.endpointList.filter(
      (e) => e.metadata.namespace !== ns || e.metadata.name !== name,
    );
  }
}

const OPTS = {
  retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
  resyncMs: 600_000,
  gcIntervalMs: 600_000,
  gcDelayMs: 0,
};

function subject(store: FillingStore) {
  const metrics = createMetrics(new Registry(), false);
  const r = new Reconciler(store as unknown as ControllerStore, OPTS, metrics, {
    info: () => undefined,
    warn: () => undefined,
  });
  /** Reconciles handled so far, by kind. */
  const handled = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const v of (await metrics.reconciles.get()).values)
      if (v.labels.result === 'ok') out[String(v.labels.kind)] = v.value;
    return out;
  };
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 100 && r.pending > 0; i++) await new Promise((res) => setTimeout(res, 5));
    await new Promise((res) => setTimeout(res, 50));
  };
  const delta = async (act: () => void): Promise<Record<string, number>> => {
    await settle();
    const before = await handled();
    act();
    await settle();
    const after = await handled();
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(after))
      if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
    return out;
  };
  return { r, delta, settle, handled };
}

const withRecords = (
  p: SpiderIPPool,
  rv: string,
  records: Record<string, { pod: string; podUid: string }>,
): SpiderIPPool => ({
  ...p,
  metadata: { ...p.metadata, resourceVersion: rv },
  status: {
    ...p.status,
    allocatedIPs: JSON.stringify(records),
    allocatedIPCount: Object.keys(records).length,
  },
});

const subnetLabelled = (): SpiderIPPool => {
  const p = autoPool();
  return {
    ...p,
    metadata: {
      ...p.metadata,
      labels: { ...p.metadata.labels, 'ipam.spidernet.io/owner-spider-subnet': 'subnet-a' },
    },
  };
};

const deployment = (name: string, uid: string, subnet: string): Workload =>
  toWorkload('Deployment', {
    metadata: { name, namespace: 'default', uid },
    spec: {
      replicas: 1,
      template: {
        metadata: {
          annotations: {
            'ipam.spidernet.io/subnet': JSON.stringify({ interface: 'eth0', ipv4: [subnet] }),
          },
        },
      },
    },
  });

describe('what an event queues (review #8)', () => {
  it('a pool status write queues that pool’s counters only: no GC, workload or subnet pass', async () => {
    const store = new SteadyStore();
    store.poolList = [subnetLabelled()];
    store.workloadList = [deployment('web', UID, 'subnet-a')];
    const { r, delta } = subject(store);
    await r.start();
    // An allocator writes a record into the pool: status only.
    const d = await delta(() => {
      store.poolList = [
        withRecords(subnetLabelled(), '6', {
          '10.6.168.171': { pod: 'default/web-1', podUid: 'p1' },
        }),
      ];
      r.onChange({
        kind: 'pool',
        key: autoPool().metadata.name,
        type: 'update',
        labels: subnetLabelled().metadata.labels!,
      });
    });
    await r.stop();
    expect(d).toEqual({ pool: 1 });
  });

  it('a status write releasing a record outside the spec queues the subnet (its claim narrows)', async () => {
    const store = new SteadyStore();
    const outside = withRecords(subnetLabelled(), '6', {
      '10.6.168.180': { pod: 'default/web-1', podUid: 'p1' },
    });
    store.poolList = [outside];
    store.workloadList = [deployment('web', UID, 'subnet-a')];
    const { r, delta } = subject(store);
    await r.start();
    const d = await delta(() => {
      store.poolList = [withRecords(subnetLabelled(), '7', {})];
      r.onChange({
        kind: 'pool',
        key: autoPool().metadata.name,
        type: 'update',
        labels: subnetLabelled().metadata.labels!,
      });
    });
    await r.stop();
    expect(d).toEqual({ pool: 1, subnet: 1 });
  });

  it('a pool spec or label change does queue its subnet and its workload', async () => {
    const store = new SteadyStore();
    store.poolList = [subnetLabelled()];
    store.workloadList = [deployment('web', UID, 'subnet-a')];
    const { r, delta } = subject(store);
    await r.start();
    const d = await delta(() => {
      const p = subnetLabelled();
      store.poolList = [
        {
          ...p,
          metadata: { ...p.metadata, resourceVersion: '7' },
          spec: { ...p.spec, ips: ['10.6.168.171-10.6.168.174'] },
        },
      ];
      r.onChange({
        kind: 'pool',
        key: p.metadata.name,
        type: 'update',
        labels: p.metadata.labels!,
      });
    });
    await r.stop();
    expect(d).toEqual({ pool: 1, subnet: 1, workload: 1 });
  });

  it('a subnet event brings back only the workloads waiting for that subnet', async () => {
    const store = new SteadyStore();
    // Neither subnet exists yet: both workloads wait, each for its own.
    store.workloadList = [
      deployment('a', '11111111-2222-4333-8444-00000000000a', 's1'),
      deployment('b', '11111111-2222-4333-8444-00000000000b', 's2'),
    ];
    const { r, delta } = subject(store);
    await r.start();
    const d = await delta(() => r.onChange({ kind: 'subnet', key: 's1', type: 'add' }));
    await r.stop();
    expect(d).toEqual({ subnet: 1, workload: 1 });
  });

  it('a pod delete runs GC over that pod’s records only, and releases them', async () => {
    const store = new SteadyStore();
    store.lastGrace = (() => 0) as unknown as () => undefined;
    const p = withRecords(autoPool(), '6', {
      '10.6.168.171': { pod: 'default/gone', podUid: 'u1' },
      '10.6.168.172': { pod: 'default/other-gone', podUid: 'u2' },
    });
    store.poolList = [p];
    store.workloadList = [deployment('web', UID, 's1')];
    const { r, delta, settle } = subject(store);
    await r.start();
    // Grace 0 and delay 0: the start-up scan releases both at once. Let it, then put both
    // records back, as if a late write had brought them after the scan.
    await settle();
    store.statusWrites = [];
    store.poolList = [
      withRecords(p, '8', {
        '10.6.168.171': { pod: 'default/gone', podUid: 'u1' },
        '10.6.168.172': { pod: 'default/other-gone', podUid: 'u2' },
      }),
    ];
    const d = await delta(() => r.onChange({ kind: 'pod', key: 'default/gone', type: 'delete' }));
    await r.stop();
    // Its pass, and one more for its endpoint once the record is gone.
    expect(d).toMatchObject({ gc: 2 });
    // Only the deleted pod's record goes; the other waits for the periodic scan.
    expect(
      store.statusWrites.map((w) => JSON.parse(w.status?.allocatedIPs ?? '{}') as unknown),
    ).toEqual([{ '10.6.168.172': { pod: 'default/other-gone', podUid: 'u2' } }]);
  });

  it('after releasing a gone pod’s records, deletes its orphaned endpoint without waiting for the full scan', async () => {
    const store = new SteadyStore();
    store.lastGrace = (() => 0) as unknown as () => undefined;
    store.workloadList = [deployment('web', UID, 's1')];
    const { r, delta, settle } = subject(store);
    await r.start();
    await settle();
    // The pod is deleted (no CNI DEL): its record and its endpoint are left.
    store.poolList = [
      withRecords(autoPool(), '8', { '10.6.168.171': { pod: 'default/gone', podUid: 'u1' } }),
    ];
    store.endpointList = [
      {
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderEndpoint',
        metadata: { name: 'gone', namespace: 'default', uid: 'e1', resourceVersion: '3' },
        status: { current: { uid: 'u1', node: 'n', ips: [] } },
      },
    ];
    await delta(() => r.onChange({ kind: 'pod', key: 'default/gone', type: 'delete' }));
    await r.stop();
    expect(store.statusWrites).toHaveLength(1);
    expect(store.deletedEndpoints).toEqual(['default/gone']);
  });

  it('a resync decodes no pool whose object has not changed', async () => {
    const store = new SteadyStore();
    const p = withRecords(autoPool(), '6', {
      '10.6.168.171': { pod: 'default/web-1', podUid: 'p1' },
    });
    const text = p.status!.allocatedIPs;
    let reads = 0;
    const status = { ...p.status };
    Object.defineProperty(status, 'allocatedIPs', {
      get: () => {
        reads++;
        return text;
      },
      enumerable: true,
    });
    store.poolList = [{ ...p, status }];
    store.workloadList = [deployment('web', UID, 's1')];
    store.podList = { 'default/web-1': { uid: 'p1', finished: false, graceSeconds: 30 } };
    const { r, settle } = subject(store);
    await r.start();
    await settle();
    const afterStart = reads;
    r.resyncAll();
    await settle();
    r.resyncAll();
    await settle();
    await r.stop();
    expect(afterStart).toBeGreaterThan(0);
    expect(reads).toBe(afterStart);
  });

  it('holds work while a cache is not synced (a watch down too long), and does it once synced', async () => {
    const store = new SteadyStore();
    store.workloadList = [deployment('a', '11111111-2222-4333-8444-00000000000a', 's1')];
    const { r, delta, handled } = subject(store);
    await r.start();
    store.synced = false;
    const d = await delta(() =>
      r.onChange({ kind: 'workload', key: 'Deployment/default/a', type: 'update' }),
    );
    expect(d).toEqual({});
    const before = (await handled()).workload ?? 0;
    store.synced = true;
    await new Promise((res) => setTimeout(res, 1500));
    const after = (await handled()).workload ?? 0;
    await r.stop();
    expect(after - before).toBe(1);
  });
});

describe('a subnet whose free addresses cannot be judged (review #16)', () => {
  it('tells the workload with a SubnetUnreadable Warning event naming the unreadable pool, and creates no pool', async () => {
    const subnet = {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderSubnet',
      metadata: { name: 'subnet-a', resourceVersion: '1' },
      spec: { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.168.171-10.6.168.180'] },
      status: { totalIPCount: 10, allocatedIPCount: 0 },
    };
    const broken: SpiderIPPool = {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: 'manual-broken', resourceVersion: '2' },
      spec: { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.168.x'] },
    };
    const emitted: { reason: string; message: string }[] = [];
    class UnreadableSubnetStore extends SteadyStore {
      override readonly events: EventSink = {
        emit: (_target, _type, reason, message) => {
          emitted.push({ reason, message });
        },
      };
      created: string[] = [];
      override subnets = (() => [subnet]) as unknown as () => [];
      override subnet = ((name: string) =>
        name === 'subnet-a' ? subnet : undefined) as unknown as () => undefined;
      async readSubnet(name: string): Promise<unknown> {
        return name === 'subnet-a' ? subnet : undefined;
      }
      async replaceSubnetStatus(s: unknown): Promise<unknown> {
        return s;
      }
      async createPool(p: SpiderIPPool): Promise<SpiderIPPool> {
        this.created.push(p.metadata.name);
        return p;
      }
    }
    const store = new UnreadableSubnetStore();
    store.poolList = [broken];
    store.workloadList = [deployment('web', UID, 'subnet-a')];
    const { r, settle } = subject(store);
    await r.start();
    r.onChange({ kind: 'subnet', key: 'subnet-a', type: 'add' });
    await settle();
    await r.stop();
    expect(store.created).toEqual([]);
    const told = emitted.filter((e) => e.reason === 'SubnetUnreadable');
    expect(told.length).toBeGreaterThan(0);
    expect(told[0]!.message).toContain('manual-broken');
  });
});

describe('a leaked record across controller restarts', () => {
  // The soak found it: with the controller killed or its Lease lost about every 33 s, a
  // record of a pod gone before the process started waited the default 30 s grace from
  // each new process's own first sighting, and stayed held for 30 minutes.
  const leaked = (): SteadyStore => {
    const store = new SteadyStore();
    store.poolList = [
      withRecords(autoPool(), '6', { '10.6.168.171': { pod: 'default/gone', podUid: 'u1' } }),
    ];
    store.workloadList = [deployment('web', UID, 's1')];
    return store;
  };
  const released = (s: SteadyStore): unknown[] =>
    s.statusWrites.map((w) => JSON.parse(w.status?.allocatedIPs ?? '{}') as unknown);

  it('a new process goes on from the previous leader’s first sighting, handed over in the Lease note', async () => {
    // The first process sees the candidate and dies before its grace is out.
    const first = leaked();
    const a = subject(first);
    await a.r.start();
    await a.settle();
    expect(released(first)).toEqual([]);
    const note = a.r.gcNote();
    await a.r.stop();
    expect(note).toBeDefined();
    // Its sighting, as if made 31 s ago (grace 30 s + delay 0 are out by now).
    const seen = (JSON.parse(note!) as { firstSeen: Record<string, number> }).firstSeen;
    expect(Object.keys(seen)).toEqual([`${autoPool().metadata.name}/10.6.168.171/u1`]);
    const aged = JSON.stringify({
      firstSeen: Object.fromEntries(Object.entries(seen).map(([k, at]) => [k, at - 31_000])),
    });

    // Without the note, the next process would start the clock again: nothing released.
    const without = leaked();
    const b = subject(without);
    await b.r.start();
    await b.settle();
    await b.r.stop();
    expect(released(without)).toEqual([]);

    // With it, the start-up scan releases the record at once.
    const withNote = leaked();
    const metrics = createMetrics(new Registry(), false);
    const c = new Reconciler(
      withNote as unknown as ControllerStore,
      { ...OPTS, inheritedGcNote: aged },
      metrics,
      { info: () => undefined, warn: () => undefined },
    );
    await c.start();
    for (let i = 0; i < 100 && c.pending > 0; i++) await new Promise((res) => setTimeout(res, 5));
    await new Promise((res) => setTimeout(res, 50));
    await c.stop();
    expect(released(withNote)).toEqual([{}]);
  });
});
