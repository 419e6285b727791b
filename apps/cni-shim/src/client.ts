import { connect } from 'node:net';

export interface ClientReply {
  readonly status: number;
  readonly json: unknown;
}

/** One HTTP request to the allocator; rejects when the socket is unreachable or slow. */
export interface AllocatorClient {
  request(socket: string, method: string, path: string, body: unknown): Promise<ClientReply>;
}

/**
 * One HTTP/1.1 response read from `data`, or undefined while more bytes are needed.
 * Framed by Content-Length, chunked encoding or, with neither, the end of the connection
 * (`ended`); a response cut short throws. 1xx interim responses are skipped.
 */
export function parseResponse(
  data: Buffer,
  ended: boolean,
): { status: number; body: string } | undefined {
  const short = (): undefined => {
    if (ended) throw new Error('the allocator closed the connection mid-response');
    return undefined;
  };
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return short();
  const [statusLine = '', ...lines] = data.toString('latin1', 0, headEnd).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (m === null)
    throw new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const status = Number(m[1]);
  const rest = data.subarray(headEnd + 4);
  if (status < 200) return parseResponse(rest, ended);
  if (status === 204 || status === 304) return { status, body: '' };
  const headers = new Map(
    lines.map((l) => [
      l.slice(0, l.indexOf(':')).trim().toLowerCase(),
      l.slice(l.indexOf(':') + 1).trim(),
    ]),
  );
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    for (let at = 0; ;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) return short();
      const size = parseInt(rest.toString('latin1', at, eol), 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size in the allocator response');
      if (size === 0) return { status, body: Buffer.concat(parts).toString('utf8') };
      if (rest.length < eol + 2 + size + 2) return short();
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  const length = headers.get('content-length');
  if (length === undefined) return ended ? { status, body: rest.toString('utf8') } : undefined;
  const n = Number(length);
  if (!Number.isInteger(n) || n < 0) throw new Error(`bad Content-Length ${length}`);
  return rest.length < n ? short() : { status, body: rest.toString('utf8', 0, n) };
}

/**
 * HTTP/1.1 over the allocator's Unix socket, one connection per request, with a hard
 * deadline well inside the runtime's CNI timeout (the kubelet allows 4 minutes). Written on
 * `node:net` rather than `node:http`: the shim is exec'd once per NIC, and loading the HTTP
 * stack plus its agent cost more than the round trip itself (bench/shim-exec.ts); `net` is
 * also what the single executable's startup snapshot can hold (`http` cannot).
 */
export function socketClient(timeoutMs: number): AllocatorClient {
  return {
    request(socket, method, path, body) {
      const text = body === undefined ? undefined : JSON.stringify(body);
      // Always framed: a DELETE body without Content-Length would be read as a new request.
      const head = [
        `${method} ${path} HTTP/1.1`,
        'host: localhost',
        'accept: application/json',
        'connection: close',
        ...(text === undefined
          ? []
          : ['content-type: application/json', `content-length: ${Buffer.byteLength(text)}`]),
      ];
      return new Promise((resolve, reject) => {
        const conn = connect(socket);
        const chunks: Buffer[] = [];
        const finish = (ended: boolean): void => {
          let reply: { status: number; body: string } | undefined;
          try {
            reply = parseResponse(Buffer.concat(chunks), ended);
          } catch (e) {
            conn.destroy(e as Error);
            return;
          }
          if (reply === undefined) return;
          clearTimeout(timer);
          conn.destroy();
          let json: unknown;
          try {
            json = reply.body === '' ? undefined : JSON.parse(reply.body);
          } catch {
            json = { message: reply.body.slice(0, 200) };
          }
          resolve({ status: reply.status, json });
        };
        const timer = setTimeout(
          () => conn.destroy(new Error(`no answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        conn.on('data', (c: Buffer) => {
          chunks.push(c);
          finish(false);
        });
        conn.on('end', () => finish(true));
        conn.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        // Not end(): like node:http, leave our side open until the server closes after its answer.
        conn.write(`${head.join('\r\n')}\r\n\r\n${text ?? ''}`);
      });
    },
  };
}
