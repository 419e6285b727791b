/**
 * The webhook's self-managed TLS material as pure decisions over one Secret's contents
 * (issue #6, spec webhook.md "Certificates"): a CA and a serving certificate it signed,
 * kept in a Secret of type kubernetes.io/tls (`tls.crt`, `tls.key`, `ca.crt`, and `ca.key`,
 * the CA's own key, so any replica can re-issue from the same CA). Every decision takes the
 * time as an argument; reading and writing the Secret is certs-runtime.ts's job.
 *
 * Certificates are parsed and checked with Node's crypto and built in certs-x509.ts.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { rsaKey, selfSignedCa, serverCert, type NewKey } from './certs-x509.ts';

export { rsaKey, type NewKey };

/** The Secret's data keys. `ca.crt` may hold several CAs: the current one first. */
export const SECRET_KEYS = {
  cert: 'tls.crt',
  key: 'tls.key',
  ca: 'ca.crt',
  caKey: 'ca.key',
} as const;

const DAY = 24 * 3600 * 1000;

export interface CertPolicy {
  readonly caValidityMs: number;
  readonly servingValidityMs: number;
  /** Re-issue the serving certificate when less than this fraction of its validity is left. */
  readonly renewServingFraction: number;
  /** Make a new CA when the current one expires within this long. */
  readonly renewCaBeforeMs: number;
  /**
   * After a new CA is made, the serving certificate of the old one is kept this long, so
   * the API server has the caBundle with both CAs before it is shown a certificate of the new one.
   */
  readonly caOverlapMs: number;
  /** notBefore lies this far in the past, for clocks behind ours. */
  readonly backdateMs: number;
}

export const DEFAULT_POLICY: CertPolicy = {
  caValidityMs: 3650 * DAY,
  servingValidityMs: 365 * DAY,
  renewServingFraction: 1 / 3,
  renewCaBeforeMs: 30 * DAY,
  caOverlapMs: 3600 * 1000,
  backdateMs: 3600 * 1000,
};

/** Who the serving certificate is for. */
export interface Identity {
  readonly service: string;
  readonly namespace: string;
  /** DNS names or IP addresses besides the Service's names (e.g. 127.0.0.1 for local runs). */
  readonly extraSans: readonly string[];
}

/** PEM texts as stored in the Secret. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** One or more CA certificates; the first signs new serving certificates. */
  readonly ca: string;
  readonly caKey: string;
}

/** The Service's four DNS names, then the extra SANs, without duplicates. */
export function servingSans(id: Identity): string[] {
  const base = `${id.service}.${id.namespace}`;
  return [
    ...new Set([id.service, base, `${base}.svc`, `${base}.svc.cluster.local`, ...id.extraSans]),
  ];
}

/** What to do with the Secret's current contents. */
export type Assessment =
  | { readonly action: 'keep' }
  /** Nothing usable: a new CA (alone in ca.crt) and a serving certificate it signs. */
  | { readonly action: 'create'; readonly reason: string }
  /**
   * A new CA goes first in ca.crt, the old ones stay while valid; the serving certificate
   * is re-issued by the new CA at once only when `reissue` says why (else after the overlap).
   */
  | { readonly action: 'rotate-ca'; readonly reason: string; readonly reissue?: string }
  /** A new serving certificate from the current CA. */
  | { readonly action: 'reissue'; readonly reason: string }
  /** Only drop expired CAs from ca.crt. */
  | { readonly action: 'prune'; readonly reason: string };

/** Splits a PEM bundle into its certificates (PEM text each). */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function parseCert(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function parseKey(pem: string): ReturnType<typeof createPrivateKey> | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}

/** `DNS:name` / `IP:canonical address` entries, comparable whatever the notation. */
export function sanKey(san: string): string {
  if (isIP(san) === 0) return `DNS:${san.toLowerCase()}`;
  // The URL parser writes IPv6 in its canonical compressed form ([::1] for 0:0:0:0:0:0:0:1).
  const host = new URL(`http://${isIP(san) === 6 ? `[${san}]` : san}/`).hostname;
  return `IP:${host.replace(/^\[|\]$/g, '')}`;
}

/** The certificate's DNS and IP subjectAltNames, as {@link sanKey} entries, sorted. */
export function certSans(cert: X509Certificate): string[] {
  const out: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) out.push(sanKey(part.slice(4)));
    else if (part.startsWith('IP Address:')) out.push(sanKey(part.slice(11)));
  }
  return out.sort();
}

const iso = (d: Date): string => d.toISOString();
const issuedBy = (cert: X509Certificate, ca: X509Certificate): boolean =>
  cert.checkIssued(ca) && cert.verify(ca.publicKey);

/**
 * Is the serving certificate fine? undefined if so, else why it must be re-issued.
 * `cas` is ca.crt in order (the current CA first).
 */
function servingProblem(
  m: TlsMaterial,
  cas: readonly X509Certificate[],
  id: Identity,
  now: Date,
  p: CertPolicy,
): string | undefined {
  const cert = parseCert(m.cert);
  if (cert === undefined) return 'tls.crt is not a PEM certificate';
  const key = parseKey(m.key);
  if (key === undefined) return 'tls.key is not a PEM private key';
  if (!cert.checkPrivateKey(key)) return 'tls.key does not belong to tls.crt';
  const issuer = cas.find((ca) => issuedBy(cert, ca));
  if (issuer === undefined) return 'tls.crt was not issued by a CA in ca.crt';
  const t = now.getTime();
  const end = cert.validToDate.getTime();
  if (t >= end) return `tls.crt expired at ${iso(cert.validToDate)}`;
  const lifetime = end - cert.validFromDate.getTime();
  if (end - t < lifetime * p.renewServingFraction)
    return `tls.crt expires at ${iso(cert.validToDate)}, with less than ${Math.round(p.renewServingFraction * 100)}% of its validity left`;
  const want = [...new Set(servingSans(id).map(sanKey))].sort();
  const have = certSans(cert);
  if (want.join(',') !== have.join(','))
    return `tls.crt names ${have.join(', ')} but the webhook needs ${want.join(', ')}`;
  const current = cas[0]!;
  if (issuer !== current && t - caCreatedAt(current, p) >= p.caOverlapMs)
    return 'tls.crt was issued by the previous CA and the new one is in every caBundle by now';
  return undefined;
}

const caCreatedAt = (ca: X509Certificate, p: CertPolicy): number =>
  ca.validFromDate.getTime() + p.backdateMs;

/** Decides what, if anything, must change in the Secret's contents at time `now`. */
export function assess(
  m: Partial<TlsMaterial>,
  id: Identity,
  now: Date,
  p: CertPolicy = DEFAULT_POLICY,
): Assessment {
  const missing = Object.entries(SECRET_KEYS)
    .filter(([field]) => !m[field as keyof TlsMaterial])
    .map(([, key]) => key);
  if (missing.length > 0) return { action: 'create', reason: `no ${missing.join(', ')}` };
  const full = m as TlsMaterial;
  const pems = splitPem(full.ca);
  const cas = pems.map(parseCert);
  if (cas.length === 0) return { action: 'create', reason: 'ca.crt holds no PEM certificate' };
  if (cas.some((c) => c === undefined))
    return { action: 'create', reason: 'ca.crt holds a certificate that cannot be parsed' };
  const valid = cas as X509Certificate[];
  const current = valid[0]!;
  if (!current.ca)
    return { action: 'create', reason: 'the first certificate in ca.crt is not a CA' };
  const caKey = parseKey(full.caKey);
  if (caKey === undefined) return { action: 'create', reason: 'ca.key is not a PEM private key' };
  if (!current.checkPrivateKey(caKey))
    return { action: 'create', reason: 'ca.key does not belong to the first CA in ca.crt' };
  const t = now.getTime();
  if (t >= current.validToDate.getTime())
    return { action: 'create', reason: `the CA expired at ${iso(current.validToDate)}` };
  const serving = servingProblem(full, valid, id, now, p);
  if (current.validToDate.getTime() - t < p.renewCaBeforeMs) {
    const reason = `the CA expires at ${iso(current.validToDate)}, within ${Math.round(p.renewCaBeforeMs / DAY)} days`;
    return serving === undefined
      ? { action: 'rotate-ca', reason }
      : { action: 'rotate-ca', reason, reissue: serving };
  }
  if (serving !== undefined) return { action: 'reissue', reason: serving };
  const expired = valid.filter((c) => t >= c.validToDate.getTime());
  if (expired.length > 0)
    return {
      action: 'prune',
      reason: `ca.crt still holds ${expired.length} expired CA certificate(s)`,
    };
  return { action: 'keep' };
}

function newCa(now: Date, p: CertPolicy, keygen: () => NewKey): { cert: string; key: string } {
  const key = keygen();
  // A distinct name per CA, so the old and the new one are told apart in a caBundle.
  const cert = selfSignedCa(`nicpool-webhook-ca-${Math.floor(now.getTime() / 1000)}`, key, {
    notBefore: new Date(now.getTime() - p.backdateMs),
    notAfter: new Date(now.getTime() + p.caValidityMs),
  });
  return { cert, key: key.pem };
}

function issueServing(
  ca: { cert: string; key: string },
  id: Identity,
  now: Date,
  p: CertPolicy,
  keygen: () => NewKey,
): { cert: string; key: string } {
  const key = keygen();
  const caEnd = new X509Certificate(ca.cert).validToDate.getTime();
  const cert = serverCert(ca, `${id.service}.${id.namespace}.svc`, servingSans(id), key, {
    notBefore: new Date(now.getTime() - p.backdateMs),
    // Never beyond the CA: a chain is only as valid as its shortest link.
    notAfter: new Date(Math.min(now.getTime() + p.servingValidityMs, caEnd)),
  });
  return { cert, key: key.pem };
}

/** The CAs of `bundle` still valid at `now`, in order, as one PEM text. */
function unexpired(bundle: string, now: Date): string[] {
  return splitPem(bundle).filter((pem) => {
    const c = parseCert(pem);
    return c !== undefined && now.getTime() < c.validToDate.getTime();
  });
}

const joinPem = (pems: readonly string[]): string => pems.map((p) => `${p.trim()}\n`).join('');

/**
 * The Secret's new contents for an assessment other than `keep`. `old` must be what
 * {@link assess} looked at.
 */
export function render(
  a: Exclude<Assessment, { action: 'keep' }>,
  old: Partial<TlsMaterial>,
  id: Identity,
  now: Date,
  p: CertPolicy = DEFAULT_POLICY,
  keygen: () => NewKey = rsaKey,
): TlsMaterial {
  switch (a.action) {
    case 'create': {
      const ca = newCa(now, p, keygen);
      const s = issueServing(ca, id, now, p, keygen);
      return { cert: s.cert, key: s.key, ca: joinPem([ca.cert]), caKey: ca.key };
    }
    case 'rotate-ca': {
      const o = old as TlsMaterial;
      const ca = newCa(now, p, keygen);
      const s = a.reissue === undefined ? o : issueServing(ca, id, now, p, keygen);
      return {
        cert: s.cert,
        key: s.key,
        ca: joinPem([ca.cert, ...unexpired(o.ca, now)]),
        caKey: ca.key,
      };
    }
    case 'reissue': {
      const o = old as TlsMaterial;
      const kept = unexpired(o.ca, now);
      const s = issueServing({ cert: kept[0]!, key: o.caKey }, id, now, p, keygen);
      return { cert: s.cert, key: s.key, ca: joinPem(kept), caKey: o.caKey };
    }
    case 'prune': {
      const o = old as TlsMaterial;
      return { ...o, ca: joinPem(unexpired(o.ca, now)) };
    }
  }
}

/** The Secret as the planner sees it: decoded data, plus what tells whose it is. */
export interface SecretView {
  readonly type: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly data: Partial<TlsMaterial>;
  readonly resourceVersion: string;
}

export type SecretPlan =
  | { readonly kind: 'refuse'; readonly message: string }
  | { readonly kind: 'use'; readonly material: TlsMaterial }
  | {
      readonly kind: 'create' | 'update';
      readonly material: TlsMaterial;
      readonly reason: string;
      /** Of the read, for a conditional update. */
      readonly resourceVersion?: string;
    };

export const CERT_MANAGER_ANNOTATION = 'cert-manager.io/certificate-name';

/**
 * Whole decision for one read of the Secret (undefined: not found): use it, write new
 * contents, or refuse to touch a Secret that is not nicpool's to manage.
 */
export function planSecret(
  secret: SecretView | undefined,
  where: string,
  id: Identity,
  now: Date,
  p: CertPolicy = DEFAULT_POLICY,
  keygen: () => NewKey = rsaKey,
): SecretPlan {
  if (secret === undefined) {
    const a = { action: 'create', reason: `Secret ${where} does not exist` } as const;
    return { kind: 'create', material: render(a, {}, id, now, p, keygen), reason: a.reason };
  }
  const owner = secret.annotations[CERT_MANAGER_ANNOTATION];
  if (owner !== undefined)
    return {
      kind: 'refuse',
      message: `Secret ${where} is managed by cert-manager (Certificate ${JSON.stringify(owner)}); set NICPOOL_WEBHOOK_CERT_MODE=files to serve it as mounted, or name another Secret in NICPOOL_WEBHOOK_TLS_SECRET`,
    };
  if (secret.type !== 'kubernetes.io/tls')
    return {
      kind: 'refuse',
      message: `Secret ${where} has type ${JSON.stringify(secret.type ?? '')}, not "kubernetes.io/tls"; the webhook will not overwrite it: delete it (the webhook then creates its own) or name another Secret in NICPOOL_WEBHOOK_TLS_SECRET`,
    };
  const a = assess(secret.data, id, now, p);
  if (a.action === 'keep') return { kind: 'use', material: secret.data as TlsMaterial };
  return {
    kind: 'update',
    material: render(a, secret.data, id, now, p, keygen),
    reason: a.reason,
    resourceVersion: secret.resourceVersion,
  };
}

/** caBundle field value: the PEM bundle, base64 (as the API stores bytes). */
export const caBundleOf = (m: TlsMaterial): string => Buffer.from(m.ca).toString('base64');

/** RFC 6902 operations, as the API server takes them. */
export type PatchOp =
  | { readonly op: 'test'; readonly path: string; readonly value: string }
  | { readonly op: 'add'; readonly path: string; readonly value: string };

/**
 * JSON patch that sets `caBundle` on every webhook whose value differs ([] when all are
 * current). Each change is guarded by a test of the entry's name, so a concurrent edit
 * that reorders the list fails the patch instead of writing the wrong entry.
 */
export function caBundlePatch(
  webhooks: readonly { readonly name: string; readonly caBundle?: string }[],
  caBundle: string,
): PatchOp[] {
  return webhooks.flatMap((w, i): PatchOp[] =>
    w.caBundle === caBundle
      ? []
      : [
          { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
          { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
        ],
  );
}
