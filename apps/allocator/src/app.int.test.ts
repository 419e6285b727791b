import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { readAllocatorConfig } from './config.ts';
import { MemoryStore } from './memory-store.ts';
import { createMetrics } from './metrics.ts';
import { AllocatorService } from './service.ts';
import { pool, socketPools, TUTORIAL_IPPOOLS, TUTORIAL_MULTUS } from '../test/fixtures.ts';

function call(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; json: unknown }> {
  return new Promise((res, rej) => {
    // Content-Length always: Node sends DELETE bodies unframed otherwise.
    const headers =
      body === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request({ socketPath, path, method, headers }, (r) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () =>
        res({
          status: r.statusCode ?? 0,
          json: text === '' ? undefined : (JSON.parse(text) as unknown),
        }),
      );
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      // The server may answer (413) and close before it has read an oversized body.
      if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') rej(e);
    });
    req.end(body);
  });
}

describe('allocator over a real Unix socket, in-memory store', () => {
  let dir: string;
  let sock: string;
  let app: FastifyInstance;
  let store: MemoryStore;
  let ready = true;

  const addBody = (ifName: string, uid = 'uid-1', name = 'ippool-test-app-1') =>
    JSON.stringify({
      containerID: 'c1',
      ifName,
      netNamespace: '/var/run/netns/x',
      podNamespace: 'default',
      podName: name,
      podUID: uid,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nicpool-alloc-int-'));
    sock = join(dir, 'spiderpool.sock');
    const config = readAllocatorConfig({
      NODE_NAME: 'node1',
      NICPOOL_SOCKET_PATH: sock,
      NICPOOL_LOG_LEVEL: 'error',
    });
    if (!config.ok) throw new Error(config.error.join('; '));
    store = new MemoryStore();
    const service = new AllocatorService(
      store,
      {
        nodeName: 'node1',
        retry: { attempts: 5, baseDelayMs: 1, maxDelayMs: 5 },
        maxRecordsPerPool: 5000,
        autoPoolWaitMs: 400,
      },
      createMetrics(false),
    );
    app = buildApp(config.value, { service, ready: () => ready });
    await app.listen({ path: sock });
  });
  beforeEach(() => {
    store.poolsByName.clear();
    store.endpoints.clear();
    for (const p of socketPools()) store.addPool(p);
    store.podsByKey.set('default/ippool-test-app-1', {
      metadata: {
        name: 'ippool-test-app-1',
        namespace: 'default',
        uid: 'uid-1',
        annotations: { ...TUTORIAL_MULTUS, 'ipam.spidernet.io/ippools': TUTORIAL_IPPOOLS },
      },
      spec: { nodeName: 'node1' },
      status: { phase: 'Pending' },
    });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ADD eth0 allocates both NICs in one go; ADD net1 is answered from the endpoint', async () => {
    const eth0 = await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'));
    expect(eth0).toEqual({
      status: 200,
      json: {
        ips: [
          {
            version: 4,
            address: '10.6.168.176/16',
            nic: 'eth0',
            ipPool: 'ippool-test-ens192',
            gateway: '10.6.0.1',
          },
        ],
        routes: [
          { ifName: 'eth0', dst: '10.96.0.0/12', gw: '10.6.0.254' },
          { ifName: 'eth0', dst: '0.0.0.0/0', gw: '10.6.0.1' },
        ],
      },
    });
    const writes = store.writes;
    const net1 = await call(sock, 'POST', '/v1/ipam/ip', addBody('net1'));
    expect(net1).toEqual({
      status: 200,
      json: {
        ips: [
          {
            version: 4,
            address: '10.7.168.176/16',
            nic: 'net1',
            ipPool: 'ippool-test-ens224',
            gateway: '10.7.0.1',
          },
        ],
        routes: [],
      },
    });
    expect(store.writes).toBe(writes);
    // Repeating ADD (e.g. after an allocator restart) gives the same answer, no new address.
    expect(await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'))).toEqual(eth0);
    expect((await store.readPool('ippool-test-ens192')).status?.allocatedIPCount).toBe(1);
    expect(
      store.endpoints
        .get('default/ippool-test-app-1')
        ?.status?.current?.ips.map((i) => i.interface),
    ).toEqual(['eth0', 'net1']);
  });

  it('DEL of a live pod keeps its addresses; DEL of a gone pod frees every NIC; DEL again succeeds', async () => {
    await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'));
    expect((await call(sock, 'DELETE', '/v1/ipam/ip', addBody('eth0'))).status).toBe(200);
    expect((await store.readPool('ippool-test-ens224')).status?.allocatedIPCount).toBe(1);
    store.podsByKey.delete('default/ippool-test-app-1');
    expect((await call(sock, 'DELETE', '/v1/ipam/ip', addBody('eth0'))).status).toBe(200);
    expect((await store.readPool('ippool-test-ens192')).status?.allocatedIPCount).toBe(0);
    expect((await store.readPool('ippool-test-ens224')).status?.allocatedIPCount).toBe(0);
    expect(store.endpoints.size).toBe(0);
    expect((await call(sock, 'DELETE', '/v1/ipam/ip', addBody('net1'))).status).toBe(200);
  });

  it('a late DEL carrying another UID frees nothing of the new pod', async () => {
    await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'));
    store.podsByKey.delete('default/ippool-test-app-1');
    expect(
      (await call(sock, 'DELETE', '/v1/ipam/ip', addBody('eth0', 'some-old-uid'))).status,
    ).toBe(200);
    expect((await store.readPool('ippool-test-ens192')).status?.allocatedIPCount).toBe(1);
  });

  it('exhaustion of one NIC pool never drains the other NIC', async () => {
    store.addPool(pool('ippool-test-ens224', { subnet: '10.7.0.1/16', ips: [] }));
    const r = await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'));
    expect(r.status).toBe(422);
    expect(r.json).toEqual({
      code: 'IP_USED_OUT',
      message:
        'no free IPv4 address for net1 of pod default/ippool-test-app-1: pool "ippool-test-ens224" has no free address (0 allocated of 0)',
      retryable: false,
    });
    expect((await store.readPool('ippool-test-ens192')).status?.allocatedIPCount).toBe(1);
  });

  it.each([
    ['not JSON', '{"containerID":', 400, /^Body is not valid JSON|Unexpected|JSON/],
    [
      'missing ifName',
      JSON.stringify({
        containerID: 'c',
        netNamespace: '',
        podNamespace: 'd',
        podName: 'p',
        podUID: 'u',
      }),
      400,
      /ifName/,
    ],
    [
      'ifName too long',
      JSON.stringify({
        containerID: 'c',
        ifName: 'x'.repeat(16),
        netNamespace: '',
        podNamespace: 'd',
        podName: 'p',
        podUID: 'u',
      }),
      400,
      /ifName/,
    ],
    [
      'oversized',
      JSON.stringify({ containerID: 'x'.repeat(70_000) }),
      413,
      /larger than 65536 bytes/,
    ],
  ])('bad input (%s) → %s with a clear message, state untouched', async (_n, body, status, msg) => {
    const before = store.writes;
    const r = await call(sock, 'POST', '/v1/ipam/ip', body);
    expect(r.status).toBe(status);
    expect(r.json).toMatchObject({ code: 'BAD_REQUEST', retryable: false });
    expect((r.json as { message: string }).message).toMatch(msg);
    expect(store.writes).toBe(before);
    expect(store.endpoints.size).toBe(0);
  });

  it('a netconf default pool the webhook would refuse is a BAD_REQUEST naming the field, before any planning', async () => {
    const before = store.writes;
    const started = Date.now();
    const r = await call(
      sock,
      'POST',
      '/v1/ipam/ip',
      JSON.stringify({
        ...(JSON.parse(addBody('eth0')) as object),
        defaultIPv4IPPool: ['ippool-test-ens192', `${'*[a-y0-9-]'.repeat(10)}*z`],
      }),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'BAD_REQUEST', retryable: false });
    expect((r.json as { message: string }).message).toMatch(
      /^invalid request body: \/defaultIPv4IPPool: ipam\.default_ipv4_ippool\[1\]: pool name/,
    );
    expect(store.writes).toBe(before);
    expect(store.endpoints.size).toBe(0);
  });

  it('a pool deleted after the plan is skipped like an exhausted one', async () => {
    store.podsByKey.set('default/ippool-test-app-1', {
      metadata: {
        name: 'ippool-test-app-1',
        namespace: 'default',
        uid: 'uid-1',
        annotations: {
          'ipam.spidernet.io/ippool': '{"ipv4":["ippool-test-ens224","ippool-test-ens192"]}',
        },
      },
    });
    // The cache still lists the pool, the API server no longer has it.
    const gone = store.poolsByName.get('ippool-test-ens224')!;
    const pools = store.pools.bind(store);
    store.pools = () => [...pools(), gone];
    store.poolsByName.delete('ippool-test-ens224');
    try {
      const r = await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'));
      expect(r.status).toBe(200);
      expect((r.json as { ips: { ipPool: string }[] }).ips[0]?.ipPool).toBe('ippool-test-ens192');
    } finally {
      store.pools = pools;
    }
  });

  it('an unknown pod is POD_NOT_FOUND; a stale UID is POD_UID_MISMATCH', async () => {
    expect(
      (await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0', 'uid-1', 'nope'))).json,
    ).toMatchObject({ code: 'POD_NOT_FOUND', retryable: true });
    expect(
      (await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0', 'other-uid'))).json,
    ).toMatchObject({ code: 'POD_UID_MISMATCH' });
  });

  it('health follows cache sync; requests wait for it with a retryable error', async () => {
    expect((await call(sock, 'GET', '/v1/ipam/healthy')).status).toBe(200);
    ready = false;
    expect((await call(sock, 'GET', '/v1/ipam/healthy')).status).toBe(500);
    expect((await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'))).json).toMatchObject({
      code: 'NOT_READY',
      retryable: true,
    });
    ready = true;
  });

  it('GC takes the valid-attachment list of a busy node (2000 attachments, ~150 KB) — not a 413', async () => {
    const validAttachments = Array.from({ length: 2000 }, (_, i) => ({
      containerID: `${'c'.repeat(60)}${i}`,
      ifname: i % 2 === 0 ? 'eth0' : 'net1',
    }));
    const body = JSON.stringify({ validAttachments });
    expect(body.length).toBeGreaterThan(128 * 1024);
    const r = await call(sock, 'POST', '/v1/nicpool/gc', body);
    expect(r).toEqual({ status: 200, json: { released: [] } });
  });

  it('CHECK confirms a recorded attachment and refuses an unknown one', async () => {
    await call(sock, 'POST', '/v1/ipam/ip', addBody('eth0'));
    expect((await call(sock, 'POST', '/v1/nicpool/check', addBody('net1'))).status).toBe(200);
    expect((await call(sock, 'POST', '/v1/nicpool/check', addBody('net2'))).json).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('the socket file is not world-accessible when main sets 0600', () => {
    // main.ts chmods after listen; here we only prove the file is a socket at the path.
    expect(statSync(sock).isSocket()).toBe(true);
  });

  describe('SpiderSubnet auto-pools', () => {
    const autoPool = () => {
      const p = pool('auto-test-app-v4-eth0-b1a361c7e9df', {
        subnet: '10.6.0.1/16',
        ips: ['10.6.168.171-10.6.168.173'],
        gateway: '10.6.0.1',
        podAffinity: {
          matchLabels: {
            'ipam.spidernet.io/app-kind': 'Deployment',
            'ipam.spidernet.io/app-name': 'test-app',
          },
        },
      });
      p.metadata.labels = {
        'ipam.spidernet.io/owner-application-kind': 'Deployment',
        'ipam.spidernet.io/owner-application-namespace': 'default',
        'ipam.spidernet.io/owner-application-name': 'test-app',
        'ipam.spidernet.io/interface': 'eth0',
        'ipam.spidernet.io/ip-version': 'IPv4',
      };
      return p;
    };
    beforeEach(() => {
      store.podsByKey.set('default/test-app-abc-1', {
        metadata: {
          name: 'test-app-abc-1',
          namespace: 'default',
          uid: 'uid-sub',
          labels: { 'pod-template-hash': 'abc' },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: 'test-app-abc',
              uid: 'rs',
              controller: true,
            },
          ],
          annotations: {
            'ipam.spidernet.io/subnets': '[{"interface":"eth0","ipv4":["subnet-test-ens192"]}]',
          },
        },
        spec: { nodeName: 'node1' },
        status: { phase: 'Pending' },
      });
    });

    it('waits for the controller to create the pool, then allocates from it', async () => {
      const pending = call(
        sock,
        'POST',
        '/v1/ipam/ip',
        addBody('eth0', 'uid-sub', 'test-app-abc-1'),
      );
      await new Promise((r) => setTimeout(r, 100));
      store.addPool(autoPool());
      const r = await pending;
      expect(r.status).toBe(200);
      expect((r.json as { ips: { address: string; ipPool: string }[] }).ips[0]).toMatchObject({
        address: '10.6.168.171/16',
        ipPool: 'auto-test-app-v4-eth0-b1a361c7e9df',
      });
    });

    it('only a change to this workload’s auto-pools wakes the waiting ADD (no re-plan per unrelated pool)', async () => {
      const getNamespace = store.getNamespace.bind(store);
      let plans = 0;
      store.getNamespace = (n) => {
        plans++; // once per planning round of an ADD
        return getNamespace(n);
      };
      try {
        const pending = call(
          sock,
          'POST',
          '/v1/ipam/ip',
          addBody('eth0', 'uid-sub', 'test-app-abc-1'),
        );
        await new Promise((r) => setTimeout(r, 50));
        for (let i = 0; i < 20; i++) {
          store.addPool(
            pool(`unrelated-${i}`, { subnet: '10.8.0.0/16', ips: [`10.8.0.${i + 1}`] }),
          );
          const other = autoPool();
          other.metadata.name = `auto-other-app-v4-eth0-${i}`;
          other.metadata.labels = {
            ...other.metadata.labels,
            'ipam.spidernet.io/owner-application-name': 'other-app',
          };
          store.addPool(other);
          await new Promise((r) => setImmediate(r));
        }
        store.addPool(autoPool());
        const r = await pending;
        expect(r.status).toBe(200);
        // The first plan, one more once the filter is made, one when the auto-pool comes.
        expect(plans).toBe(3);
      } finally {
        store.getNamespace = getNamespace;
      }
    });

    it('gives up after the bounded wait with a retryable error naming the missing pool', async () => {
      const started = Date.now();
      const r = await call(
        sock,
        'POST',
        '/v1/ipam/ip',
        addBody('eth0', 'uid-sub', 'test-app-abc-1'),
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(350);
      expect(r.status).toBe(503);
      expect(r.json).toMatchObject({ code: 'AUTO_POOL_PENDING', retryable: true });
      expect((r.json as { message: string }).message).toContain(
        'auto-pool of Deployment default/test-app for eth0',
      );
    });
  });
});
