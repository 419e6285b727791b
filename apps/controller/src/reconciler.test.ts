import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { SpiderIPPool } from '@nicpool/crds';
import type { EventSink } from './events.ts';
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
