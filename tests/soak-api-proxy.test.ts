// The soak's fault-injecting API proxy (e2e/soak/api-proxy.ts) against a local HTTPS upstream
// that echoes what it received and serves a watch stream, over real TLS with per-run certs.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { kubeconfigYAML } from '../e2e/cluster/control-plane.ts';
import { issueServingCert } from '../e2e/cluster/tls.ts';
import {
  ApiFaultProxy,
  conflictStatus,
  decide,
  poolStatusTarget,
  poolWriteEffect,
  writeTarget,
  type Counter,
} from '../e2e/soak/api-proxy.ts';
import { Rng } from '../e2e/soak/rng.ts';

const SETUP_MS = 60_000;
const TOKEN = 'soak-token-123';
const POOL = '/apis/spiderpool.spidernet.io/v2beta1/spiderippools/pool-a';
const WATCH = '/api/v1/namespaces/default/pods?watch=true&resourceVersion=7';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

/** A watch the upstream is serving: one event sent, the rest when released. */
interface UpstreamWatch {
  release(): void;
  ended: boolean;
  readonly closed: Promise<void>;
}

let dir: string;
let upstream: Server;
let upstreamURL: string;
let proxy: ApiFaultProxy;
const seen: Seen[] = [];
const watches: UpstreamWatch[] = [];

/** The pool the upstream serves for aimed kills: GET answers it, a PUT of its status lands. */
const TAPPED = '/apis/spiderpool.spidernet.io/v2beta1/spiderippools/tapped';
const record = (uid: string): object => ({ pod: `default/${uid}`, podUid: uid, nic: 'eth0' });
const tapped = {
  object: {
    metadata: { name: 'tapped', resourceVersion: '5' },
    status: { allocatedIPs: JSON.stringify({ '10.6.0.2': record('a') }) },
  } as object,
  /** What the upstream answers a status PUT. */
  putStatus: 200,
  /** How long the upstream takes to answer a GET of the pool. */
  getDelayMs: 0,
};
/** A status write of `tapped` holding these addresses, at its current resourceVersion. */
const tappedWrite = (ips: string[], rv = '5'): string =>
  JSON.stringify({
    metadata: { name: 'tapped', resourceVersion: rv },
    status: {
      allocatedIPs: JSON.stringify(Object.fromEntries(ips.map((ip, i) => [ip, record(`u${i}`)]))),
    },
  });

function serveUpstream(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === TAPPED && req.method === 'GET') {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(tapped.object));
    }, tapped.getDelayMs);
    return;
  }
  if ((req.url ?? '').includes('watch=true')) {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      body: '',
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n');
    let release = (): void => {};
    const w: UpstreamWatch = {
      release: () => release(),
      ended: false,
      closed: new Promise((resolve) => res.on('close', () => resolve())),
    };
    release = () => {
      res.end(JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'a' } } }) + '\n');
      w.ended = true;
    };
    watches.push(w);
    return;
  }
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const s = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      body,
    };
    seen.push(s);
    res.writeHead(req.url === `${TAPPED}/status` ? tapped.putStatus : 200, {
      'content-type': 'application/json',
    });
    res.end(JSON.stringify(s));
  });
}

interface Reply {
  readonly status?: number;
  readonly headers?: IncomingHttpHeaders;
  readonly body?: string;
  readonly error?: string;
}

/**
 * One request through `p`, on its own connection; a cut connection is `error`. A body goes
 * with its Content-Length, as API clients send it, unless `chunked`.
 */
function call(
  p: ApiFaultProxy,
  method: string,
  path: string,
  body?: string,
  chunked = false,
): Promise<Reply> {
  return new Promise((resolve) => {
    const framing =
      body === undefined
        ? {}
        : chunked
          ? { 'transfer-encoding': 'chunked' }
          : { 'content-length': Buffer.byteLength(body) };
    const req = request(`${p.url}${path}`, {
      method,
      ca: readFileSync(p.caFile),
      agent: false,
      headers: { authorization: `Bearer ${TOKEN}`, ...framing },
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('error', () => {});
      res.on('close', () =>
        resolve(
          res.complete
            ? { status: res.statusCode ?? 0, headers: res.headers, body: text }
            : { error: 'cut mid-response' },
        ),
      );
    });
    req.end(body);
  });
}

/** A watch through `p`: its first chunk, and the rest of the body when the stream ends or is cut. */
function openWatch(p: ApiFaultProxy): {
  first: Promise<string>;
  done: Promise<{ body: string; complete: boolean }>;
} {
  let gotFirst = (_: string): void => {};
  const first = new Promise<string>((resolve) => (gotFirst = resolve));
  const done = new Promise<{ body: string; complete: boolean }>((resolve) => {
    const req = request(`${p.url}${WATCH}`, { ca: readFileSync(p.caFile), agent: false });
    req.on('error', () => resolve({ body: '', complete: false }));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        if (body === '') gotFirst(c.toString());
        body += c.toString();
      });
      res.on('error', () => {});
      res.on('close', () => resolve({ body, complete: res.complete }));
    });
    req.end();
  });
  return { first, done };
}

/** Counters that moved during `f`. */
async function moved(
  p: ApiFaultProxy,
  f: () => Promise<void>,
): Promise<Partial<Record<Counter, number>>> {
  const before = p.counts();
  await f();
  const after = p.counts();
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - before[k as Counter]] as const)
      .filter(([, d]) => d !== 0),
  );
}

function startProxy(seed: number): Promise<ApiFaultProxy> {
  return ApiFaultProxy.start({
    upstream: { server: upstreamURL, caFile: join(dir, 'ca.crt') },
    seed,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nicpool-api-proxy-test-'));
  await issueServingCert(dir, {
    caName: 'upstream CA',
    name: 'upstream',
    cn: '127.0.0.1',
    san: ['IP:127.0.0.1'],
    days: 1,
  });
  upstream = createServer(
    { key: readFileSync(join(dir, 'upstream.key')), cert: readFileSync(join(dir, 'upstream.crt')) },
    serveUpstream,
  );
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const addr = upstream.address();
  if (addr === null || typeof addr === 'string') throw new Error('no upstream address');
  upstreamURL = `https://127.0.0.1:${addr.port}`;
  proxy = await startProxy(1);
}, SETUP_MS);

afterAll(async () => {
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  tapped.putStatus = 200;
  tapped.getDelayMs = 0;
  proxy.setFaults({});
  seen.length = 0;
  for (const w of watches.splice(0)) if (!w.ended) w.release();
});

describe('forwarding', () => {
  it('forwards method, path and query, the bearer token and the body, and relays the answer', async () => {
    let r: Reply = {};
    expect(
      await moved(proxy, async () => {
        r = await call(proxy, 'PUT', `${POOL}?fieldManager=nicpool`, '{"spec":{}}');
      }),
    ).toEqual({ forwarded: 1 });
    const want = {
      method: 'PUT',
      url: `${POOL}?fieldManager=nicpool`,
      authorization: `Bearer ${TOKEN}`,
      body: '{"spec":{}}',
    };
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body ?? '')).toEqual(want);
    expect(seen).toEqual([want]);
  });

  it('forwards a body of unknown length (chunked), whatever the method', async () => {
    const r = await call(proxy, 'DELETE', POOL, '{"propagationPolicy":"Background"}', true);
    expect(r.status).toBe(200);
    expect(seen).toMatchObject([{ method: 'DELETE', body: '{"propagationPolicy":"Background"}' }]);
  });

  it('keeps its upstream connection alive between requests', async () => {
    let opened = 0;
    const count = (): void => void opened++;
    upstream.on('secureConnection', count);
    try {
      for (let i = 0; i < 5; i++) expect((await call(proxy, 'GET', POOL)).status).toBe(200);
    } finally {
      upstream.off('secureConnection', count);
    }
    expect(opened).toBeLessThanOrEqual(1); // 0 when an earlier test's connection is reused
  });

  it('writes a kubeconfig beside the original with the proxy URL and CA and the same token', async () => {
    const original = join(dir, 'kubeconfig-allocator');
    writeFileSync(original, kubeconfigYAML(upstreamURL, join(dir, 'ca.crt'), TOKEN));
    const path = proxy.kubeconfigFor(original);
    expect(dirname(path)).toBe(dir);
    expect(readFileSync(path, 'utf8')).toBe(kubeconfigYAML(proxy.url, proxy.caFile, TOKEN));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dirname(proxy.caFile), 'proxy.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dirname(proxy.caFile), 'ca.key'))).toBe(false);
  });

  it('streams a watch: the first event arrives while the upstream stream is still open', async () => {
    const w = openWatch(proxy);
    expect(await w.first).toContain('"ADDED"');
    expect(watches).toHaveLength(1);
    expect(watches[0]?.ended).toBe(false);
    watches[0]?.release();
    const { body, complete } = await w.done;
    expect(complete).toBe(true);
    expect(
      body
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type),
    ).toEqual(['ADDED', 'DELETED']);
  });

  it('forwards everything at rate 0', async () => {
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'GET' : 'PATCH'));
    const counted = await moved(proxy, async () => {
      for (const m of calls) {
        expect((await call(proxy, m, POOL, m === 'GET' ? undefined : '{}')).status).toBe(200);
      }
    });
    expect(counted).toEqual({ forwarded: 20 });
    expect(seen.map((s) => s.method)).toEqual(calls);
  });
});

describe('faults at rate 1', () => {
  it('delay: waits, then forwards', async () => {
    proxy.setFaults({ delay: { rate: 1, minMs: 200, maxMs: 200 } });
    const t0 = performance.now();
    let r: Reply = {};
    expect(await moved(proxy, async () => void (r = await call(proxy, 'GET', POOL)))).toEqual({
      delay: 1,
      forwarded: 1,
    });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(195);
    expect(r.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('drop: cuts the connection without an answer, and the upstream never sees the request', async () => {
    proxy.setFaults({ drop: 1 });
    let r: Reply = {};
    expect(await moved(proxy, async () => void (r = await call(proxy, 'GET', POOL)))).toEqual({
      drop: 1,
    });
    expect(r.status).toBeUndefined();
    expect(r.error).toBeDefined();
    expect(seen).toEqual([]);
  });

  it('drop on a watch: relays the first event, then cuts both sides', async () => {
    proxy.setFaults({ drop: 1 });
    const counted = await moved(proxy, async () => {
      const w = openWatch(proxy);
      expect(await w.first).toContain('"ADDED"');
      const { body, complete } = await w.done;
      expect(complete).toBe(false);
      expect(body).not.toContain('DELETED');
      await watches[0]?.closed; // the upstream's watch ended too
    });
    expect(counted).toEqual({ drop: 1, forwarded: 1 });
    expect(watches[0]?.ended).toBe(false);
  });

  it('429: TooManyRequests with Retry-After, not forwarded', async () => {
    proxy.setFaults({ status429: 1 });
    let r: Reply = {};
    expect(await moved(proxy, async () => void (r = await call(proxy, 'GET', POOL)))).toEqual({
      status429: 1,
    });
    expect(r.status).toBe(429);
    expect(r.headers?.['retry-after']).toBe('1');
    expect(r.headers?.['content-type']).toBe('application/json');
    expect(JSON.parse(r.body ?? '')).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'nicpool soak: injected',
      reason: 'TooManyRequests',
      details: { retryAfterSeconds: 1 },
      code: 429,
    });
    expect(seen).toEqual([]);
  });

  it('500: InternalError, not forwarded', async () => {
    proxy.setFaults({ status500: 1 });
    let r: Reply = {};
    expect(
      await moved(proxy, async () => void (r = await call(proxy, 'POST', POOL, '{}'))),
    ).toEqual({ status500: 1 });
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body ?? '')).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'nicpool soak: injected',
      reason: 'InternalError',
      code: 500,
    });
    expect(seen).toEqual([]);
  });

  it('409: Conflict on a write, named like kube-apiserver names it, not forwarded', async () => {
    proxy.setFaults({ status409: 1 });
    let r: Reply = {};
    expect(await moved(proxy, async () => void (r = await call(proxy, 'PUT', POOL, '{}')))).toEqual(
      { status409: 1 },
    );
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body ?? '')).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'Operation cannot be fulfilled on spiderippools.spiderpool.spidernet.io "pool-a": the object has been modified; ' +
        'please apply your changes to the latest version and try again (nicpool soak: injected)',
      reason: 'Conflict',
      details: { name: 'pool-a', group: 'spiderpool.spidernet.io', kind: 'spiderippools' },
      code: 409,
    });
    expect(seen).toEqual([]);
  });

  it('409 and 500-after-write leave reads alone', async () => {
    proxy.setFaults({ status409: 0.5, status500AfterWrite: 0.5 });
    expect(
      await moved(
        proxy,
        async () => void expect((await call(proxy, 'GET', POOL)).status).toBe(200),
      ),
    ).toEqual({
      forwarded: 1,
    });
    expect(seen).toHaveLength(1);
  });

  it('500 after the write: the upstream gets the write, the client gets InternalError', async () => {
    proxy.setFaults({ status500AfterWrite: 1 });
    let r: Reply = {};
    expect(
      await moved(proxy, async () => void (r = await call(proxy, 'PATCH', POOL, '{"status":{}}'))),
    ).toEqual({ status500AfterWrite: 1, forwarded: 1 });
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body ?? '')).toMatchObject({ reason: 'InternalError', code: 500 });
    expect(seen).toEqual([
      { method: 'PATCH', url: POOL, authorization: `Bearer ${TOKEN}`, body: '{"status":{}}' },
    ]);
  });

  it('never faults health checks', async () => {
    proxy.setFaults({ status429: 1 });
    const paths = ['/healthz', '/readyz', '/livez/ping', '/version', '/readyz?verbose'];
    const counted = await moved(proxy, async () => {
      for (const p of paths) expect((await call(proxy, 'GET', p)).status).toBe(200);
    });
    expect(counted).toEqual({ forwarded: paths.length });
  });
});

describe('decisions', () => {
  it(
    'replay from the seed through the proxy, and differ for another seed',
    async () => {
      const faults = { status429: 0.3, status500: 0.2, status409: 0.2 };
      const sequence = async (p: ApiFaultProxy): Promise<string> => {
        p.setFaults(faults);
        let s = '';
        for (let i = 0; i < 40; i++)
          s += `${(await call(p, i % 3 === 0 ? 'GET' : 'PUT', POOL, '{}')).status} `;
        await p.close();
        return s;
      };
      const [a, b, c] = [
        await sequence(await startProxy(42)),
        await sequence(await startProxy(42)),
        await sequence(await startProxy(43)),
      ];
      expect(a).toBe(b);
      expect(a).not.toBe(c);
      for (const code of ['200', '429', '500', '409']) expect(a).toContain(code);
    },
    SETUP_MS,
  );

  it('take three draws per request whatever the rates, and slice one draw among the outcomes', () => {
    let n = 0;
    const fixed = (draws: number[]) => () => draws[n++ % draws.length] ?? 0;
    const f = {
      delay: { rate: 0.5, minMs: 100, maxMs: 300 },
      drop: 0.1,
      status429: 0.1,
      status500: 0.1,
      status409: 0.1,
      status500AfterWrite: 0.1,
    };
    expect(decide(fixed([0.2, 0.5, 0.05]), f, true)).toEqual({ delayMs: 200, outcome: 'drop' });
    expect(n).toBe(3);
    expect(decide(fixed([0.9, 0.5, 0.35]), f, true)).toEqual({
      delayMs: undefined,
      outcome: 'status409',
    });
    expect(decide(fixed([0.9, 0.5, 0.35]), f, false)).toEqual({
      delayMs: undefined,
      outcome: 'forward',
    });
    expect(decide(fixed([0.9, 0.5, 0.45]), f, true)).toEqual({
      delayMs: undefined,
      outcome: 'status500AfterWrite',
    });
    const rng = new Rng(1);
    expect(decide(() => rng.next(), {}, true)).toEqual({ delayMs: undefined, outcome: 'forward' });
  });

  it('refuse rates outside [0, 1] and shares adding up past 1', () => {
    expect(() => proxy.setFaults({ drop: 1.5 })).toThrow(RangeError);
    expect(() => proxy.setFaults({ status429: 0.6, status500: 0.6 })).toThrow(RangeError);
    expect(() => proxy.setFaults({ delay: { rate: 1, minMs: 5, maxMs: 1 } })).toThrow(RangeError);
  });

  it('name write targets as kube-apiserver does', () => {
    expect(writeTarget('/api/v1/namespaces/ns/pods/p1/status')).toEqual({
      group: '',
      resource: 'pods',
      name: 'p1',
    });
    expect(writeTarget('/apis/apps/v1/namespaces/ns/deployments?dryRun=All')).toEqual({
      group: 'apps',
      resource: 'deployments',
    });
    expect(writeTarget('/api/v1/namespaces/ns')).toEqual({
      group: '',
      resource: 'namespaces',
      name: 'ns',
    });
    expect(conflictStatus('/api/v1/namespaces/ns/pods/p1').message).toMatch(
      /^Operation cannot be fulfilled on pods "p1": /,
    );
  });
});

describe('close()', () => {
  it(
    'cuts open watches on both sides, stops listening and removes its files',
    async () => {
      const p = await startProxy(5);
      const original = join(dir, 'kubeconfig-controller');
      writeFileSync(original, kubeconfigYAML(upstreamURL, join(dir, 'ca.crt'), TOKEN));
      const written = p.kubeconfigFor(original);
      const port = Number(new URL(p.url).port);
      const w = openWatch(p);
      await w.first;
      await p.close();
      expect((await w.done).complete).toBe(false);
      await watches[0]?.closed;
      const refused = await new Promise<string>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve('connected');
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      expect(refused).toBe('ECONNREFUSED');
      expect(existsSync(dirname(p.caFile))).toBe(false);
      expect(existsSync(written)).toBe(false);
      expect(existsSync(original)).toBe(true);
    },
    SETUP_MS,
  );
});

describe('aimed kills on pool writes', () => {
  /** One request through a labelled listener's URL, as `call` does through the main one. */
  const callAt = (url: string, method: string, path: string, body?: string): Promise<Reply> =>
    call({ url, caFile: proxy.caFile } as ApiFaultProxy, method, path, body);
  const killed: string[] = [];
  const kill = async (label: string): Promise<void> => void killed.push(label);
  let n1: string;
  let n2: string;
  beforeAll(async () => {
    n1 = await proxy.listen('node1');
    n2 = await proxy.listen('node2');
  });
  beforeEach(() => void (killed.length = 0));

  it('names a pool status write, and nothing else', () => {
    expect(poolStatusTarget('PUT', `${TAPPED}/status`)).toBe('tapped');
    expect(poolStatusTarget('PUT', `${TAPPED}/status?fieldManager=x`)).toBe('tapped');
    expect(poolStatusTarget('PATCH', `${TAPPED}/status`)).toBeUndefined();
    expect(poolStatusTarget('PUT', TAPPED)).toBeUndefined();
    expect(
      poolStatusTarget('PUT', '/apis/spiderpool.spidernet.io/v2beta1/spidersubnets/s/status'),
    ).toBeUndefined();
  });

  it('judges a write against the pool as it stands: added, removed, or not landable', () => {
    const cur = tapped.object;
    expect(poolWriteEffect(cur, JSON.parse(tappedWrite(['10.6.0.2', '10.6.0.3'])))).toEqual({
      added: 1,
      removed: 0,
    });
    expect(poolWriteEffect(cur, JSON.parse(tappedWrite([])))).toEqual({ added: 0, removed: 1 });
    expect(poolWriteEffect(cur, JSON.parse(tappedWrite(['10.6.0.3'])))).toEqual({
      added: 1,
      removed: 1,
    });
    // A stale resourceVersion gets a 409, so it is no write at all.
    expect(poolWriteEffect(cur, JSON.parse(tappedWrite(['10.6.0.3'], '4')))).toBeUndefined();
    expect(
      poolWriteEffect(cur, { metadata: { resourceVersion: '5' }, status: { allocatedIPs: '{' } }),
    ).toBeUndefined();
  });

  it('before the write: kills the writer, cuts its connection, and the write never lands', async () => {
    const armed = proxy.armWriteKill(
      {
        kind: 'allocate',
        phase: 'beforeWrite',
        labels: ['node1', 'node2'],
        claim: () => true,
        kill,
      },
      5000,
    );
    const r = await callAt(n2, 'PUT', `${TAPPED}/status`, tappedWrite(['10.6.0.2', '10.6.0.3']));
    expect(r.error).toBeDefined();
    expect(await armed).toBe('node2');
    expect(killed).toEqual(['node2']);
    expect(seen.filter((x) => x.method === 'PUT')).toEqual([]);
  });

  it('after the write: the write lands, then the writer is killed before it hears so', async () => {
    const armed = proxy.armWriteKill(
      { kind: 'release', phase: 'afterWrite', labels: ['node1'], claim: () => true, kill },
      5000,
    );
    const r = await callAt(n1, 'PUT', `${TAPPED}/status`, tappedWrite([]));
    expect(r.error).toBeDefined();
    expect(await armed).toBe('node1');
    expect(killed).toEqual(['node1']);
    expect(seen.filter((x) => x.method === 'PUT').map((x) => x.body)).toEqual([tappedWrite([])]);
  });

  it('a write that does not match, or that the API server refuses, goes on and the kill stays armed', async () => {
    const armed = proxy.armWriteKill(
      { kind: 'release', phase: 'afterWrite', labels: ['node1'], claim: () => true, kill },
      1500,
    );
    // An allocation, when a release is armed: forwarded, answered.
    expect(
      (await callAt(n1, 'PUT', `${TAPPED}/status`, tappedWrite(['10.6.0.2', '10.6.0.9']))).status,
    ).toBe(200);
    // The main listener's clients (the controller) and other labels are never aimed at.
    expect((await call(proxy, 'PUT', `${TAPPED}/status`, tappedWrite([]))).status).toBe(200);
    expect((await callAt(n2, 'PUT', `${TAPPED}/status`, tappedWrite([]))).status).toBe(200);
    // A release the API server refuses with 409: relayed, no kill.
    tapped.putStatus = 409;
    expect((await callAt(n1, 'PUT', `${TAPPED}/status`, tappedWrite([]))).status).toBe(409);
    expect(killed).toEqual([]);
    // Nothing else matched within the time: disarmed.
    expect(await armed).toBeUndefined();
    expect((await callAt(n1, 'PUT', `${TAPPED}/status`, tappedWrite([]))).status).toBe(409);
    expect(killed).toEqual([]);
  });

  it('a writer another fault holds (claim refused) is not killed: its write goes on, the kill stays armed', async () => {
    const claimed: string[] = [];
    const armed = proxy.armWriteKill(
      {
        kind: 'allocate',
        phase: 'beforeWrite',
        labels: ['node1', 'node2'],
        claim: (label) => {
          claimed.push(label);
          return label === 'node2';
        },
        kill,
      },
      5000,
    );
    const write = tappedWrite(['10.6.0.2', '10.6.0.4']);
    expect((await callAt(n1, 'PUT', `${TAPPED}/status`, write)).status).toBe(200);
    expect(killed).toEqual([]);
    expect((await callAt(n2, 'PUT', `${TAPPED}/status`, write)).error).toBeDefined();
    expect(await armed).toBe('node2');
    expect({ claimed, killed }).toEqual({ claimed: ['node1', 'node2'], killed: ['node2'] });
    expect(seen.filter((x) => x.method === 'PUT')).toHaveLength(1);
  });

  it('a held write whose client leaves meanwhile is dropped, and the proxy goes on serving', async () => {
    // The soak once died here: the write was forwarded after its client had gone, and
    // relaying the answer into the closed response threw ERR_STREAM_UNABLE_TO_PIPE.
    tapped.getDelayMs = 400;
    const armed = proxy.armWriteKill(
      { kind: 'release', phase: 'beforeWrite', labels: ['node1'], claim: () => true, kill },
      1500,
    );
    const body = tappedWrite(['10.6.0.2', '10.6.0.7']); // an allocation: does not match
    const gone = await new Promise<string>((resolve) => {
      const req = request(`${n1}${TAPPED}/status`, {
        method: 'PUT',
        ca: readFileSync(proxy.caFile),
        agent: false,
        headers: { 'content-length': Buffer.byteLength(body) },
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end(body, () => setTimeout(() => req.destroy(), 100));
    });
    expect(gone).toBe('ECONNRESET');
    await new Promise((r) => setTimeout(r, 600)); // past the upstream's answer to the GET
    expect(seen.filter((x) => x.method === 'PUT')).toEqual([]);
    expect((await call(proxy, 'GET', POOL)).status).toBe(200);
    expect(await armed).toBeUndefined();
    expect(killed).toEqual([]);
  });

  it('several kills armed: a write spends the first it matches, the others stay armed', async () => {
    const add = proxy.armWriteKill(
      { kind: 'allocate', phase: 'beforeWrite', labels: ['node1'], claim: () => true, kill },
      3000,
    );
    const del = proxy.armWriteKill(
      { kind: 'release', phase: 'beforeWrite', labels: ['node1'], claim: () => true, kill },
      3000,
    );
    // Drops 10.6.0.2: the release's.
    expect((await callAt(n1, 'PUT', `${TAPPED}/status`, tappedWrite([]))).error).toBeDefined();
    expect(await del).toBe('node1');
    // Adds 10.6.0.5: the allocation's.
    expect(
      (await callAt(n1, 'PUT', `${TAPPED}/status`, tappedWrite(['10.6.0.2', '10.6.0.5']))).error,
    ).toBeDefined();
    expect(await add).toBe('node1');
    expect(killed).toEqual(['node1', 'node1']);
    expect(seen.filter((x) => x.method === 'PUT')).toEqual([]);
  });
});
