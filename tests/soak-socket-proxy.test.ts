// The soak's relay in front of an allocator's socket (e2e/soak/socket-proxy.ts), against a
// local Unix-socket upstream that answers each request and remembers what it got.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../e2e/soak/rng.ts';
import { SocketFaultProxy } from '../e2e/soak/socket-proxy.ts';

let dir: string;
let upstream: Server;
let upstreamPath: string;
/** Requests the upstream received, by their first line. */
const got: string[] = [];

/** One request over its own connection; the reply, or `cut` when the connection ended without one. */
function ask(path: string, id: number): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let reply = '';
    s.on('data', (c: Buffer) => (reply += c.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(reply === '' ? 'cut' : reply));
    s.write(`ADD ${id}\n`);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nicpool-sock-proxy-test-'));
  upstreamPath = join(dir, 'allocator.sock');
  upstream = createServer((s) => {
    s.on('data', (c: Buffer) => {
      const line = c.toString().trim();
      got.push(line);
      s.end(`OK ${line}`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(upstreamPath, resolve));
});

afterAll(async () => {
  await new Promise((resolve) => upstream.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('socket relay', () => {
  it('relays every request and answer while no share is set, at spiderpool.sock in a dir of its own', async () => {
    const p = await SocketFaultProxy.start(upstreamPath, new Rng(1));
    try {
      expect(p.path.endsWith('/spiderpool.sock')).toBe(true);
      got.length = 0;
      const replies = await Promise.all([1, 2, 3].map((i) => ask(p.path, i)));
      expect(replies).toEqual(['OK ADD 1', 'OK ADD 2', 'OK ADD 3']);
      expect(got.sort()).toEqual(['ADD 1', 'ADD 2', 'ADD 3']);
      expect(p.counts()).toEqual({
        forward: 3,
        closeBeforeForward: 0,
        closeAfterForward: 0,
        upstreamDown: 0,
      });
    } finally {
      await p.close();
    }
  });

  it('at share 1 cuts every connection: before the allocator sees the request, or after it answered', async () => {
    const p = await SocketFaultProxy.start(upstreamPath, new Rng(7));
    try {
      p.setShare(1);
      got.length = 0;
      const ids = Array.from({ length: 20 }, (_, i) => i);
      const replies = await Promise.all(ids.map((i) => ask(p.path, i)));
      expect(replies).toEqual(ids.map(() => 'cut'));
      const c = p.counts();
      // Both kinds happen, and the upstream saw exactly the requests cut after forwarding.
      expect(c.closeBeforeForward).toBeGreaterThan(0);
      expect(c.closeAfterForward).toBeGreaterThan(0);
      expect(c.closeBeforeForward + c.closeAfterForward).toBe(20);
      expect(c.forward).toBe(0);
      expect(got).toHaveLength(c.closeAfterForward);
      // And back to relaying when the window closes.
      p.setShare(0);
      expect(await ask(p.path, 99)).toBe('OK ADD 99');
    } finally {
      await p.close();
    }
  });

  it('an allocator that is down: the connection is cut and counted', async () => {
    const p = await SocketFaultProxy.start(join(dir, 'nobody-listens.sock'), new Rng(3));
    try {
      expect(await ask(p.path, 1)).toBe('cut');
      expect(p.counts().upstreamDown).toBe(1);
    } finally {
      await p.close();
    }
  });

  it('refuses a share outside [0, 1]', async () => {
    const p = await SocketFaultProxy.start(upstreamPath, new Rng(1));
    try {
      expect(() => p.setShare(1.5)).toThrow('share: 1.5 is not in [0, 1]');
    } finally {
      await p.close();
    }
  });
});
