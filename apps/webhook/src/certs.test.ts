import { describe, expect, it } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  assess,
  caBundleOf,
  caBundlePatch,
  certSans,
  DEFAULT_POLICY,
  planSecret,
  render,
  sanKey,
  servingSans,
  splitPem,
  type Identity,
  type SecretView,
  type TlsMaterial,
} from './certs.ts';

const DAY = 24 * 3600 * 1000;
const id: Identity = { service: 'nicpool-webhook', namespace: 'nicpool-system', extraSans: [] };
const t0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);

const fresh = (): TlsMaterial => render({ action: 'create', reason: 'test' }, {}, id, t0);
const cas = (m: TlsMaterial): X509Certificate[] =>
  splitPem(m.ca).map((p) => new X509Certificate(p));
const cert = (m: TlsMaterial): X509Certificate => new X509Certificate(m.cert);
const issuedBy = (m: TlsMaterial, ca: X509Certificate): boolean =>
  cert(m).checkIssued(ca) && cert(m).verify(ca.publicKey);

describe('servingSans', () => {
  it("lists the Service's four DNS names, then the extra SANs, once each", () => {
    expect(
      servingSans({ ...id, extraSans: ['127.0.0.1', 'nicpool-webhook', 'webhook.example'] }),
    ).toEqual([
      'nicpool-webhook',
      'nicpool-webhook.nicpool-system',
      'nicpool-webhook.nicpool-system.svc',
      'nicpool-webhook.nicpool-system.svc.cluster.local',
      '127.0.0.1',
      'webhook.example',
    ]);
  });
  it('compares IPv6 addresses whatever the notation', () => {
    expect(sanKey('0:0:0:0:0:0:0:1')).toBe(sanKey('::1'));
    expect(sanKey('127.0.0.1')).toBe('IP:127.0.0.1');
    expect(sanKey('A.Example')).toBe('DNS:a.example');
  });
});

describe('render create', () => {
  const m = fresh();
  const [ca] = cas(m);

  it('makes a 10-year CA and a 1-year serving certificate it signed, for the SANs', () => {
    expect(ca!.ca).toBe(true);
    expect(ca!.validToDate.getTime() - t0.getTime()).toBe(3650 * DAY);
    const c = cert(m);
    expect(c.ca).toBe(false);
    expect(c.validToDate.getTime() - t0.getTime()).toBe(365 * DAY);
    expect(c.validFromDate.getTime()).toBeLessThan(t0.getTime());
    expect(issuedBy(m, ca!)).toBe(true);
    expect(c.checkPrivateKey(createPrivateKey(m.key))).toBe(true);
    expect(ca!.checkPrivateKey(createPrivateKey(m.caKey))).toBe(true);
    expect(certSans(c)).toEqual(servingSans(id).map(sanKey).sort());
    // Go's x509 parser (the API server's) refuses names outside PrintableString's alphabet.
    const printable = /^CN=[A-Za-z0-9 '()+,\-./:=?]+$/;
    expect(ca!.subject).toMatch(printable);
    expect(c.subject).toMatch(printable);
    expect(c.checkHost('nicpool-webhook.nicpool-system.svc')).toBe(
      'nicpool-webhook.nicpool-system.svc',
    );
  });

  it('puts IP SANs in as IP addresses', () => {
    const withIp = render(
      { action: 'create', reason: 'test' },
      {},
      { ...id, extraSans: ['127.0.0.1', '::1'] },
      t0,
    );
    expect(cert(withIp).checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert(withIp).checkIP('::1')).toBeDefined();
  });

  it('is kept while more than a third of its validity is left', () => {
    expect(assess(m, id, t0)).toEqual({ action: 'keep' });
    expect(assess(m, id, at(240 * DAY))).toEqual({ action: 'keep' });
  });
});

describe('assess', () => {
  const m = fresh();

  it('re-issues the serving certificate from the same CA when a third of it is left', () => {
    const a = assess(m, id, at(250 * DAY));
    expect(a).toEqual({
      action: 'reissue',
      reason: expect.stringContaining('with less than 33% of its validity left'),
    });
    if (a.action !== 'reissue') return;
    const next = render(a, m, id, at(250 * DAY));
    expect(next.ca).toBe(m.ca);
    expect(next.caKey).toBe(m.caKey);
    expect(next.cert).not.toBe(m.cert);
    expect(issuedBy(next, cas(m)[0]!)).toBe(true);
    expect(assess(next, id, at(250 * DAY))).toEqual({ action: 'keep' });
  });

  it('re-issues when the SANs differ, naming both lists', () => {
    const a = assess(m, { ...id, extraSans: ['127.0.0.1'] }, t0);
    expect(a.action).toBe('reissue');
    if (a.action === 'reissue')
      expect(a.reason).toContain('but the webhook needs DNS:nicpool-webhook, ');
    expect(a).toEqual({ action: 'reissue', reason: expect.stringContaining('IP:127.0.0.1') });
  });

  it('re-issues an expired serving certificate, or one whose key does not match', () => {
    expect(assess(m, id, at(366 * DAY))).toEqual({
      action: 'reissue',
      reason: 'tls.crt expired at 2027-01-01T00:00:00.000Z',
    });
    const other = fresh();
    expect(assess({ ...m, key: other.key }, id, t0)).toEqual({
      action: 'reissue',
      reason: 'tls.key does not belong to tls.crt',
    });
    expect(assess({ ...m, cert: other.cert, key: other.key }, id, t0)).toEqual({
      action: 'reissue',
      reason: 'tls.crt was not issued by a CA in ca.crt',
    });
    expect(assess({ ...m, cert: 'garbage' }, id, t0)).toEqual({
      action: 'reissue',
      reason: 'tls.crt is not a PEM certificate',
    });
  });

  it('starts over when the CA is missing, broken, expired or not the key’s', () => {
    expect(assess({ cert: m.cert }, id, t0)).toEqual({
      action: 'create',
      reason: 'no tls.key, ca.crt, ca.key',
    });
    expect(assess({ ...m, ca: 'nope' }, id, t0)).toEqual({
      action: 'create',
      reason: 'ca.crt holds no PEM certificate',
    });
    expect(assess({ ...m, ca: m.cert }, id, t0)).toEqual({
      action: 'create',
      reason: 'the first certificate in ca.crt is not a CA',
    });
    expect(assess({ ...m, caKey: fresh().caKey }, id, t0)).toEqual({
      action: 'create',
      reason: 'ca.key does not belong to the first CA in ca.crt',
    });
    expect(assess(m, id, at(3651 * DAY))).toEqual({
      action: 'create',
      reason: 'the CA expired at 2035-12-30T00:00:00.000Z',
    });
  });
});

describe('CA rotation, step by step', () => {
  it('adds a new CA first, switches the serving certificate after the overlap, drops the old CA when it expires', () => {
    const m0 = fresh();
    const oldCa = cas(m0)[0]!;
    const caEnd = oldCa.validToDate.getTime() - t0.getTime();

    // 40 days before the CA ends: a serving certificate capped at the CA's end.
    const t1 = at(caEnd - 40 * DAY);
    const a1 = assess(m0, id, t1);
    expect(a1.action).toBe('reissue');
    if (a1.action !== 'reissue') return;
    const m1 = render(a1, m0, id, t1);
    expect(cert(m1).validToDate.getTime()).toBe(oldCa.validToDate.getTime());
    expect(assess(m1, id, at(caEnd - 35 * DAY))).toEqual({ action: 'keep' });

    // 25 days before: a new CA, old one kept in ca.crt, serving certificate unchanged.
    const t2 = at(caEnd - 25 * DAY);
    const a2 = assess(m1, id, t2);
    expect(a2).toEqual({
      action: 'rotate-ca',
      reason: 'the CA expires at 2035-12-30T00:00:00.000Z, within 30 days',
    });
    if (a2.action !== 'rotate-ca') return;
    const m2 = render(a2, m1, id, t2);
    const [newCa, kept] = cas(m2);
    expect(kept!.fingerprint256).toBe(oldCa.fingerprint256);
    expect(newCa!.subject).not.toBe(oldCa.subject);
    expect(newCa!.checkPrivateKey(createPrivateKey(m2.caKey))).toBe(true);
    expect(m2.cert).toBe(m1.cert);

    // Within the overlap nothing changes; after it the new CA issues the serving certificate.
    expect(assess(m2, id, new Date(t2.getTime() + 10 * 60 * 1000))).toEqual({ action: 'keep' });
    const t3 = new Date(t2.getTime() + DEFAULT_POLICY.caOverlapMs);
    const a3 = assess(m2, id, t3);
    expect(a3).toEqual({
      action: 'reissue',
      reason: 'tls.crt was issued by the previous CA and the new one is in every caBundle by now',
    });
    if (a3.action !== 'reissue') return;
    const m3 = render(a3, m2, id, t3);
    expect(issuedBy(m3, newCa!)).toBe(true);
    expect(m3.ca).toBe(m2.ca);

    // Once the old CA has expired it leaves ca.crt.
    const t4 = at(caEnd + 1000);
    const a4 = assess(m3, id, t4);
    expect(a4.action).toBe('prune');
    if (a4.action !== 'prune') return;
    const m4 = render(a4, m3, id, t4);
    expect(cas(m4).map((c) => c.fingerprint256)).toEqual([newCa!.fingerprint256]);
    expect(assess(m4, id, t4)).toEqual({ action: 'keep' });
  });

  it('re-issues at once with the new CA when the serving certificate is unusable anyway', () => {
    const m0 = fresh();
    const t = at(3650 * DAY - 10 * DAY);
    const a = assess(m0, id, t);
    expect(a).toEqual({
      action: 'rotate-ca',
      reason: 'the CA expires at 2035-12-30T00:00:00.000Z, within 30 days',
      reissue: 'tls.crt expired at 2027-01-01T00:00:00.000Z',
    });
    if (a.action !== 'rotate-ca') return;
    const m = render(a, m0, id, t);
    expect(issuedBy(m, cas(m)[0]!)).toBe(true);
    expect(cas(m)).toHaveLength(2);
  });
});

describe('planSecret', () => {
  const where = 'nicpool-system/nicpool-webhook-tls';
  const view = (data: Partial<TlsMaterial>, extra: Partial<SecretView> = {}): SecretView => ({
    type: 'kubernetes.io/tls',
    labels: {},
    annotations: {},
    data,
    resourceVersion: '7',
    ...extra,
  });

  it('creates a missing Secret', () => {
    const p = planSecret(undefined, where, id, t0);
    expect(p.kind).toBe('create');
    if (p.kind === 'create') expect(p.reason).toBe(`Secret ${where} does not exist`);
  });

  it('uses a good one, and updates a stale one against the resourceVersion read', () => {
    const m = fresh();
    expect(planSecret(view(m), where, id, t0)).toEqual({ kind: 'use', material: m });
    const p = planSecret(view(m), where, id, at(300 * DAY));
    expect(p).toMatchObject({ kind: 'update', resourceVersion: '7' });
  });

  it("refuses a Secret of another type or cert-manager's", () => {
    expect(planSecret(view({}, { type: 'Opaque' }), where, id, t0)).toEqual({
      kind: 'refuse',
      message: `Secret ${where} has type "Opaque", not "kubernetes.io/tls"; the webhook will not overwrite it: delete it (the webhook then creates its own) or name another Secret in NICPOOL_WEBHOOK_TLS_SECRET`,
    });
    expect(
      planSecret(
        view({}, { annotations: { 'cert-manager.io/certificate-name': 'nicpool-webhook' } }),
        where,
        id,
        t0,
      ),
    ).toEqual({
      kind: 'refuse',
      message: `Secret ${where} is managed by cert-manager (Certificate "nicpool-webhook"); set NICPOOL_WEBHOOK_CERT_MODE=files to serve it as mounted, or name another Secret in NICPOOL_WEBHOOK_TLS_SECRET`,
    });
  });
});

describe('caBundlePatch', () => {
  const m = fresh();
  const b = caBundleOf(m);

  it('is the PEM bundle in base64', () => {
    expect(Buffer.from(b, 'base64').toString()).toBe(m.ca);
  });

  it('sets only the entries that differ, each guarded by a test of its name', () => {
    expect(
      caBundlePatch([{ name: 'a', caBundle: b }, { name: 'b', caBundle: 'old' }, { name: 'c' }], b),
    ).toEqual([
      { op: 'test', path: '/webhooks/1/name', value: 'b' },
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: b },
      { op: 'test', path: '/webhooks/2/name', value: 'c' },
      { op: 'add', path: '/webhooks/2/clientConfig/caBundle', value: b },
    ]);
    expect(caBundlePatch([{ name: 'a', caBundle: b }], b)).toEqual([]);
  });
});
