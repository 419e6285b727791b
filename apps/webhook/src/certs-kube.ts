/**
 * The Kubernetes side of self-managed certificates: the Secret and the webhook
 * configurations, through @kubernetes/client-node. RBAC it needs (docs/webhook-certificates.md):
 * secrets get/create/update in the webhook's namespace; validating- and
 * mutatingwebhookconfigurations get/patch.
 */
import {
  AdmissionregistrationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type KubeConfig,
  type V1Secret,
} from '@kubernetes/client-node';
import { isNotFound } from '@nicpool/kube';
import { SECRET_KEYS, type TlsMaterial } from './certs.ts';
import type { ConfigKind, SecretPort, WebhookConfigsPort } from './certs-runtime.ts';

const FIELD_MANAGER = 'nicpool-webhook';
const LABELS = {
  'app.kubernetes.io/part-of': 'nicpool',
  'app.kubernetes.io/managed-by': 'nicpool-webhook',
};

function encode(m: TlsMaterial): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, key] of Object.entries(SECRET_KEYS))
    data[key] = Buffer.from(m[field as keyof TlsMaterial]).toString('base64');
  return data;
}

function decode(data: Record<string, string> | undefined): Partial<TlsMaterial> {
  const out: Partial<Record<keyof TlsMaterial, string>> = {};
  for (const [field, key] of Object.entries(SECRET_KEYS)) {
    const v = data?.[key];
    if (v !== undefined)
      out[field as keyof TlsMaterial] = Buffer.from(v, 'base64').toString('utf8');
  }
  return out;
}

export function kubeSecretPort(core: CoreV1Api, namespace: string, name: string): SecretPort {
  return {
    async read() {
      let s: V1Secret;
      try {
        s = await core.readNamespacedSecret({ name, namespace });
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
      return {
        type: s.type,
        labels: s.metadata?.labels ?? {},
        annotations: s.metadata?.annotations ?? {},
        data: decode(s.data),
        resourceVersion: s.metadata?.resourceVersion ?? '',
      };
    },
    create: (m) =>
      core.createNamespacedSecret({
        namespace,
        fieldManager: FIELD_MANAGER,
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, namespace, labels: LABELS },
          type: 'kubernetes.io/tls',
          data: encode(m),
        },
      }),
    update: (m, read) =>
      core.replaceNamespacedSecret({
        name,
        namespace,
        fieldManager: FIELD_MANAGER,
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name,
            namespace,
            labels: { ...read.labels, ...LABELS },
            annotations: { ...read.annotations },
            // Conditional: a replica that wrote since our read makes this a 409.
            resourceVersion: read.resourceVersion,
          },
          type: 'kubernetes.io/tls',
          data: encode(m),
        },
      }),
  };
}

export function kubeWebhookConfigsPort(kc: KubeConfig): WebhookConfigsPort {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const entries = (c: {
    webhooks?: { name: string; clientConfig: { caBundle?: string } }[];
  }): { name: string; caBundle?: string }[] =>
    (c.webhooks ?? []).map((w) => ({ name: w.name, caBundle: w.clientConfig.caBundle }));
  const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  return {
    async read(kind: ConfigKind, name: string) {
      const c =
        kind === 'ValidatingWebhookConfiguration'
          ? await orUndefined(api.readValidatingWebhookConfiguration({ name }))
          : await orUndefined(api.readMutatingWebhookConfiguration({ name }));
      return c === undefined ? undefined : entries(c);
    },
    patch: (kind, name, ops) => {
      const req = { name, body: ops, fieldManager: FIELD_MANAGER };
      return kind === 'ValidatingWebhookConfiguration'
        ? api.patchValidatingWebhookConfiguration(req, jsonPatch)
        : api.patchMutatingWebhookConfiguration(req, jsonPatch);
    },
  };
}
