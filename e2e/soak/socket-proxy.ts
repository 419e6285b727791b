/**
 * A fault-injecting relay in front of one allocator's Unix socket, for the soak (test
 * infrastructure): "the allocator's socket closed mid-request". The node's shim connects to
 * this socket (the node simulator mounts its directory at /var/run/spidernet); each
 * connection is relayed byte for byte to the allocator's own socket, except that while a
 * fault share is set, a seeded share of connections is cut:
 * - `closeBeforeForward`: the request arrived and is dropped; the allocator never sees it;
 * - `closeAfterForward`: the request reached the allocator, which did the work; the
 *   connection is cut at the first byte of its answer, so the shim never hears it.
 * The shim must fail that ADD or DEL with a clear error, and the kubelet's retry must get the
 * same address (or release it) without a leak or a second address.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Rng } from './rng.ts';

export type SocketOutcome = 'forward' | 'closeBeforeForward' | 'closeAfterForward';
export type SocketCounter = SocketOutcome | 'upstreamDown';

export class SocketFaultProxy {
  /** `<fresh dir>/spiderpool.sock`: what the node's shim connects to. */
  readonly path: string;
  readonly #dir: string;
  readonly #server: Server;
  readonly #upstream: string;
  readonly #rng: Rng;
  readonly #open = new Set<Socket>();
  #share = 0;
  readonly #counts: Record<SocketCounter, number> = {
    forward: 0,
    closeBeforeForward: 0,
    closeAfterForward: 0,
    upstreamDown: 0,
  };

  /** Listens in a fresh temp dir; `upstream` is the allocator's socket path. */
  static async start(upstream: string, rng: Rng): Promise<SocketFaultProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'nicpool-sock-proxy-'));
    const path = join(dir, 'spiderpool.sock');
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return new SocketFaultProxy(dir, path, server, upstream, rng);
  }

  private constructor(dir: string, path: string, server: Server, upstream: string, rng: Rng) {
    this.#dir = dir;
    this.path = path;
    this.#server = server;
    this.#upstream = upstream;
    this.#rng = rng;
    server.on('connection', (client: Socket) => this.#relay(client));
  }

  /** The share of new connections cut, in [0, 1] (0: relay everything). */
  setShare(share: number): void {
    if (!(share >= 0 && share <= 1)) throw new RangeError(`share: ${share} is not in [0, 1]`);
    this.#share = share;
  }

  counts(): Record<SocketCounter, number> {
    return { ...this.#counts };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#open) s.destroy();
    await closed;
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** One draw per connection, taken when it opens, so the n-th connection's fate replays. */
  #decide(): SocketOutcome {
    const draw = this.#rng.next();
    const which = this.#rng.next();
    if (draw >= this.#share) return 'forward';
    return which < 0.5 ? 'closeBeforeForward' : 'closeAfterForward';
  }

  #track(s: Socket): void {
    this.#open.add(s);
    s.on('close', () => this.#open.delete(s));
    s.on('error', () => s.destroy());
  }

  #relay(client: Socket): void {
    this.#track(client);
    const outcome = this.#decide();
    if (outcome === 'closeBeforeForward') {
      // Wait for the request, then cut: the shim has sent it and hears nothing back.
      client.once('data', () => {
        this.#counts.closeBeforeForward++;
        client.destroy();
      });
      return;
    }
    const up = createConnection(this.#upstream);
    this.#track(up);
    up.on('error', () => {
      // The allocator is down (killed, restarting): the shim sees the connection refused.
      if (!client.destroyed) this.#counts.upstreamDown++;
      client.destroy();
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.end());
    client.pipe(up);
    if (outcome === 'forward') {
      this.#counts.forward++;
      up.pipe(client);
      return;
    }
    up.once('data', () => {
      this.#counts.closeAfterForward++;
      client.destroy();
      up.destroy();
    });
  }
}
