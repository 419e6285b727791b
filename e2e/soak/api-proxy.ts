/**
 * A fault-injecting proxy in front of kube-apiserver, for the soak (test infrastructure):
 * "API server answers slowed or refused". Components get a kubeconfig that points at this
 * loopback HTTPS listener instead of the API server; every request is forwarded (keep-alive,
 * bodies and watch streams relayed chunk by chunk), except that a seeded share of them is
 * delayed, dropped, or answered 429 / 500 / 409 the way kube-apiserver answers them.
 *
 * Decisions come from a seeded PRNG and nothing else, so a seed replays the same decision
 * for the n-th faultable request (which request is n-th still depends on timing).
 *
 * A kill can also be armed on one pool write (`armWriteKill`): the next IPPool status write
 * that allocates (or releases) an address, by a client of a labelled listener (one allocator),
 * SIGKILLs that client just before the write reaches the API server, or just after it landed
 * and before the client hears so: "an allocator killed in the middle of ADD / DEL, before and
 * after its pool write".
 *
 * Not proxied: upgrades (exec, attach, port-forward); no component uses them, and Node
 * closes such a connection.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeAllocatedIPs } from '@nicpool/crds';
import { kubeconfigYAML } from '../cluster/control-plane.ts';
import { issueServingCert } from '../cluster/tls.ts';
import { Rng } from './rng.ts';

/** Shares of faultable requests, each in [0, 1]; all 0 unless set. */
export interface Faults {
  /** Wait a uniform minMs..maxMs before going on (combines with any outcome below). */
  readonly delay?: { readonly rate: number; readonly minMs: number; readonly maxMs: number };
  /** Destroy the client's connection without an answer; for a watch, mid-stream. */
  readonly drop?: number;
  readonly status429?: number;
  readonly status500?: number;
  /** Writes only (POST, PUT, PATCH). */
  readonly status409?: number;
  /** Writes only: forward the write, let it land, then answer 500. */
  readonly status500AfterWrite?: number;
}

export type Outcome =
  'forward' | 'drop' | 'status429' | 'status500' | 'status409' | 'status500AfterWrite';

export interface Decision {
  /** Undefined when the request is not delayed. */
  readonly delayMs: number | undefined;
  readonly outcome: Outcome;
}

export type Counter = Exclude<Outcome, 'forward'> | 'forwarded' | 'delay' | 'upstreamError';

/** What a pool status write does to the pool's records, against the pool as it stands. */
export type PoolWriteKind = 'allocate' | 'release';

export interface WriteKill {
  /** Writes that add a record (an ADD's) or drop one (a DEL's); a write may do both. */
  readonly kind: PoolWriteKind;
  /** `beforeWrite`: the write never reaches the API server; `afterWrite`: it landed (2xx). */
  readonly phase: 'beforeWrite' | 'afterWrite';
  /** Only writes that came through these listeners (see `listen`). */
  readonly labels: readonly string[];
  /**
   * Asked, when a write matches, whether its client may be killed now (it is not being
   * killed or restarted by someone else); false lets the write go on and keeps the kill armed.
   */
  readonly claim: (label: string) => boolean;
  /** Kills the client; the proxy waits for it, then cuts the client's connection. */
  readonly kill: (label: string) => Promise<void>;
}

/** `/apis/spiderpool.spidernet.io/v2beta1/spiderippools/<name>/status` → name. */
export function poolStatusTarget(method: string, url: string): string | undefined {
  if (method !== 'PUT') return undefined;
  const m = /^\/apis\/spiderpool\.spidernet\.io\/v2beta1\/spiderippools\/([^/?]+)\/status$/.exec(
    new URL(url, 'https://proxy.invalid').pathname,
  );
  return m?.[1];
}

/**
 * What a pool status write would change: the addresses it adds and drops relative to the
 * pool's current status. Undefined when the write cannot land as sent (its resourceVersion is
 * not the current one: the API server answers 409) or either side does not decode.
 */
export function poolWriteEffect(
  current: unknown,
  written: unknown,
): { added: number; removed: number } | undefined {
  const view = (o: unknown): { rv?: string; ips?: string } => {
    const x = o as { metadata?: { resourceVersion?: string }; status?: { allocatedIPs?: string } };
    return { rv: x?.metadata?.resourceVersion, ips: x?.status?.allocatedIPs };
  };
  const cur = view(current);
  const next = view(written);
  if (cur.rv === undefined || cur.rv !== next.rv) return undefined;
  const before = decodeAllocatedIPs(cur.ips);
  const after = decodeAllocatedIPs(next.ips);
  if (!before.ok || !after.ok) return undefined;
  let added = 0;
  let removed = 0;
  for (const ip of after.value.keys()) if (!before.value.has(ip)) added++;
  for (const ip of before.value.keys()) if (!after.value.has(ip)) removed++;
  return { added, removed };
}

/** A pool status write is at most this big (etcd's request limit is 1.5 MiB; records are small). */
const MAX_TAPPED_BODY = 16 << 20;

export interface ApiProxyOptions {
  /** The real API server, e.g. ClusterState's server and caFile. */
  readonly upstream: { readonly server: string; readonly caFile: string };
  readonly seed: number;
  readonly faults?: Faults;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH']);
/** Health checks are never faulted: a probe failing would measure the probe, not the client. */
const HEALTH = /^\/(healthz|readyz|livez|version)(\/|$)/;
/** A dropped watch that carries no event is cut this long after its headers. */
const WATCH_DROP_AFTER_MS = 1000;
/**
 * Longer than clients keep idle connections (Go's and client-go's transports: 90 s), so the
 * proxy never closes one a client is about to reuse: that reset would be a fault nobody counted.
 */
const KEEP_ALIVE_MS = 120_000;
/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own on each side; `expect` Node answered. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
]);

/**
 * The fault for one request. Always three draws, whatever the rates, so the n-th request's
 * draws do not depend on earlier rates or methods. Outcomes share one draw in slices
 * (drop, 429, 500, 409, 500-after-write): for a read the write-only slices are 0.
 */
export function decide(rand: () => number, f: Faults, isWrite: boolean): Decision {
  const delayDraw = rand();
  const spanDraw = rand();
  const outcomeDraw = rand();
  const delayMs =
    f.delay !== undefined && delayDraw < f.delay.rate
      ? Math.round(f.delay.minMs + spanDraw * (f.delay.maxMs - f.delay.minMs))
      : undefined;
  const slices: readonly (readonly [Outcome, number])[] = [
    ['drop', f.drop ?? 0],
    ['status429', f.status429 ?? 0],
    ['status500', f.status500 ?? 0],
    ['status409', isWrite ? (f.status409 ?? 0) : 0],
    ['status500AfterWrite', isWrite ? (f.status500AfterWrite ?? 0) : 0],
  ];
  let upTo = 0;
  for (const [outcome, rate] of slices) {
    upTo += rate;
    if (outcomeDraw < upTo) return { delayMs, outcome };
  }
  return { delayMs, outcome: 'forward' };
}

/** Throws on a rate outside [0, 1], a bad delay span, or outcome shares adding up past 1. */
export function validateFaults(f: Faults): void {
  const rates: [string, number | undefined][] = [
    ['delay.rate', f.delay?.rate],
    ['drop', f.drop],
    ['status429', f.status429],
    ['status500', f.status500],
    ['status409', f.status409],
    ['status500AfterWrite', f.status500AfterWrite],
  ];
  for (const [name, r] of rates) {
    if (r !== undefined && !(r >= 0 && r <= 1))
      throw new RangeError(`${name}: ${r} is not in [0, 1]`);
  }
  if (f.delay !== undefined && !(f.delay.minMs >= 0 && f.delay.minMs <= f.delay.maxMs)) {
    throw new RangeError(`delay: need 0 <= minMs <= maxMs, got ${f.delay.minMs}..${f.delay.maxMs}`);
  }
  const sum = rates.slice(1).reduce((s, [, r]) => s + (r ?? 0), 0);
  if (sum > 1) throw new RangeError(`outcome rates add up to ${sum}, more than 1`);
}

export function isWatch(url: string): boolean {
  const u = new URL(url, 'https://proxy.invalid');
  const w = u.searchParams.get('watch');
  return w === 'true' || w === '1' || u.pathname.includes('/watch/');
}

/**
 * Which object a write was aimed at, as kube-apiserver names it in a Conflict:
 * `/apis/spiderpool.spidernet.io/v2beta1/spiderippools/pool-a` is resource `spiderippools`
 * of group `spiderpool.spidernet.io`, name `pool-a`. A create (POST) has no name in its path.
 */
export function writeTarget(url: string): { group: string; resource: string; name?: string } {
  const parts = new URL(url, 'https://proxy.invalid').pathname.split('/').filter((p) => p !== '');
  let group = '';
  let rest: string[];
  if (parts[0] === 'api') rest = parts.slice(2);
  else if (parts[0] === 'apis') [group, rest] = [parts[1] ?? '', parts.slice(3)];
  else return { group, resource: parts.join('/') };
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [resource = '', name] = rest;
  return name === undefined ? { group, resource } : { group, resource, name };
}

interface Status {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

function statusBody(s: Status): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: s.message,
    reason: s.reason,
    ...(s.details === undefined ? {} : { details: s.details }),
    code: s.code,
  });
}

const TOO_MANY: Status = {
  code: 429,
  reason: 'TooManyRequests',
  message: 'nicpool soak: injected',
  details: { retryAfterSeconds: 1 },
};
const INTERNAL: Status = { code: 500, reason: 'InternalError', message: 'nicpool soak: injected' };
const INTERNAL_AFTER_WRITE: Status = {
  code: 500,
  reason: 'InternalError',
  message: 'nicpool soak: injected after the write landed',
};

/** kube-apiserver's Conflict for a stale resourceVersion, message and details alike. */
export function conflictStatus(url: string): Status {
  const t = writeTarget(url);
  const qualified = t.group === '' ? t.resource : `${t.resource}.${t.group}`;
  const named = t.name === undefined ? qualified : `${qualified} "${t.name}"`;
  return {
    code: 409,
    reason: 'Conflict',
    message:
      `Operation cannot be fulfilled on ${named}: the object has been modified; please apply ` +
      'your changes to the latest version and try again (nicpool soak: injected)',
    details: {
      ...(t.name === undefined ? {} : { name: t.name }),
      ...(t.group === '' ? {} : { group: t.group }),
      kind: t.resource,
    },
  };
}

function endToEnd(h: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set(
    String(h.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase()),
  );
  return Object.fromEntries(Object.entries(h).filter(([k]) => !HOP_BY_HOP.has(k) && !named.has(k)));
}

function answer(req: IncomingMessage, res: ServerResponse, s: Status, retryAfter = false): void {
  req.resume(); // the body is not forwarded; drain it so the connection stays usable
  if (req.socket.destroyed) return;
  const body = statusBody(s);
  res.writeHead(s.code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(retryAfter ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
}

type Mode = 'relay' | 'dropMidStream' | 'answer500AfterWrite';

interface Tap {
  readonly kill: WriteKill;
  /** Hit, or timed out: never armed again. */
  done: boolean;
  /** Spends the tap: the client killed, or undefined on the timeout. */
  readonly hit: (label: string | undefined) => void;
}

interface ForwardOptions {
  /** The request body, already read (a tapped write); else the request is piped. */
  readonly body?: Buffer;
  /** Takes over the upstream response instead of `mode`. */
  readonly onResponse?: (upRes: IncomingMessage) => void;
}

export class ApiFaultProxy {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** The CA that signed the proxy's serving certificate (for clients). */
  readonly caFile: string;
  readonly #dir: string;
  readonly #upstream: URL;
  readonly #agent: Agent;
  readonly #rand: () => number;
  readonly #sockets = new Set<Socket>();
  readonly #servers: Server[] = [];
  readonly #written: string[] = [];
  readonly #tls: { key: Buffer; cert: Buffer };
  /** Kills armed and not spent, in the order they were armed. */
  readonly #taps = new Set<Tap>();
  readonly #closing = new AbortController();
  #faults: Faults = {};
  readonly #counts: Record<Counter, number> = {
    forwarded: 0,
    delay: 0,
    drop: 0,
    status429: 0,
    status500: 0,
    status409: 0,
    status500AfterWrite: 0,
    upstreamError: 0,
  };

  /** Makes the proxy's CA and certificate (openssl, a fresh temp dir) and starts listening. */
  static async start(opts: ApiProxyOptions): Promise<ApiFaultProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'nicpool-api-proxy-'));
    try {
      await issueServingCert(dir, {
        caName: 'nicpool soak api-proxy CA',
        name: 'proxy',
        cn: '127.0.0.1',
        san: ['IP:127.0.0.1'],
        days: 7,
      });
      chmodSync(join(dir, 'proxy.key'), 0o600);
      rmSync(join(dir, 'ca.key')); // signing is done; nothing else may sign for this CA
      const server = createServer({
        key: readFileSync(join(dir, 'proxy.key')),
        cert: readFileSync(join(dir, 'proxy.crt')),
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      return new ApiFaultProxy(dir, server, opts, {
        key: readFileSync(join(dir, 'proxy.key')),
        cert: readFileSync(join(dir, 'proxy.crt')),
      });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  private constructor(
    dir: string,
    server: Server,
    opts: ApiProxyOptions,
    tls: { key: Buffer; cert: Buffer },
  ) {
    this.#dir = dir;
    this.#tls = tls;
    this.caFile = join(dir, 'ca.crt');
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy: no TCP address');
    this.url = `https://127.0.0.1:${addr.port}`;
    this.#upstream = new URL(opts.upstream.server);
    // Watches each hold an upstream connection for their whole life, hence no socket limit.
    this.#agent = new Agent({ keepAlive: true, ca: readFileSync(opts.upstream.caFile) });
    const rng = new Rng(opts.seed);
    this.#rand = () => rng.next();
    this.setFaults(opts.faults ?? {});
    this.#attach(server, undefined);
  }

  #attach(server: Server, label: string | undefined): void {
    this.#servers.push(server);
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      this.#serve(req, res, label),
    );
  }

  /**
   * Another listener of the same proxy (same CA, faults and counters) whose clients carry
   * `label`: how a write kill tells one allocator from another when they share a token.
   * Returns its URL.
   */
  async listen(label: string): Promise<string> {
    const server = createServer(this.#tls);
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#attach(server, label);
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy: no TCP address');
    return `https://127.0.0.1:${addr.port}`;
  }

  /**
   * Arms one kill on the next matching pool write (see WriteKill); several may be armed, and
   * a write spends the first that matches it. Resolves with the label of the client killed,
   * or undefined when no write matched within `timeoutMs` (disarmed).
   */
  armWriteKill(kill: WriteKill, timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const tap: Tap = {
        kill,
        done: false,
        hit: (label) => {
          if (tap.done) return;
          tap.done = true;
          clearTimeout(timer);
          this.#taps.delete(tap);
          resolve(label);
        },
      };
      const timer = setTimeout(() => tap.hit(undefined), timeoutMs);
      this.#taps.add(tap);
    });
  }

  /** Replaces the fault rates (unset ones become 0); takes effect from the next request. */
  setFaults(f: Faults): void {
    validateFaults(f);
    this.#faults = f;
  }

  counts(): Record<Counter, number> {
    return { ...this.#counts };
  }

  /**
   * Writes `<original>-via-api-proxy` beside a kubeconfig made by kubeconfigYAML (one user
   * with a bearer token): the same token, the proxy's URL and CA. Removed by close().
   */
  kubeconfigFor(originalKubeconfigPath: string, url = this.url, suffix = ''): string {
    const text = readFileSync(originalKubeconfigPath, 'utf8');
    const token = /^\s*token:\s*["']?([^"'\s]+)["']?\s*$/m.exec(text)?.[1];
    if (token === undefined) throw new Error(`${originalKubeconfigPath}: no user token to reuse`);
    const path = join(
      dirname(originalKubeconfigPath),
      `${basename(originalKubeconfigPath)}-via-api-proxy${suffix}`,
    );
    writeFileSync(path, kubeconfigYAML(url, this.caFile, token), { mode: 0o600 });
    this.#written.push(path);
    return path;
  }

  /** Stops listening, cuts every connection (watches too, both sides), removes its files. */
  async close(): Promise<void> {
    this.#closing.abort();
    const closed = Promise.all(
      this.#servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))),
    );
    for (const s of this.#sockets) s.destroy();
    this.#agent.destroy();
    await closed;
    rmSync(this.#dir, { recursive: true, force: true });
    for (const f of this.#written) rmSync(f, { force: true });
  }

  #serve(req: IncomingMessage, res: ServerResponse, label: string | undefined): void {
    const url = req.url ?? '/';
    if (HEALTH.test(new URL(url, 'https://proxy.invalid').pathname)) {
      this.#forward(req, res, 'relay');
      return;
    }
    const pool = poolStatusTarget(req.method ?? '', url);
    if (
      pool !== undefined &&
      label !== undefined &&
      [...this.#taps].some((t) => t.kill.labels.includes(label))
    ) {
      void this.#tapped(req, res, label, pool);
      return;
    }
    const d = decide(this.#rand, this.#faults, WRITES.has(req.method ?? ''));
    if (d.delayMs === undefined) {
      this.#act(req, res, d.outcome);
      return;
    }
    this.#counts.delay++;
    sleep(d.delayMs, undefined, { signal: this.#closing.signal }).then(
      () => {
        if (!req.socket.destroyed) this.#act(req, res, d.outcome);
      },
      () => req.socket.destroy(), // closing
    );
  }

  // 429, 500 and 409 are answered before forwarding: the API server never sees that request,
  // as when its priority-and-fairness filter or admission refuses it. A 500 after a write that
  // landed is a different fault (status500AfterWrite), the nastiest for an allocator: the
  // address is taken although the client was told the write failed.
  #act(req: IncomingMessage, res: ServerResponse, outcome: Outcome): void {
    switch (outcome) {
      case 'forward':
        this.#forward(req, res, 'relay');
        return;
      case 'drop':
        this.#counts.drop++;
        if (isWatch(req.url ?? '/')) this.#forward(req, res, 'dropMidStream');
        else req.socket.destroy();
        return;
      case 'status429':
        this.#counts.status429++;
        answer(req, res, TOO_MANY, true);
        return;
      case 'status500':
        this.#counts.status500++;
        answer(req, res, INTERNAL);
        return;
      case 'status409':
        this.#counts.status409++;
        answer(req, res, conflictStatus(req.url ?? '/'));
        return;
      case 'status500AfterWrite':
        this.#counts.status500AfterWrite++;
        this.#forward(req, res, 'answer500AfterWrite');
        return;
    }
  }

  /**
   * A pool status write while a kill is armed: read it, compare it with the pool as it stands
   * (a GET with the client's own credentials), and if it matches, kill its client before or
   * after it lands. Writes that do not match go on as if nothing was armed (unfaulted).
   */
  async #tapped(
    req: IncomingMessage,
    res: ServerResponse,
    label: string,
    pool: string,
  ): Promise<void> {
    let body: Buffer;
    let effect: { added: number; removed: number } | undefined;
    try {
      body = await readBody(req, MAX_TAPPED_BODY);
      const current = await this.#get(
        `/apis/spiderpool.spidernet.io/v2beta1/spiderippools/${pool}`,
        req.headers.authorization,
      );
      effect = poolWriteEffect(current, JSON.parse(body.toString('utf8')));
    } catch {
      req.socket.destroy(); // unreadable: as a connection lost in transit
      return;
    }
    const e = effect;
    // The first armed kill this write matches whose client may be killed now; one shot: it
    // leaves the set at once, so a concurrent write that matches too goes on.
    const tap =
      e === undefined
        ? undefined
        : [...this.#taps].find(
            (t) =>
              t.kill.labels.includes(label) &&
              (t.kill.kind === 'allocate' ? e.added > 0 : e.removed > 0) &&
              t.kill.claim(label),
          );
    if (tap === undefined) {
      this.#forward(req, res, 'relay', { body });
      return;
    }
    this.#taps.delete(tap);
    if (tap.kill.phase === 'beforeWrite') {
      await tap.kill.kill(label).catch(() => undefined);
      req.socket.destroy();
      tap.hit(label);
      return;
    }
    this.#forward(req, res, 'relay', {
      body,
      onResponse: (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const code = upRes.statusCode ?? 502;
          if (code >= 200 && code < 300) {
            void tap.kill
              .kill(label)
              .catch(() => undefined)
              .then(() => {
                req.socket.destroy();
                tap.hit(label);
              });
            return;
          }
          // The write did not land (a 409, say): relay the answer and stay armed.
          if (!tap.done) this.#taps.add(tap);
          if (req.socket.destroyed) return;
          const payload = Buffer.concat(chunks);
          res.writeHead(code, { ...endToEnd(upRes.headers), 'content-length': payload.length });
          res.end(payload);
        });
      },
    });
  }

  /** One GET upstream with the given credentials; the body as JSON. */
  #get(path: string, authorization: string | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const up = request(
        {
          agent: this.#agent,
          hostname: this.#upstream.hostname,
          port: this.#upstream.port,
          method: 'GET',
          path,
          headers: {
            accept: 'application/json',
            ...(authorization === undefined ? {} : { authorization }),
          },
        },
        (upRes) => {
          readBody(upRes, MAX_TAPPED_BODY).then((b) => {
            if ((upRes.statusCode ?? 0) !== 200) {
              reject(new Error(`GET ${path}: HTTP ${upRes.statusCode}`));
              return;
            }
            resolve(JSON.parse(b.toString('utf8')));
          }, reject);
        },
      );
      up.on('error', reject);
      up.end();
    });
  }

  #forward(req: IncomingMessage, res: ServerResponse, mode: Mode, o: ForwardOptions = {}): void {
    // A held request (a tapped write) whose client left meanwhile: nobody to answer.
    if (res.destroyed || req.socket.destroyed) return;
    this.#counts.forwarded++;
    const up = request({
      agent: this.#agent,
      hostname: this.#upstream.hostname,
      port: this.#upstream.port,
      method: req.method,
      path: req.url,
      headers: {
        ...endToEnd(req.headers),
        host: this.#upstream.host,
        // A body of unknown length is re-chunked (Node frames a GET's body only when told).
        ...(req.headers['transfer-encoding'] === undefined
          ? {}
          : { 'transfer-encoding': 'chunked' }),
      },
    });
    // The client going away ends the upstream request too: a watch left open would leak.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on('error', () => {
      // An error after the client left is our own up.destroy(); before, the upstream failed.
      if (req.socket.destroyed) return;
      this.#counts.upstreamError++;
      req.socket.destroy();
    });
    if (o.body === undefined)
      pipeline(req, up, () => {}); // errors reach `up`'s handler or the client's socket
    else up.end(o.body);
    up.on('response', (upRes: IncomingMessage) => {
      if (res.destroyed) {
        upRes.resume(); // the client left before the answer: drain it, relay nothing
        return;
      }
      if (o.onResponse !== undefined) {
        o.onResponse(upRes);
        return;
      }
      if (mode === 'answer500AfterWrite') {
        upRes.resume();
        upRes.on('end', () => answer(req, res, INTERNAL_AFTER_WRITE));
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers));
      res.flushHeaders(); // a watch's headers come long before its first event
      if (mode === 'relay') {
        pipeline(upRes, res, () => {}); // chunk by chunk; an error cuts the other side
        return;
      }
      // dropMidStream: relay the first event (or nothing, if none comes soon), then cut.
      const cut = (): void => {
        clearTimeout(timer);
        req.socket.destroy();
      };
      const timer = setTimeout(cut, WATCH_DROP_AFTER_MS);
      upRes.once('data', (chunk: Buffer) => {
        upRes.pause();
        res.write(chunk, cut);
      });
    });
  }
}

/** A whole body, or an error past `limit` bytes. */
function readBody(from: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    from.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        from.destroy();
        reject(new Error(`body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    from.on('end', () => resolve(Buffer.concat(chunks)));
    from.on('error', reject);
  });
}

/** Starts an ApiFaultProxy (see ApiFaultProxy.start). */
export function startApiProxy(opts: ApiProxyOptions): Promise<ApiFaultProxy> {
  return ApiFaultProxy.start(opts);
}
