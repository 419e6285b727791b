import { isIP } from 'node:net';
import Type, { type Static } from 'typebox';
import { loadConfig, type Env } from '@nicpool/config';
import { NICPOOL_NAMESPACE } from '@nicpool/manifests';
import { err, ok, type Result } from '@nicpool/result';

/** RFC 1123 label (Namespace, Service) and subdomain (Secret, webhook configuration) names. */
const LABEL = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
const SUBDOMAIN = '^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** The environment as read; {@link readWebhookConfig} checks which mode's settings apply. */
export const WebhookEnv = Type.Object({
  host: Type.String({ default: '0.0.0.0', description: 'Address to listen on.' }),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 9443 }),
  certMode: Type.Union([Type.Literal('files'), Type.Literal('self-managed')], {
    default: 'files',
    description:
      'Where the serving certificate comes from. `files` (the default): the PEM files ' +
      'NICPOOL_WEBHOOK_TLS_CERT and NICPOOL_WEBHOOK_TLS_KEY, e.g. a Secret that cert-manager ' +
      'keeps and the kubelet mounts; they are reloaded when they change, and the caBundle is ' +
      "cert-manager's CA injector's job. `self-managed`: the webhook keeps its own CA and " +
      'serving certificate in the Secret NICPOOL_WEBHOOK_TLS_SECRET, rotates them, and keeps ' +
      "the webhook configurations' caBundle current. Settings of the other mode are refused.",
  }),
  tlsCertFile: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'files mode (required there): PEM serving certificate.',
    }),
  ),
  tlsKeyFile: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'files mode (required there): PEM private key of the serving certificate.',
    }),
  ),
  tlsReloadSeconds: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        'files mode: how often the files are checked for a renewed certificate (default 10).',
    }),
  ),
  namespace: Type.Optional(
    Type.String({
      pattern: LABEL,
      description: `self-managed: namespace of the webhook's Service and Secret (default ${NICPOOL_NAMESPACE}).`,
    }),
  ),
  service: Type.Optional(
    Type.String({
      pattern: LABEL,
      description:
        'self-managed: the Service the API server calls; its DNS names go in the certificate (default nicpool-webhook).',
    }),
  ),
  tlsSecret: Type.Optional(
    Type.String({
      pattern: SUBDOMAIN,
      description:
        'self-managed: the kubernetes.io/tls Secret holding the CA and serving certificate (default nicpool-webhook-tls).',
    }),
  ),
  extraSans: Type.Optional(
    Type.String({
      description:
        'self-managed: comma-separated extra DNS names or IP addresses for the serving certificate, e.g. 127.0.0.1.',
    }),
  ),
  validatingConfig: Type.Optional(
    Type.String({
      pattern: SUBDOMAIN,
      description:
        'self-managed: ValidatingWebhookConfiguration whose caBundle is kept current (default nicpool-validating).',
    }),
  ),
  mutatingConfig: Type.Optional(
    Type.String({
      pattern: SUBDOMAIN,
      description:
        'self-managed: MutatingWebhookConfiguration whose caBundle is kept current (default nicpool-mutating).',
    }),
  ),
  certCheckSeconds: Type.Optional(
    Type.Integer({
      minimum: 1,
      description: 'self-managed: how often the Secret and the caBundles are checked (default 60).',
    }),
  ),
  kubeconfig: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Kubeconfig file; absent: in-cluster ServiceAccount.',
    }),
  ),
  logLevel: Type.Union(
    [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
    { default: 'info' },
  ),
  controllerUsers: Type.String({
    minLength: 1,
    default: 'system:serviceaccount:nicpool-system:nicpool-controller',
    description:
      'Comma-separated user names that may change auto-pools (the nicpool controller); everyone else is refused.',
  }),
});
type WebhookEnv = Static<typeof WebhookEnv>;

const VARS = {
  host: 'NICPOOL_WEBHOOK_HOST',
  port: 'NICPOOL_WEBHOOK_PORT',
  certMode: 'NICPOOL_WEBHOOK_CERT_MODE',
  tlsCertFile: 'NICPOOL_WEBHOOK_TLS_CERT',
  tlsKeyFile: 'NICPOOL_WEBHOOK_TLS_KEY',
  tlsReloadSeconds: 'NICPOOL_WEBHOOK_TLS_RELOAD_SECONDS',
  namespace: 'NICPOOL_WEBHOOK_NAMESPACE',
  service: 'NICPOOL_WEBHOOK_SERVICE',
  tlsSecret: 'NICPOOL_WEBHOOK_TLS_SECRET',
  extraSans: 'NICPOOL_WEBHOOK_EXTRA_SANS',
  validatingConfig: 'NICPOOL_WEBHOOK_VALIDATING_CONFIG',
  mutatingConfig: 'NICPOOL_WEBHOOK_MUTATING_CONFIG',
  certCheckSeconds: 'NICPOOL_WEBHOOK_CERT_CHECK_SECONDS',
  kubeconfig: 'KUBECONFIG',
  logLevel: 'NICPOOL_LOG_LEVEL',
  controllerUsers: 'NICPOOL_WEBHOOK_CONTROLLER_USERS',
} as const satisfies { readonly [K in keyof WebhookEnv]-?: string };

type Field = keyof typeof VARS;
const FILES_ONLY: readonly Field[] = ['tlsCertFile', 'tlsKeyFile', 'tlsReloadSeconds'];
const SELF_MANAGED_ONLY: readonly Field[] = [
  'namespace',
  'service',
  'tlsSecret',
  'extraSans',
  'validatingConfig',
  'mutatingConfig',
  'certCheckSeconds',
];

/** Defaults of the self-managed settings; the configuration names are those of libs/manifests. */
export const SELF_MANAGED_DEFAULTS = {
  namespace: NICPOOL_NAMESPACE,
  service: 'nicpool-webhook',
  tlsSecret: 'nicpool-webhook-tls',
  validatingConfig: 'nicpool-validating',
  mutatingConfig: 'nicpool-mutating',
  certCheckSeconds: 60,
} as const;

export type CertConfig =
  | {
      readonly mode: 'files';
      readonly certFile: string;
      readonly keyFile: string;
      readonly reloadSeconds: number;
    }
  | {
      readonly mode: 'self-managed';
      readonly namespace: string;
      readonly service: string;
      readonly secret: string;
      readonly extraSans: readonly string[];
      readonly validatingConfig: string;
      readonly mutatingConfig: string;
      readonly checkSeconds: number;
    };

export type WebhookConfig = Pick<WebhookEnv, 'host' | 'port' | 'kubeconfig' | 'logLevel'> & {
  readonly certs: CertConfig;
  /** Who may change auto-pools: the controller's user names. */
  readonly controllerUsers: readonly string[];
};

const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function parseSans(raw: string | undefined): Result<string[], string[]> {
  const sans = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = sans.filter((s) => isIP(s) === 0 && !DNS_NAME.test(s));
  return bad.length === 0
    ? ok(sans)
    : err(
        bad.map(
          (s) =>
            `${VARS.extraSans}: ${JSON.stringify(s)} is neither an IP address nor a lowercase DNS name`,
        ),
      );
}

/**
 * Reads and validates the webhook's configuration. The certificate mode decides which
 * settings apply; setting one of the other mode is an error, not silently ignored.
 */
export function readWebhookConfig(env: Env): Result<WebhookConfig, string[]> {
  const r = loadConfig(WebhookEnv, env, VARS);
  if (!r.ok) return r;
  const v = r.value;
  const isSet = (f: Field): boolean => (env[VARS[f]] ?? '') !== '';
  const mode = `${VARS.certMode}=${v.certMode}`;
  const common = {
    host: v.host,
    port: v.port,
    kubeconfig: v.kubeconfig,
    logLevel: v.logLevel,
    controllerUsers: v.controllerUsers
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== ''),
  };
  if (v.certMode === 'files') {
    const errors = [
      ...SELF_MANAGED_ONLY.filter(isSet).map(
        (f) => `${VARS[f]} is set but only used with ${VARS.certMode}=self-managed (mode is files)`,
      ),
      ...(['tlsCertFile', 'tlsKeyFile'] as const)
        .filter((f) => v[f] === undefined)
        .map(
          (f) =>
            `missing ${VARS[f]} (required with ${mode}, the default; or set ${VARS.certMode}=self-managed)`,
        ),
    ];
    if (errors.length > 0 || v.tlsCertFile === undefined || v.tlsKeyFile === undefined)
      return err(errors);
    return ok({
      ...common,
      certs: {
        mode: 'files',
        certFile: v.tlsCertFile,
        keyFile: v.tlsKeyFile,
        reloadSeconds: v.tlsReloadSeconds ?? 10,
      },
    });
  }
  const d = SELF_MANAGED_DEFAULTS;
  const namespace = v.namespace ?? d.namespace;
  const secret = v.tlsSecret ?? d.tlsSecret;
  const sans = parseSans(v.extraSans);
  const errors = [
    ...FILES_ONLY.filter(isSet).map(
      (f) =>
        `${VARS[f]} is set but ${mode} serves the certificate from Secret ${namespace}/${secret}; unset it, or use ${VARS.certMode}=files`,
    ),
    ...(sans.ok ? [] : sans.error),
  ];
  if (errors.length > 0 || !sans.ok) return err(errors);
  return ok({
    ...common,
    certs: {
      mode: 'self-managed',
      namespace,
      service: v.service ?? d.service,
      secret,
      extraSans: sans.value,
      validatingConfig: v.validatingConfig ?? d.validatingConfig,
      mutatingConfig: v.mutatingConfig ?? d.mutatingConfig,
      checkSeconds: v.certCheckSeconds ?? d.certCheckSeconds,
    },
  });
}
