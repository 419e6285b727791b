/**
 * Self-managed webhook certificates against the real API server (issue #6): the webhook
 * makes its CA and serving certificate in a Secret, fills the caBundle of configurations
 * registered with none, and the API server then calls it over TLS; deleting the Secret
 * rotates everything; a second replica adopts the same Secret.
 *
 * The configurations have names of this suite's own and an objectSelector on a label only
 * this suite's objects carry, so no other suite's objects are sent to these webhooks.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webhookConfigurations } from '@nicpool/manifests';
import { freePort, REPO } from './cluster/control-plane.ts';
import { cluster, createNamespace, eventually, k, uniqueName } from './harness/helpers.ts';
import { expectInvariants } from './harness/invariants.ts';

const SECRET = 'nicpool-webhook-tls';

interface Secret {
  type: string;
  data: Record<string, string>;
  metadata: { resourceVersion: string; uid: string };
}
interface Config {
  webhooks: { name: string; clientConfig: { caBundle?: string } }[];
}

/** HTTPS GET on loopback: status and the served certificate's fingerprint; `ca` makes it verify. */
function get(
  port: number,
  path: string,
  ca?: string,
): Promise<{ status: number; fingerprint: string }> {
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        ...(ca === undefined ? { rejectUnauthorized: false } : { ca }),
      },
      (r) => {
        const fingerprint = (
          r.socket as unknown as { getPeerCertificate(): { fingerprint256: string } }
        ).getPeerCertificate().fingerprint256;
        r.resume();
        res({ status: r.statusCode ?? 0, fingerprint });
      },
    );
    req.on('error', rej);
    req.end();
  });
}

describe('self-managed webhook certificates e2e', () => {
  const ns = uniqueName('whcerts');
  const validating = `${ns}-validating`;
  const mutating = `${ns}-mutating`;
  const selector = { 'nicpool.test/webhook-certs': ns };
  const dir = mkdtempSync(join(tmpdir(), 'nicpool-webhook-certs-'));
  const children: ChildProcess[] = [];
  let port: number;

  const logOf = (name: string): string => {
    try {
      return readFileSync(join(dir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  };

  async function startWebhook(name: string, p: number): Promise<ChildProcess> {
    const log = openSync(join(dir, `${name}.log`), 'a');
    const child = spawn(
      join(REPO, 'node_modules', '.bin', 'node'),
      [join(REPO, 'apps', 'webhook', 'src', 'main.ts')],
      {
        env: {
          PATH: process.env['PATH'],
          NICPOOL_WEBHOOK_HOST: '127.0.0.1',
          NICPOOL_WEBHOOK_PORT: String(p),
          NICPOOL_WEBHOOK_CERT_MODE: 'self-managed',
          NICPOOL_WEBHOOK_NAMESPACE: ns,
          NICPOOL_WEBHOOK_EXTRA_SANS: '127.0.0.1',
          NICPOOL_WEBHOOK_VALIDATING_CONFIG: validating,
          NICPOOL_WEBHOOK_MUTATING_CONFIG: mutating,
          // Quick re-checks so a deleted Secret is noticed within the test's patience.
          NICPOOL_WEBHOOK_CERT_CHECK_SECONDS: '1',
          KUBECONFIG: cluster().kubeconfig,
          NICPOOL_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', log, log],
      },
    );
    children.push(child);
    await eventually(
      `webhook ${name} ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
        return (await get(p, '/readyz')).status === 200 ? true : undefined;
      },
      60_000,
      () => logOf(name).slice(-2000),
    );
    return child;
  }

  const secret = async (): Promise<Secret> =>
    JSON.parse(await k(['get', 'secret', SECRET, '-n', ns, '-o', 'json'])) as Secret;
  const caOf = (s: Secret): string => Buffer.from(s.data['ca.crt']!, 'base64').toString();
  const caBundles = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [kind, name] of [
      ['validatingwebhookconfiguration', validating],
      ['mutatingwebhookconfiguration', mutating],
    ] as const) {
      const c = JSON.parse(await k(['get', kind, name, '-o', 'json'])) as Config;
      for (const w of c.webhooks)
        out.push(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString());
    }
    return out;
  };

  /** kubectl's stderr for a server-side dry run of a Pod with a malformed ippools annotation. */
  const badPodError = (): Promise<string> =>
    k(
      ['create', '--dry-run=server', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'bad-pod',
          namespace: ns,
          labels: selector,
          annotations: {
            'ipam.spidernet.io/ippools': JSON.stringify([{ interface: 'eth0', ipv4s: ['p'] }]),
          },
        },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      }),
    ).then(
      () => 'admitted',
      (e: { stderr?: string }) => e.stderr ?? 'failed without stderr',
    );
  let lastDenial = '';
  const denied = (err: string): boolean =>
    err.includes('admission webhook "pods.validate.nicpool.spidernet.io" denied the request') &&
    err.includes('unknown field `ipv4s` in item 0 of ipam.spidernet.io/ippools');

  beforeAll(async () => {
    await createNamespace(ns);
    port = await freePort();
    // Registered with an empty caBundle: until the webhook fills it, the API server cannot
    // verify the webhook and every call fails.
    const docs = webhookConfigurations(
      (path) => ({ url: `https://127.0.0.1:${port}${path}`, caBundle: '' }),
      selector,
    );
    const [v, m] = docs as [
      { metadata: { name: string }; webhooks: Record<string, unknown>[] },
      { metadata: { name: string }; webhooks: Record<string, unknown>[] },
    ];
    v.metadata.name = validating;
    m.metadata.name = mutating;
    for (const w of [...v.webhooks, ...m.webhooks]) w['objectSelector'] = { matchLabels: selector };
    await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }));
    await startWebhook('first', port);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    await k([
      'delete',
      `validatingwebhookconfiguration/${validating}`,
      `mutatingwebhookconfiguration/${mutating}`,
      '--ignore-not-found',
    ]).catch(() => undefined);
    await k(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('creates the Secret and fills every caBundle with its CA; the API server then calls the webhook', async () => {
    const s = await secret();
    expect(s.type).toBe('kubernetes.io/tls');
    expect(Object.keys(s.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const ca = caOf(s);
    await eventually('caBundles filled', async () =>
      (await caBundles()).every((b) => b === ca) ? true : undefined,
    );
    // Validating: pods, workloads, cronjobs, namespaces, pools; mutating: pools.
    expect(await caBundles()).toHaveLength(6);
    // The served certificate verifies against the Secret's CA for 127.0.0.1.
    expect((await get(port, '/healthz', ca)).status).toBe(200);
    const err = await eventually(
      'the webhook to deny the bad Pod',
      async () => {
        lastDenial = await badPodError();
        return denied(lastDenial) ? lastDenial : undefined;
      },
      60_000,
      () => `kubectl said: ${lastDenial}; webhook log: ${logOf('first').slice(-2000)}`,
    );
    expect(err).toContain('did you mean `ipv4`?');
  }, 120_000);

  it('deleting the Secret makes a new CA, a new caBundle, and admission keeps working', async () => {
    const before = await secret();
    const oldCa = caOf(before);
    await k(['delete', 'secret', SECRET, '-n', ns]);
    const after = await eventually('a new Secret', async () => {
      const s = await secret().catch(() => undefined);
      return s !== undefined && s.metadata.uid !== before.metadata.uid ? s : undefined;
    });
    const newCa = caOf(after);
    expect(newCa).not.toBe(oldCa);
    await eventually('caBundles updated to the new CA', async () =>
      (await caBundles()).every((b) => b === newCa) ? true : undefined,
    );
    // The first webhook swapped its certificate without a restart.
    await eventually('the new certificate served', async () =>
      (await get(port, '/healthz', newCa).catch(() => ({ status: 0 }))).status === 200
        ? true
        : undefined,
    );
    expect(children[0]!.exitCode).toBeNull();
    await eventually('the webhook to deny the bad Pod again', async () =>
      denied(await badPodError()) ? true : undefined,
    );
  }, 180_000);

  it('a second replica adopts the same Secret: same CA, same certificate, no rewrites', async () => {
    const s = await secret();
    const port2 = await freePort();
    await startWebhook('second', port2);
    // Several check rounds of both replicas.
    await new Promise((r) => setTimeout(r, 4000));
    const later = await secret();
    expect(later.metadata.resourceVersion).toBe(s.metadata.resourceVersion);
    const ca = caOf(later);
    const one = await get(port, '/healthz', ca);
    const two = await get(port2, '/healthz', ca);
    expect(two.status).toBe(200);
    expect(two.fingerprint).toBe(one.fingerprint);
    expect((await caBundles()).every((b) => b === ca)).toBe(true);
    expect(logOf('second')).not.toMatch(/(creating|updating) Secret/);
    expect(denied(await badPodError())).toBe(true);
  }, 120_000);
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
