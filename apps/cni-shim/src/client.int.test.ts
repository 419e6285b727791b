// The shim's HTTP/1.1 client over a real Unix socket: against Node's HTTP server (what the
// allocator's fastify runs on) and against raw servers for the framings and failures.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseResponse, socketClient } from './client.ts';

const dir = mkdtempSync(join(tmpdir(), 'nicpool-shim-client-'));
const servers: Server[] = [];
const connections: Socket[] = [];
afterAll(async () => {
  for (const c of connections) c.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

async function listen(name: string, server: Server): Promise<string> {
  const path = join(dir, `${name}.sock`);
  servers.push(server);
  server.on('connection', (c: Socket) => connections.push(c));
  await new Promise<void>((r) => server.listen(path, r));
  return path;
}

/** A server that reads one request and writes `answer` as raw bytes, then closes (or not). */
function raw(name: string, answer: string | Buffer, close = true): Promise<string> {
  return listen(
    name,
    createServer((s: Socket) => {
      s.once('data', () => {
        s.write(answer);
        if (close) s.end();
      });
      s.on('error', () => undefined);
    }),
  );
}

describe('against node:http', () => {
  let sock: string;
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] =
    [];
  beforeAll(async () => {
    sock = await listen(
      'http',
      createHttpServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => {
          seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
          if (req.url === '/chunked') {
            res.writeHead(503, { 'content-type': 'application/json' });
            res.write('{"code":"NOT_');
            res.end('READY","message":"caches not synced – ünïcode"}');
          } else if (req.url === '/empty') res.writeHead(200).end();
          else res.writeHead(200, { 'content-type': 'application/json' }).end(body || '{}');
        });
      }),
    );
  });

  it('sends a framed JSON body and reads a Content-Length answer', async () => {
    const body = { ifName: 'net1', podName: 'pöd' };
    const r = await socketClient(5000).request(sock, 'POST', '/v1/ipam/ip', body);
    expect(r).toEqual({ status: 200, json: body });
    const req = seen.at(-1)!;
    expect(req).toMatchObject({ method: 'POST', url: '/v1/ipam/ip', body: JSON.stringify(body) });
    expect(req.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(JSON.stringify(body))),
      accept: 'application/json',
    });
  });

  it('frames a DELETE body too', async () => {
    const r = await socketClient(5000).request(sock, 'DELETE', '/v1/ipam/ip', { a: 1 });
    expect(r).toEqual({ status: 200, json: { a: 1 } });
  });

  it('sends no body for a GET and reads an empty answer as undefined', async () => {
    const r = await socketClient(5000).request(sock, 'GET', '/empty', undefined);
    expect(r).toEqual({ status: 200, json: undefined });
    expect(seen.at(-1)!.headers['content-length']).toBeUndefined();
  });

  it('reads a chunked answer with multibyte text across chunks', async () => {
    const r = await socketClient(5000).request(sock, 'GET', '/chunked', undefined);
    expect(r).toEqual({
      status: 503,
      json: { code: 'NOT_READY', message: 'caches not synced – ünïcode' },
    });
  });
});

describe('framings and failures', () => {
  it('reads a body delimited by the end of the connection', async () => {
    const sock = await raw('eof', 'HTTP/1.1 200 OK\r\n\r\n{"ips":[]}');
    expect(await socketClient(5000).request(sock, 'GET', '/', undefined)).toEqual({
      status: 200,
      json: { ips: [] },
    });
  });

  it('answers once Content-Length bytes are in, even if the server keeps the connection', async () => {
    const sock = await raw('open', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}', false);
    expect(await socketClient(5000).request(sock, 'GET', '/', undefined)).toEqual({
      status: 200,
      json: {},
    });
  });

  it('skips a 100 Continue', async () => {
    const sock = await raw(
      'continue',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 16\r\n\r\n{"code":"NO_X"}\n',
    );
    expect(await socketClient(5000).request(sock, 'GET', '/', undefined)).toEqual({
      status: 404,
      json: { code: 'NO_X' },
    });
  });

  it('keeps a non-JSON body as a message of at most 200 characters', async () => {
    const text = `<html>${'x'.repeat(300)}`;
    const sock = await raw(
      'html',
      `HTTP/1.1 502 Bad Gateway\r\ncontent-length: ${text.length}\r\n\r\n${text}`,
    );
    expect(await socketClient(5000).request(sock, 'GET', '/', undefined)).toEqual({
      status: 502,
      json: { message: text.slice(0, 200) },
    });
  });

  it('rejects a response cut short', async () => {
    const sock = await raw('short', 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{"a"');
    await expect(socketClient(5000).request(sock, 'GET', '/', undefined)).rejects.toThrow(
      'closed the connection mid-response',
    );
  });

  it('rejects what is not HTTP', async () => {
    const sock = await raw('garbage', 'SSH-2.0-OpenSSH\r\n\r\n');
    await expect(socketClient(5000).request(sock, 'GET', '/', undefined)).rejects.toThrow(
      'not an HTTP response',
    );
  });

  it('rejects when nobody listens', async () => {
    await expect(
      socketClient(5000).request(join(dir, 'none.sock'), 'GET', '/', undefined),
    ).rejects.toThrow('ENOENT');
  });

  it('rejects a server that never answers, at the deadline', async () => {
    const sock = await listen(
      'silent',
      createServer(() => undefined),
    );
    await expect(socketClient(100).request(sock, 'GET', '/', undefined)).rejects.toThrow(
      'no answer within 100 ms',
    );
  });
});

describe('parseResponse', () => {
  const whole = [
    'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{"a":"é"}',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n6;x=y\r\n:"é"}\r\n0\r\n\r\n',
    'HTTP/1.0 204 No Content\r\n\r\n',
  ].map((s) => Buffer.from(s));

  it('needs more bytes for every proper prefix, then reads the same answer', () => {
    for (const b of whole) {
      const done = parseResponse(b, false);
      expect(done).toBeDefined();
      for (let n = 0; n < b.length; n++) {
        const part = parseResponse(b.subarray(0, n), false);
        // A chunked body is complete at its last chunk; anything earlier must wait.
        if (part !== undefined) expect(part).toEqual(done);
      }
    }
    expect(parseResponse(whole[0]!, false)).toEqual({ status: 200, body: '{"a":"é"}' });
    expect(parseResponse(whole[1]!, false)).toEqual({ status: 200, body: '{"a":"é"}' });
    expect(parseResponse(whole[2]!, false)).toEqual({ status: 204, body: '' });
  });

  it('throws on a bad Content-Length or chunk size', () => {
    expect(() =>
      parseResponse(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n'), false),
    ).toThrow('bad Content-Length');
    expect(() =>
      parseResponse(
        Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'),
        false,
      ),
    ).toThrow('bad chunk size');
  });
});
