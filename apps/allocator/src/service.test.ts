/**
 * AllocatorService against the in-memory store: the races and hostile states of the
 * adversarial review (../shared/review/2026-12-adversarial.md), one describe per finding.
 */
import { describe, expect, it } from '@jest/globals';
import { decodeAllocatedIPs, type SpiderIPPool } from '@nicpool/crds';
import type { AddRequest, DelRequest } from '@nicpool/wire';
import { MemoryStore } from './memory-store.ts';
import { createMetrics } from './metrics.ts';
import { AllocatorService } from './service.ts';
import type { PodObject } from './store.ts';
import { pool } from '../test/fixtures.ts';

const RETRY = { attempts: 5, baseDelayMs: 1, maxDelayMs: 2 } as const;

function service(store: MemoryStore, nodeName: string): AllocatorService {
  return new AllocatorService(
    store,
    { nodeName, retry: RETRY, maxRecordsPerPool: 5000, autoPoolWaitMs: 50 },
    createMetrics(false),
  );
}

function podOf(
  name: string,
  uid: string,
  nodeName: string,
  extra: { annotations?: Record<string, string>; statefulSet?: string } = {},
): PodObject {
  return {
    metadata: {
      name,
      namespace: 'default',
      uid,
      annotations: extra.annotations ?? { 'ipam.spidernet.io/ippool': '{"ipv4":["p"]}' },
      ...(extra.statefulSet === undefined
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'StatefulSet',
                name: extra.statefulSet,
                uid: `sts-${extra.statefulSet}`,
                controller: true,
              },
            ],
          }),
    },
    spec: { nodeName },
    status: { phase: 'Running' },
  };
}

const req = (name: string, uid: string, ifName = 'eth0'): AddRequest & DelRequest => ({
  containerID: `c-${uid}`,
  ifName,
  netNamespace: '/var/run/netns/x',
  podNamespace: 'default',
  podName: name,
  podUID: uid,
});

function holders(p: SpiderIPPool | undefined): Record<string, string> {
  const d = decodeAllocatedIPs(p?.status?.allocatedIPs);
  if (!d.ok) throw new Error(d.error.message);
  return Object.fromEntries([...d.value].map(([ip, r]) => [ip, r.podUid]));
}

describe('#2 a late DEL never drops the endpoint of the pod that replaced it', () => {
  it("node B's ADD for the new db (u2) lands right after A's fresh GET: u2's endpoint survives", async () => {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    const a = service(store, 'node-a');
    const b = service(store, 'node-b');
    store.podsByKey.set('default/db', podOf('db', 'u1', 'node-a'));
    await a.add(req('db', 'u1'));
    // db (u1) is deleted; the StatefulSet-like re-creation db (u2) is scheduled to node B.
    store.podsByKey.set('default/db', podOf('db', 'u2', 'node-b'));

    const get = store.getEndpoint.bind(store);
    let raced = false;
    store.getEndpoint = async (ns, name, fresh) => {
      const ep = await get(ns, name, fresh);
      if (fresh === true && !raced) {
        raced = true;
        // A has read the endpoint (still u1's); B's ADD replaces it before A writes.
        await b.add(req('db', 'u2'));
      }
      return ep;
    };
    await a.del(req('db', 'u1'));

    const ep = store.endpoints.get('default/db');
    expect(raced).toBe(true);
    expect(ep?.status?.current?.uid).toBe('u2');
    expect(ep?.metadata.finalizers).toContain('spiderpool.spidernet.io');
    expect(Object.values(holders(store.poolsByName.get('p')))).toEqual(['u2']);
    await expect(b.check(req('db', 'u2'))).resolves.toBeUndefined();
  });

  it("B's ADD between A's finalizer write and A's delete: the delete's preconditions keep u2's endpoint", async () => {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    const a = service(store, 'node-a');
    const b = service(store, 'node-b');
    store.podsByKey.set('default/db', podOf('db', 'u1', 'node-a'));
    await a.add(req('db', 'u1'));
    store.podsByKey.set('default/db', podOf('db', 'u2', 'node-b'));

    const replace = store.replaceEndpoint.bind(store);
    let raced = false;
    store.replaceEndpoint = async (ep) => {
      const written = await replace(ep);
      if (!raced && !(ep.metadata.finalizers ?? []).includes('spiderpool.spidernet.io')) {
        raced = true;
        await b.add(req('db', 'u2'));
      }
      return written;
    };
    await a.del(req('db', 'u1'));

    expect(raced).toBe(true);
    expect(store.endpoints.get('default/db')?.status?.current?.uid).toBe('u2');
    await expect(b.check(req('db', 'u2'))).resolves.toBeUndefined();
  });

  it('the endpoint vanishes between B’s read and B’s replace (A’s last finalizer): B re-reads and creates it', async () => {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    const a = service(store, 'node-a');
    const b = service(store, 'node-b');
    store.podsByKey.set('default/db', podOf('db', 'u1', 'node-a'));
    await a.add(req('db', 'u1'));
    store.podsByKey.set('default/db', podOf('db', 'u2', 'node-b'));
    const replace = store.replaceEndpoint.bind(store);
    store.replaceEndpoint = async (ep) => {
      store.replaceEndpoint = replace;
      store.endpoints.delete('default/db'); // a Terminating object losing its last finalizer
      return replace(ep);
    };
    await b.add(req('db', 'u2'));
    expect(store.endpoints.get('default/db')?.status?.current?.uid).toBe('u2');
  });

  it('MemoryStore refuses a delete whose uid or resourceVersion precondition is stale (409)', async () => {
    const store = new MemoryStore();
    const ep = await store.createEndpoint({
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderEndpoint',
      metadata: { name: 'db', namespace: 'default' },
    });
    const uid = ep.metadata.uid!;
    const rv = ep.metadata.resourceVersion!;
    await expect(
      store.deleteEndpoint('default', 'db', { uid: 'someone-else', resourceVersion: rv }),
    ).rejects.toMatchObject({ code: 409 });
    await expect(
      store.deleteEndpoint('default', 'db', { uid, resourceVersion: `${rv}0` }),
    ).rejects.toMatchObject({ code: 409 });
    expect(store.endpoints.has('default/db')).toBe(true);
    await store.deleteEndpoint('default', 'db', { uid, resourceVersion: rv });
    expect(store.endpoints.has('default/db')).toBe(false);
  });
});

describe('#3 a DEL without K8S_POD_UID never releases what may be a successor’s', () => {
  it("podUID '', GET pod → 404: the endpoint and records of u2 both survive", async () => {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    const a = service(store, 'node-a');
    store.podsByKey.set('default/db', podOf('db', 'u2', 'node-a'));
    await a.add(req('db', 'u2'));
    // The API server no longer (or not yet) answers for db; the DEL carries no pod UID.
    store.podsByKey.delete('default/db');
    const { warnings } = await a.del(req('db', ''));
    expect(warnings).toEqual([expect.stringMatching(/carries no K8S_POD_UID: released nothing/)]);
    expect(store.endpoints.get('default/db')?.status?.current?.uid).toBe('u2');
    expect(Object.values(holders(store.poolsByName.get('p')))).toEqual(['u2']);
  });

  it("podUID '' of a terminating pod: nothing released either (the sandbox may be an older pod's)", async () => {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    const a = service(store, 'node-a');
    const pod = podOf('db', 'u2', 'node-a');
    store.podsByKey.set('default/db', pod);
    await a.add(req('db', 'u2'));
    store.podsByKey.set('default/db', {
      ...pod,
      metadata: { ...pod.metadata, deletionTimestamp: '2026-12-01T10:00:00Z' },
    });
    await a.del(req('db', ''));
    expect(Object.values(holders(store.poolsByName.get('p')))).toEqual(['u2']);
    // The DEL that carries the UID releases as before.
    await a.del(req('db', 'u2'));
    expect(holders(store.poolsByName.get('p'))).toEqual({});
    expect(store.endpoints.size).toBe(0);
  });
});

describe('#7 DEL looks up the pod’s records by UID, not by decoding every pool', () => {
  /** 100 pools × 5000 records of other pods; `db` (u1) holds one address in p7 and p42. */
  function bigStore(): { store: MemoryStore; reads: Set<string> } {
    const store = new MemoryStore();
    const reads = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const o: Record<string, { pod: string; podUid: string; interface: string }> = {};
      for (let j = 0; j < 5000; j++)
        o[`10.${i}.${j >> 8}.${j & 255}`] = {
          pod: `big/p${i}-${j}`,
          podUid: `u-${i}-${j}`,
          interface: 'eth0',
        };
      if (i === 7 || i === 42)
        o[`10.${i}.200.1`] = { pod: 'default/db', podUid: 'u1', interface: 'eth0' };
      const name = `p${i}`;
      // Straight into the map (addPool's copy of 100 × 5000 records only slows the setup).
      store.poolsByName.set(
        name,
        pool(
          name,
          { subnet: `10.${i}.0.0/16`, ips: [`10.${i}.0.0-10.${i}.255.255`] },
          { status: { allocatedIPs: JSON.stringify(o), allocatedIPCount: Object.keys(o).length } },
        ),
      );
      // Count who reads a pool's records from here on (every decode starts with this read).
      const stored = store.poolsByName.get(name)!;
      const text = stored.status!.allocatedIPs;
      Object.defineProperty(stored.status, 'allocatedIPs', {
        enumerable: true,
        get: () => {
          reads.add(name);
          return text;
        },
      });
    }
    return { store, reads };
  }

  it('100 pools × 5000 records: DEL reads only the two pools the pod holds, within 1.5 s', async () => {
    const { store, reads } = bigStore();
    const a = service(store, 'node-a');
    reads.clear();
    const started = performance.now();
    await a.del(req('db', 'u1'));
    const ms = performance.now() - started;
    expect([...reads].sort()).toEqual(['p42', 'p7']);
    expect(Object.values(holders(store.poolsByName.get('p7')))).not.toContain('u1');
    expect(Object.values(holders(store.poolsByName.get('p42')))).not.toContain('u1');
    expect(store.poolsByName.get('p42')?.status?.allocatedIPCount).toBe(5000);
    // Generous (2 shared cores): the two pools' own decode and encode dominate (~40 ms idle);
    // decoding all 100 pools took 5.5 s here before the index.
    expect(ms).toBeLessThan(1500);
  }, 60_000);
});

describe('#15 one unreadable pool status blocks neither DEL nor GC', () => {
  const dualPod = (name: string, uid: string): PodObject =>
    podOf(name, uid, 'node-a', {
      annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["p"],"ipv6":["v6"]}' },
    });
  function setup(): {
    store: MemoryStore;
    metrics: ReturnType<typeof createMetrics>;
    a: AllocatorService;
  } {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    store.addPool(pool('v6', { subnet: 'fd00:6::/64', ips: ['fd00:6::10-fd00:6::20'] }));
    const metrics = createMetrics(false);
    const a = new AllocatorService(
      store,
      { nodeName: 'node-a', retry: RETRY, maxRecordsPerPool: 5000 },
      metrics,
    );
    return { store, metrics, a };
  }
  const corrupt = (store: MemoryStore, name: string): void => {
    const p = store.poolsByName.get(name)!;
    store.poolsByName.set(name, { ...p, status: { ...p.status, allocatedIPs: '{"10.6.0.1":' } });
  };
  const skips = async (m: ReturnType<typeof createMetrics>): Promise<number> =>
    (await m.unreadablePoolSkips.get()).values.reduce((n, v) => n + v.value, 0);

  it('DEL releases every other pool, never writes the corrupt status, warns and counts', async () => {
    const { store, metrics, a } = setup();
    store.podsByKey.set('default/db', dualPod('db', 'u1'));
    await a.add(req('db', 'u1'));
    corrupt(store, 'p');
    store.podsByKey.delete('default/db');
    const writes = store.writes;

    const { warnings } = await a.del(req('db', 'u1'));

    expect(warnings).toEqual([expect.stringMatching(/pool p: .*not valid JSON.*left as it is/)]);
    expect(await skips(metrics)).toBe(1);
    expect(holders(store.poolsByName.get('v6'))).toEqual({});
    expect(store.poolsByName.get('p')?.status?.allocatedIPs).toBe('{"10.6.0.1":');
    expect(store.writes).toBe(writes + 1); // v6 only
    expect(store.endpoints.size).toBe(0);
  });

  it('ADD skips a candidate pool with an unreadable status and serves from the next', async () => {
    const { store, metrics, a } = setup();
    store.addPool(pool('q', { subnet: '10.7.0.0/16', ips: ['10.7.0.1-10.7.0.9'] }));
    corrupt(store, 'p');
    store.podsByKey.set(
      'default/db',
      podOf('db', 'u1', 'node-a', {
        annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["p","q"]}' },
      }),
    );
    const r = await a.add(req('db', 'u1'));
    expect(r.ips.map((i) => `${i.ipPool} ${i.address}`)).toEqual(['q 10.7.0.1/16']);
    expect(await skips(metrics)).toBe(1);
  });

  it('GC goes on past the pod whose pool is unreadable and releases the others', async () => {
    const { store, a } = setup();
    store.podsByKey.set('default/db', dualPod('db', 'u1'));
    store.podsByKey.set('default/web', podOf('web', 'u2', 'node-a'));
    await a.add(req('db', 'u1'));
    await a.add(req('web', 'u2'));
    corrupt(store, 'v6');
    store.podsByKey.clear();

    const { released, warnings } = await a.gc();
    expect(released.sort()).toEqual(['default/db', 'default/web']);
    expect(warnings).toEqual([
      expect.stringMatching(/^pool v6: .*left as it is/),
      expect.stringMatching(/^pool v6: .*not searched for records of pod default\/web/),
    ]);
    expect(holders(store.poolsByName.get('p'))).toEqual({});
  });
});

describe('#10 reuse looks in every candidate pool before allocating anywhere', () => {
  function setup(): { store: MemoryStore; a: AllocatorService } {
    const store = new MemoryStore();
    store.addPool(pool('a', { subnet: '10.6.0.0/16', ips: ['10.6.0.1'] }));
    store.addPool(pool('b', { subnet: '10.7.0.0/16', ips: ['10.7.0.1-10.7.0.9'] }));
    const a = service(store, 'node-a');
    store.podsByKey.set(
      'default/filler',
      podOf('filler', 'u0', 'node-a', {
        annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["a"]}' },
      }),
    );
    return { store, a };
  }
  const annotations = { 'ipam.spidernet.io/ippool': '{"ipv4":["a","b"]}' };
  const freeA = async (store: MemoryStore, a: AllocatorService): Promise<void> => {
    store.podsByKey.delete('default/filler');
    await a.del(req('filler', 'u0'));
    expect(holders(store.poolsByName.get('a'))).toEqual({});
  };

  it('a StatefulSet pod that first got pool b (a was full) gets b again after re-creation', async () => {
    const { store, a } = setup();
    await a.add(req('filler', 'u0'));
    store.statefulSets.set('default/web', { replicas: 1, ordinalsStart: 0, deleting: false });
    store.podsByKey.set(
      'default/web-0',
      podOf('web-0', 'u1', 'node-a', { annotations, statefulSet: 'web' }),
    );
    expect((await a.add(req('web-0', 'u1'))).ips[0]?.address).toBe('10.7.0.1/16');
    await freeA(store, a);
    // web-0 is deleted (its addresses stay: ordinal 0 < replicas 1) and re-created as u2.
    store.podsByKey.delete('default/web-0');
    await a.del(req('web-0', 'u1'));
    store.podsByKey.set(
      'default/web-0',
      podOf('web-0', 'u2', 'node-a', { annotations, statefulSet: 'web' }),
    );

    expect((await a.add(req('web-0', 'u2'))).ips[0]?.address).toBe('10.7.0.1/16');
    expect(holders(store.poolsByName.get('a'))).toEqual({});
    expect(holders(store.poolsByName.get('b'))).toEqual({ '10.7.0.1': 'u2' });
  });

  it('a crash between the pool write and the endpoint write: the next ADD finds the record in b', async () => {
    const { store, a } = setup();
    await a.add(req('filler', 'u0'));
    store.podsByKey.set('default/db', podOf('db', 'u1', 'node-a', { annotations }));
    const create = store.createEndpoint.bind(store);
    store.createEndpoint = () =>
      Promise.reject(Object.assign(new Error('connection reset'), { code: 503 }));
    await expect(a.add(req('db', 'u1'))).rejects.toMatchObject({ code: 'API_UNAVAILABLE' });
    store.createEndpoint = create;
    expect(holders(store.poolsByName.get('b'))).toEqual({ '10.7.0.1': 'u1' });
    await freeA(store, a);

    expect((await a.add(req('db', 'u1'))).ips[0]?.address).toBe('10.7.0.1/16');
    expect(holders(store.poolsByName.get('a'))).toEqual({});
    expect(holders(store.poolsByName.get('b'))).toEqual({ '10.7.0.1': 'u1' });
  });
});

describe('GC reads (review #19)', () => {
  it('two API reads per endpoint of this node, and other nodes’ endpoints are not listed', async () => {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    const a = service(store, 'node-a');
    const b = service(store, 'node-b');
    store.podsByKey.set('default/db', podOf('db', 'u1', 'node-a'));
    store.podsByKey.set('default/web', podOf('web', 'u2', 'node-b'));
    await a.add(req('db', 'u1'));
    await b.add(req('web', 'u2'));
    store.podsByKey.clear();
    let reads = 0;
    const [getPod, getEndpoint] = [store.getPod.bind(store), store.getEndpoint.bind(store)];
    store.getPod = (ns, name) => (reads++, getPod(ns, name));
    store.getEndpoint = (ns, name, fresh) => (reads++, getEndpoint(ns, name, fresh));
    const listed: string[] = [];
    const list = store.listEndpoints.bind(store);
    store.listEndpoints = async (node) => {
      const eps = await list(node);
      listed.push(...eps.map((e) => e.metadata.name));
      return eps;
    };

    expect((await a.gc()).released).toEqual(['default/db']);
    expect(listed).toEqual(['db']);
    expect(reads).toBe(2);
    expect(store.endpoints.has('default/web')).toBe(true);
  });
});

describe('StatefulSet DEL (review #20)', () => {
  async function added(
    name: string,
    sts: { replicas: number; ordinalsStart: number; deleting: boolean },
  ): Promise<{ store: MemoryStore; a: AllocatorService }> {
    const store = new MemoryStore();
    store.addPool(pool('p', { subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.9'] }));
    const a = service(store, 'node-a');
    store.statefulSets.set('default/web', sts);
    store.podsByKey.set(`default/${name}`, podOf(name, 'u1', 'node-a', { statefulSet: 'web' }));
    await a.add(req(name, 'u1'));
    store.podsByKey.delete(`default/${name}`);
    await a.del(req(name, 'u1'));
    return { store, a };
  }

  it('spec.ordinals.start: web-6 of start 5 × 2 replicas keeps its address; web-1 does not', async () => {
    const kept = await added('web-6', { replicas: 2, ordinalsStart: 5, deleting: false });
    expect(Object.values(holders(kept.store.poolsByName.get('p')))).toEqual(['u1']);
    const gone = await added('web-1', { replicas: 2, ordinalsStart: 5, deleting: false });
    expect(holders(gone.store.poolsByName.get('p'))).toEqual({});
  });

  it('a StatefulSet being deleted (foreground) re-creates nothing: its pods’ addresses go', async () => {
    const { store } = await added('web-0', { replicas: 3, ordinalsStart: 0, deleting: true });
    expect(holders(store.poolsByName.get('p'))).toEqual({});
    expect(store.endpoints.size).toBe(0);
  });
});

describe('auto-pools by workload UID (review #17, allocator side)', () => {
  const autoPool = (name: string, uid: string, ips: string): SpiderIPPool => {
    const p = pool(name, {
      subnet: '10.6.0.0/16',
      ips: [ips],
      podAffinity: {
        matchLabels: {
          'ipam.spidernet.io/app-api-group': 'apps',
          'ipam.spidernet.io/app-api-version': 'v1',
          'ipam.spidernet.io/app-kind': 'StatefulSet',
          'ipam.spidernet.io/app-namespace': 'default',
          'ipam.spidernet.io/app-name': 'web',
        },
      },
    });
    p.metadata.labels = {
      'ipam.spidernet.io/owner-application-kind': 'StatefulSet',
      'ipam.spidernet.io/owner-application-namespace': 'default',
      'ipam.spidernet.io/owner-application-name': 'web',
      'ipam.spidernet.io/owner-application-uid': uid,
      'ipam.spidernet.io/interface': 'eth0',
      'ipam.spidernet.io/ip-version': 'IPv4',
    };
    return p;
  };

  it('a StatefulSet pod is served by the pool of its own StatefulSet object, not a forged namesake', async () => {
    const store = new MemoryStore();
    // Sorted first, same kind/namespace/name labels, another owner UID.
    store.addPool(autoPool('auto-a-forged', 'someone-else', '10.6.9.1'));
    store.addPool(autoPool('auto-web-v4-eth0-1234', 'sts-web', '10.6.0.1'));
    const a = service(store, 'node-a');
    store.podsByKey.set(
      'default/web-0',
      podOf('web-0', 'u1', 'node-a', {
        statefulSet: 'web',
        annotations: { 'ipam.spidernet.io/subnet': '{"ipv4":["subnet-a"]}' },
      }),
    );
    const r = await a.add(req('web-0', 'u1'));
    expect(r.ips.map((i) => `${i.ipPool} ${i.address}`)).toEqual([
      'auto-web-v4-eth0-1234 10.6.0.1/16',
    ]);
  });
  const deploymentPool = (name: string, uid: string, ips: string): SpiderIPPool => {
    const p = autoPool(name, uid, ips);
    p.spec.podAffinity!.matchLabels!['ipam.spidernet.io/app-kind'] = 'Deployment';
    p.metadata.labels!['ipam.spidernet.io/owner-application-kind'] = 'Deployment';
    return p;
  };
  const deploymentPod = (name: string, uid: string): PodObject => {
    const p = podOf(name, uid, 'node-a', {
      annotations: { 'ipam.spidernet.io/subnet': '{"ipv4":["subnet-a"]}' },
    });
    return {
      ...p,
      metadata: {
        ...p.metadata,
        labels: { 'pod-template-hash': '5f9c' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'web-5f9c',
            uid: 'rs-1',
            controller: true,
          },
        ],
      },
    };
  };

  it('a Deployment pod learns its Deployment UID from the ReplicaSet (one read per ReplicaSet) and skips a forged namesake', async () => {
    const store = new MemoryStore();
    store.addPool(deploymentPool('auto-a-forged', 'someone-else', '10.6.9.1'));
    store.addPool(deploymentPool('auto-web-v4-eth0-1234', 'deploy-web', '10.6.0.1-10.6.0.9'));
    store.replicaSetOwners.set('default/web-5f9c', {
      kind: 'Deployment',
      name: 'web',
      uid: 'deploy-web',
    });
    const a = service(store, 'node-a');
    store.podsByKey.set('default/web-5f9c-aaaaa', deploymentPod('web-5f9c-aaaaa', 'u1'));
    store.podsByKey.set('default/web-5f9c-bbbbb', deploymentPod('web-5f9c-bbbbb', 'u2'));
    const r1 = await a.add(req('web-5f9c-aaaaa', 'u1'));
    const r2 = await a.add(req('web-5f9c-bbbbb', 'u2'));
    expect([...r1.ips, ...r2.ips].map((i) => i.ipPool)).toEqual([
      'auto-web-v4-eth0-1234',
      'auto-web-v4-eth0-1234',
    ]);
    expect(store.replicaSetReads).toBe(1);
  });

  it('a ReplicaSet that is gone leaves the pod matched by kind, namespace and name (no UID)', async () => {
    const store = new MemoryStore();
    store.addPool(deploymentPool('auto-web-v4-eth0-1234', 'deploy-web', '10.6.0.1'));
    const a = service(store, 'node-a');
    store.podsByKey.set('default/web-5f9c-aaaaa', deploymentPod('web-5f9c-aaaaa', 'u1'));
    const r = await a.add(req('web-5f9c-aaaaa', 'u1'));
    expect(r.ips.map((i) => i.ipPool)).toEqual(['auto-web-v4-eth0-1234']);
  });
});
