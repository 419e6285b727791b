/**
 * The generated certificates over real TLS: a client that trusts only the caBundle accepts
 * the serving certificate for the Service name and an extra IP SAN, and a context swapped
 * with setSecureContext (the hot reload) applies to the next connection.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { connect, createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { render, type Identity, type TlsMaterial } from './certs.ts';

const id: Identity = {
  service: 'nicpool-webhook',
  namespace: 'nicpool-system',
  extraSans: ['127.0.0.1'],
};

function handshake(
  port: number,
  ca: string,
  servername?: string,
): Promise<{ authorized: boolean; error?: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: '127.0.0.1', port, ca, servername, rejectUnauthorized: false },
      () => {
        const r = {
          authorized: s.authorized,
          error: s.authorizationError?.toString(),
          fingerprint: s.getPeerCertificate().fingerprint256,
        };
        s.end();
        resolve(r);
      },
    );
    s.on('error', reject);
  });
}

describe('self-managed certificates over TLS', () => {
  let server: Server;
  let port: number;
  let one: TlsMaterial;

  beforeAll(async () => {
    one = render({ action: 'create', reason: 't' }, {}, id, new Date());
    server = createServer({ cert: one.cert, key: one.key }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('verifies against ca.crt for the Service name and the IP SAN', async () => {
    const byName = await handshake(port, one.ca, 'nicpool-webhook.nicpool-system.svc');
    expect(byName).toMatchObject({ authorized: true });
    const byIp = await handshake(port, one.ca);
    expect(byIp).toMatchObject({ authorized: true });
    const other = render({ action: 'create', reason: 't' }, {}, id, new Date());
    expect(await handshake(port, other.ca)).toMatchObject({ authorized: false });
  });

  it('serves a re-issued certificate after setSecureContext, still trusted by the same CA', async () => {
    const a = { action: 'reissue', reason: 't' } as const;
    const two = render(a, one, id, new Date());
    server.setSecureContext({ cert: two.cert, key: two.key });
    const r = await handshake(port, one.ca, 'nicpool-webhook.nicpool-system.svc');
    expect(r.authorized).toBe(true);
    expect(r.fingerprint).toBe(new X509Certificate(two.cert).fingerprint256);
  });
});
