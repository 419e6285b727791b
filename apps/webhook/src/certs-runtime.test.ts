import { describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caBundleOf, render, type Identity, type SecretView, type TlsMaterial } from './certs.ts';
import {
  CertSetupError,
  SelfManagedCerts,
  watchTlsFiles,
  type ConfigKind,
  type SecretPort,
  type ServingTls,
  type WebhookConfigsPort,
} from './certs-runtime.ts';

const DAY = 24 * 3600 * 1000;
const id: Identity = { service: 'svc', namespace: 'ns', extraSans: ['127.0.0.1'] };
const t0 = new Date('2026-01-01T00:00:00Z');
const apiError = (code: number, message: string): Error =>
  Object.assign(new Error(message), { code });

/** One Secret with resourceVersions, as the API server keeps it (409 on a stale write). */
class FakeSecrets implements SecretPort {
  secret: SecretView | undefined;
  #rv = 0;
  writes: string[] = [];
  /** Runs before a write lands: lets a test make another replica win the race. */
  beforeWrite: (() => Promise<void>) | undefined;
  failReads: Error | undefined;

  async read(): Promise<SecretView | undefined> {
    if (this.failReads !== undefined) throw this.failReads;
    return this.secret;
  }
  async create(m: TlsMaterial): Promise<void> {
    await this.#race();
    if (this.secret !== undefined) throw apiError(409, 'AlreadyExists');
    this.#store(m, 'create');
  }
  async update(m: TlsMaterial, read: SecretView): Promise<void> {
    await this.#race();
    if (this.secret?.resourceVersion !== read.resourceVersion) throw apiError(409, 'Conflict');
    this.#store(m, 'update');
  }
  async #race(): Promise<void> {
    const f = this.beforeWrite;
    this.beforeWrite = undefined;
    await f?.();
  }
  #store(m: TlsMaterial, how: string): void {
    this.writes.push(how);
    this.secret = {
      type: 'kubernetes.io/tls',
      labels: {},
      annotations: {},
      data: m,
      resourceVersion: String(++this.#rv),
    };
  }
}

class FakeConfigs implements WebhookConfigsPort {
  readonly configs = new Map<string, { name: string; caBundle?: string }[]>([
    ['ValidatingWebhookConfiguration/v', [{ name: 'a' }, { name: 'b', caBundle: 'stale' }]],
    ['MutatingWebhookConfiguration/m', [{ name: 'c' }]],
  ]);
  patches: string[] = [];
  async read(kind: ConfigKind, name: string) {
    return this.configs.get(`${kind}/${name}`);
  }
  async patch(
    kind: ConfigKind,
    name: string,
    ops: readonly { op: string; path: string; value: string }[],
  ) {
    const hooks = this.configs.get(`${kind}/${name}`)!;
    for (const o of ops) {
      const m = /^\/webhooks\/(\d+)\/(name|clientConfig\/caBundle)$/.exec(o.path)!;
      const hook = hooks[Number(m[1])]!;
      if (o.op === 'test' && hook.name !== o.value) throw apiError(422, 'test failed');
      if (o.op === 'add') hook.caBundle = o.value;
    }
    this.patches.push(`${kind}/${name}`);
  }
}

function replica(
  secrets: SecretPort,
  configs: WebhookConfigsPort,
  now: () => Date,
  logs: string[] = [],
): SelfManagedCerts {
  return new SelfManagedCerts({
    secrets,
    configs,
    where: 'ns/tls',
    identity: id,
    configurations: [
      { kind: 'ValidatingWebhookConfiguration', name: 'v' },
      { kind: 'MutatingWebhookConfiguration', name: 'm' },
      { kind: 'MutatingWebhookConfiguration', name: 'absent' },
    ],
    log: { info: (m) => logs.push(`info: ${m}`), warn: (m) => logs.push(`warn: ${m}`) },
    now,
    retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 2, sleep: async () => {} },
  });
}

describe('SelfManagedCerts', () => {
  it('creates the Secret, then fills every caBundle that differs, once', async () => {
    const secrets = new FakeSecrets();
    const configs = new FakeConfigs();
    const logs: string[] = [];
    const r = replica(secrets, configs, () => t0, logs);
    const m = await r.sync();
    expect(secrets.writes).toEqual(['create']);
    expect(secrets.secret?.data).toEqual(m);
    const want = caBundleOf(m);
    expect([...configs.configs.values()].flat().map((w) => w.caBundle)).toEqual([want, want, want]);
    expect(await r.sync()).toEqual(m);
    expect(secrets.writes).toEqual(['create']);
    expect(configs.patches).toEqual([
      'ValidatingWebhookConfiguration/v',
      'MutatingWebhookConfiguration/m',
    ]);
    expect(logs).toEqual([
      'info: creating Secret ns/tls: Secret ns/tls does not exist',
      'info: set caBundle of 2 webhook(s) in ValidatingWebhookConfiguration v',
      'info: set caBundle of 1 webhook(s) in MutatingWebhookConfiguration m',
      'warn: MutatingWebhookConfiguration absent does not exist (yet); its caBundle will be set once it does',
    ]);
  });

  it('two replicas racing to create end up with the one Secret that won', async () => {
    const secrets = new FakeSecrets();
    const configs = new FakeConfigs();
    const a = replica(secrets, configs, () => t0);
    const b = replica(secrets, configs, () => t0);
    // b creates while a is about to: a's create gets 409 AlreadyExists, re-reads and uses b's.
    let fromB: TlsMaterial | undefined;
    secrets.beforeWrite = async () => {
      fromB = await b.sync();
    };
    const fromA = await a.sync();
    expect(fromA).toEqual(fromB);
    expect(secrets.writes).toEqual(['create']);
    expect(secrets.secret?.data).toEqual(fromA);
  });

  it('a replica whose rotation loses the race uses the winner’s, same CA', async () => {
    const secrets = new FakeSecrets();
    const configs = new FakeConfigs();
    let now = t0;
    const first = await replica(secrets, configs, () => now).sync();
    now = new Date(t0.getTime() + 300 * DAY);
    const a = replica(secrets, configs, () => now);
    const b = replica(secrets, configs, () => now);
    let fromB: TlsMaterial | undefined;
    secrets.beforeWrite = async () => {
      fromB = await b.sync();
    };
    const fromA = await a.sync();
    expect(secrets.writes).toEqual(['create', 'update']);
    expect(fromA).toEqual(fromB);
    expect(fromA.cert).not.toBe(first.cert);
    expect(fromA.ca).toBe(first.ca);
  });

  it("refuses a Secret that is not nicpool's, for good", async () => {
    const secrets = new FakeSecrets();
    secrets.secret = {
      type: 'Opaque',
      labels: {},
      annotations: {},
      data: {},
      resourceVersion: '1',
    };
    const r = replica(secrets, new FakeConfigs(), () => t0);
    await expect(r.initial(1)).rejects.toThrow(CertSetupError);
    expect(secrets.writes).toEqual([]);
  });

  it('says which permission is missing on HTTP 403, and keeps trying at start', async () => {
    const secrets = new FakeSecrets();
    secrets.failReads = apiError(403, 'secrets "tls" is forbidden');
    const logs: string[] = [];
    const r = replica(secrets, new FakeConfigs(), () => t0, logs);
    await expect(r.sync()).rejects.toThrow(
      "reading Secret ns/tls: forbidden (HTTP 403); the webhook's ServiceAccount needs get on secrets (docs/webhook-certificates.md)",
    );
    setTimeout(() => (secrets.failReads = undefined), 20);
    const tls = await r.initial(5);
    expect(new X509Certificate(tls.cert).checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(logs.some((l) => l.startsWith('warn: getting the serving certificate failed'))).toBe(
      true,
    );
  });

  it('hands a rotated certificate to the server on a periodic check', async () => {
    const secrets = new FakeSecrets();
    const r = replica(secrets, new FakeConfigs(), () => t0);
    const served = await r.initial();
    const swapped: ServingTls[] = [];
    r.start(10, (t) => swapped.push(t));
    try {
      // Deleting the Secret (forced rotation): the next check makes and serves a new one.
      secrets.secret = undefined;
      await waitFor(() => swapped.length > 0);
      expect(swapped[0]!.cert).not.toBe(served.cert);
      expect(swapped[0]!.cert).toBe(secrets.secret!.data.cert);
    } finally {
      r.stop();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watchTlsFiles', () => {
  it('hands over a changed pair, skips a mismatched one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nicpool-certs-'));
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    const one = render({ action: 'create', reason: 't' }, {}, id, t0);
    const two = render({ action: 'create', reason: 't' }, {}, id, t0);
    writeFileSync(files.certFile, one.cert);
    writeFileSync(files.keyFile, one.key);
    const swapped: ServingTls[] = [];
    const logs: string[] = [];
    const w = watchTlsFiles(files, one, 10, (t) => swapped.push(t), {
      info: (m) => logs.push(m),
      warn: (m) => logs.push(m),
    });
    try {
      writeFileSync(files.certFile, two.cert);
      await waitFor(() => logs.length > 0);
      expect(swapped).toEqual([]);
      expect(logs[0]).toBe(
        `${files.certFile} and ${files.keyFile} changed but are not a usable pair (yet); serving the previous certificate`,
      );
      writeFileSync(files.keyFile, two.key);
      await waitFor(() => swapped.length > 0);
      expect(swapped).toEqual([{ cert: two.cert, key: two.key }]);
    } finally {
      w.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
