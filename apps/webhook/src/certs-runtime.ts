/**
 * The two ways the webhook gets its serving certificate at run time (config `certs.mode`):
 * self-managed (a Secret it keeps, rotates and publishes as caBundle; decisions in certs.ts)
 * and files (mounted PEM files, e.g. cert-manager's, reloaded when they change). Both hand
 * a changed certificate to a callback that swaps the server's TLS context without a restart.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { apiStatus, DEFAULT_RETRY, retryOnConflict, type RetryOptions } from '@nicpool/kube';
import {
  caBundleOf,
  caBundlePatch,
  DEFAULT_POLICY,
  planSecret,
  rsaKey,
  type CertPolicy,
  type Identity,
  type NewKey,
  type PatchOp,
  type SecretPlan,
  type SecretView,
  type TlsMaterial,
} from './certs.ts';

export interface ServingTls {
  readonly cert: string;
  readonly key: string;
}

export interface CertLog {
  info(msg: string): void;
  warn(msg: string, err?: unknown): void;
}

/** The one Secret, read and written conditionally. Errors carry the HTTP status as `code`. */
export interface SecretPort {
  /** undefined when the Secret does not exist. */
  read(): Promise<SecretView | undefined>;
  /** Fails with 409 when it already exists. */
  create(m: TlsMaterial): Promise<unknown>;
  /** Replaces the data of what `read` returned; fails with 409 when it changed since. */
  update(m: TlsMaterial, read: SecretView): Promise<unknown>;
}

export type ConfigKind = 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';

export interface WebhookConfigsPort {
  /** The configuration's webhook entries; undefined when it does not exist. */
  read(
    kind: ConfigKind,
    name: string,
  ): Promise<readonly { readonly name: string; readonly caBundle?: string }[] | undefined>;
  /** RFC 6902 JSON patch. */
  patch(kind: ConfigKind, name: string, ops: readonly PatchOp[]): Promise<unknown>;
}

/** The Secret cannot be nicpool's (another type, cert-manager's): never retried. */
export class CertSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertSetupError';
  }
}

/** Adds the likely cause to API failures whose status says what is wrong. */
function explain(what: string, e: unknown, rbac: string): string {
  const status = apiStatus(e);
  const detail = e instanceof Error ? e.message : String(e);
  if (status === 403)
    return `${what}: forbidden (HTTP 403); the webhook's ServiceAccount needs ${rbac} (docs/webhook-certificates.md)`;
  return `${what}: ${status === undefined ? '' : `HTTP ${status}: `}${detail}`;
}

export interface SelfManagedOptions {
  readonly secrets: SecretPort;
  readonly configs: WebhookConfigsPort;
  /** `namespace/name` of the Secret, for messages. */
  readonly where: string;
  readonly identity: Identity;
  readonly configurations: readonly { readonly kind: ConfigKind; readonly name: string }[];
  readonly log: CertLog;
  readonly policy?: CertPolicy;
  readonly now?: () => Date;
  readonly keygen?: () => NewKey;
  readonly retry?: RetryOptions;
}

type Write = Extract<SecretPlan, { kind: 'create' | 'update' }>;

/**
 * Self-managed certificates: each {@link sync} reads the Secret fresh, writes it when
 * {@link planSecret} says so (create, or update carrying the read's resourceVersion; a
 * 409 from a racing replica means re-read and decide again), then makes every webhook
 * entry's caBundle the Secret's ca.crt.
 */
export class SelfManagedCerts {
  readonly #o: SelfManagedOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #served: ServingTls | undefined;
  /** Configurations already reported missing, so the log says it once. */
  readonly #missing = new Set<string>();

  constructor(options: SelfManagedOptions) {
    this.#o = options;
  }

  /** One round: the Secret (created or rotated if needed), then the caBundles. */
  async sync(): Promise<TlsMaterial> {
    const o = this.#o;
    const now = o.now ?? (() => new Date());
    let read: SecretView | undefined;
    const { result } = await retryOnConflict<SecretView | undefined, Write, TlsMaterial>(
      `Secret ${o.where}`,
      async () => {
        try {
          read = await o.secrets.read();
          return read;
        } catch (e) {
          throw new Error(explain(`reading Secret ${o.where}`, e, 'get on secrets'), { cause: e });
        }
      },
      (s) => {
        const plan = planSecret(
          s,
          o.where,
          o.identity,
          now(),
          o.policy ?? DEFAULT_POLICY,
          o.keygen ?? rsaKey,
        );
        if (plan.kind === 'refuse') throw new CertSetupError(plan.message);
        if (plan.kind === 'use') return { result: plan.material };
        return { write: plan, result: plan.material };
      },
      async (w) => {
        o.log.info(
          `${w.kind === 'create' ? 'creating' : 'updating'} Secret ${o.where}: ${w.reason}`,
        );
        try {
          return await (w.kind === 'create' || read === undefined
            ? o.secrets.create(w.material)
            : o.secrets.update(w.material, read));
        } catch (e) {
          if (apiStatus(e) === 409) throw e; // another replica wrote first: re-read
          throw new Error(
            explain(
              `${w.kind === 'create' ? 'creating' : 'updating'} Secret ${o.where}`,
              e,
              `${w.kind} on secrets`,
            ),
            { cause: e },
          );
        }
      },
      o.retry ?? DEFAULT_RETRY,
    );
    await this.#publishCaBundle(caBundleOf(result));
    return result;
  }

  async #publishCaBundle(caBundle: string): Promise<void> {
    const o = this.#o;
    for (const { kind, name } of o.configurations) {
      try {
        const webhooks = await o.configs.read(kind, name);
        if (webhooks === undefined) {
          if (!this.#missing.has(name))
            o.log.warn(
              `${kind} ${name} does not exist (yet); its caBundle will be set once it does`,
            );
          this.#missing.add(name);
          continue;
        }
        this.#missing.delete(name);
        const ops = caBundlePatch(webhooks, caBundle);
        if (ops.length === 0) continue;
        await o.configs.patch(kind, name, ops);
        o.log.info(`set caBundle of ${ops.length / 2} webhook(s) in ${kind} ${name}`);
      } catch (e) {
        // The next round tries again; serving goes on with the certificate in hand.
        o.log.warn(
          explain(
            `keeping the caBundle of ${kind} ${name} current`,
            e,
            `get and patch on ${kind.toLowerCase()}s`,
          ),
          e,
        );
      }
    }
  }

  /**
   * The first round, repeated every `retryMs` until the Secret could be read or written
   * (the API server may not be reachable yet); a {@link CertSetupError} is final.
   */
  async initial(retryMs = 2000): Promise<ServingTls> {
    for (;;) {
      try {
        const m = await this.sync();
        this.#served = { cert: m.cert, key: m.key };
        return this.#served;
      } catch (e) {
        if (e instanceof CertSetupError) throw e;
        this.#o.log.warn(`getting the serving certificate failed; retrying in ${retryMs} ms`, e);
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  }

  /** Re-checks every `intervalMs`; `swap` gets the serving certificate whenever it changed. */
  start(intervalMs: number, swap: (tls: ServingTls) => void): void {
    this.#timer = setInterval(() => void this.#tick(swap), intervalMs);
    this.#timer.unref();
  }

  async #tick(swap: (tls: ServingTls) => void): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const m = await this.sync();
      if (m.cert !== this.#served?.cert || m.key !== this.#served.key) {
        swap({ cert: m.cert, key: m.key });
        this.#served = { cert: m.cert, key: m.key };
        this.#o.log.info(`serving the certificate from Secret ${this.#o.where}`);
      }
    } catch (e) {
      this.#o.log.warn('checking the self-managed certificate failed; serving the current one', e);
    } finally {
      this.#running = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

const digest = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Files mode: checks the PEM files every `intervalMs` and hands a changed, consistent pair
 * to `swap` (cert-manager renews the Secret, the kubelet updates the mounted files). A
 * pair that does not match yet (a half-written update) is skipped until the next check.
 */
export function watchTlsFiles(
  files: { readonly certFile: string; readonly keyFile: string },
  initial: ServingTls,
  intervalMs: number,
  swap: (tls: ServingTls) => void,
  log: CertLog,
): { stop: () => void } {
  let last = digest(initial.cert) + digest(initial.key);
  let running = false;
  const check = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const [cert, key] = await Promise.all([
        readFile(files.certFile, 'utf8'),
        readFile(files.keyFile, 'utf8'),
      ]);
      const now = digest(cert) + digest(key);
      if (now === last) return;
      try {
        createSecureContext({ cert, key });
      } catch (e) {
        log.warn(
          `${files.certFile} and ${files.keyFile} changed but are not a usable pair (yet); serving the previous certificate`,
          e,
        );
        return;
      }
      swap({ cert, key });
      last = now;
      log.info(`serving the renewed certificate from ${files.certFile}`);
    } catch (e) {
      log.warn(
        `reading ${files.certFile} / ${files.keyFile} failed; serving the previous certificate`,
        e,
      );
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
