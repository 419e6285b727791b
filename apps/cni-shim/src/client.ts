import { request } from 'node:http';

export interface ClientReply {
  readonly status: number;
  readonly json: unknown;
}

/** One HTTP request to the allocator; rejects when the socket is unreachable or slow. */
export interface AllocatorClient {
  request(socket: string, method: string, path: string, body: unknown): Promise<ClientReply>;
}

/**
 * HTTP/1.1 over the allocator's Unix socket, one connection per request, with a hard
 * deadline well inside the runtime's CNI timeout (the kubelet allows 4 minutes).
 */
export function socketClient(timeoutMs: number): AllocatorClient {
  return {
    request(socket, method, path, body) {
      const text = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const headers: Record<string, string | number> = { accept: 'application/json' };
        if (text !== undefined) {
          headers['content-type'] = 'application/json';
          // Always framed: a DELETE body without Content-Length would be read as a new request.
          headers['content-length'] = Buffer.byteLength(text);
        }
        const req = request({ socketPath: socket, path, method, headers, agent: false }, (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => {
            clearTimeout(timer);
            let json: unknown;
            try {
              json = data === '' ? undefined : JSON.parse(data);
            } catch {
              json = { message: data.slice(0, 200) };
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
        });
        const timer = setTimeout(
          () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        req.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        req.end(text);
      });
    },
  };
}
