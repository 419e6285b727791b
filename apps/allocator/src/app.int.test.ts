import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { readAllocatorConfig } from './config.ts';

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ socketPath, path, method: 'GET' }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

describe('allocator over a real Unix socket', () => {
  let dir: string;
  let socketPath: string;
  let app: FastifyInstance;
  let ready = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nicpool-alloc-test-'));
    socketPath = join(dir, 'spiderpool.sock');
    const config = readAllocatorConfig({
      NODE_NAME: 'node1',
      NICPOOL_SOCKET_PATH: socketPath,
      NICPOOL_LOG_LEVEL: 'error',
    });
    if (!config.ok) throw new Error(config.error.join('; '));
    app = buildApp(config.value, { ready: () => ready });
    await app.listen({ path: socketPath });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the agent health check the shim uses', async () => {
    expect(await get(socketPath, '/v1/ipam/healthy')).toEqual({
      status: 500,
      body: '{"message":"allocator on node1 is not ready"}',
    });
    ready = true;
    expect((await get(socketPath, '/v1/ipam/healthy')).status).toBe(200);
  });

  it('requires the node name', () => {
    const r = readAllocatorConfig({});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toEqual(['missing NODE_NAME']);
  });
});
