/**
 * Objects only some installs have, each behind its condition: cert-manager's issuers and
 * certificates for the webhook (docs/webhook-certificates.md, "cert-manager"), and the
 * Prometheus Operator's ServiceMonitors for the three metrics endpoints.
 */
import {
  CERT_MANAGER_TLS,
  labelsOf as labels,
  nameOf,
  type Component,
  type Doc,
} from './deploy.ts';
import type { Install } from './install.ts';
import { choose, items, Merge, optionalScalar, FromValues } from './template.ts';

type Obj = Record<string, unknown>;

/** The cert-manager Certificate of the webhook's serving certificate (certManager mode). */
export const CERT_MANAGER_CERTIFICATE = 'nicpool-webhook';

/**
 * A self-signed root, a CA Issuer from it (10 years) and the webhook's serving certificate
 * from that CA (1 year, renewed a third before its end) for the webhook Service's names.
 */
export function certManagerObjects(inst: Install): Doc[] {
  const namespace = inst.namespace;
  const meta = (name: string): Obj => ({ name, namespace, labels: labels('webhook') });
  const service = nameOf('webhook');
  const objects = [
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: meta('nicpool-selfsigned'),
      spec: { selfSigned: {} },
    },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: meta('nicpool-webhook-ca'),
      spec: {
        isCA: true,
        commonName: 'nicpool-webhook-ca',
        secretName: 'nicpool-webhook-ca',
        duration: '87600h',
        privateKey: { algorithm: 'ECDSA', size: 256 },
        issuerRef: { name: 'nicpool-selfsigned', kind: 'Issuer' },
      },
    },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: meta('nicpool-ca'),
      spec: { ca: { secretName: 'nicpool-webhook-ca' } },
    },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: meta(CERT_MANAGER_CERTIFICATE),
      spec: {
        secretName: CERT_MANAGER_TLS.secret,
        duration: '8760h',
        renewBefore: '2920h',
        dnsNames: [
          service,
          `${service}.${namespace}`,
          `${service}.${namespace}.svc`,
          `${service}.${namespace}.svc.cluster.local`,
        ],
        issuerRef: { name: 'nicpool-ca', kind: 'Issuer' },
      },
    },
  ];
  return items(choose(inst.selfManagedCerts, undefined, objects)) as Doc[];
}

/** One ServiceMonitor per component, on the Service in front of its metrics port. */
export function serviceMonitorObjects(inst: Install): Doc[] {
  const namespace = inst.namespace;
  const sm = inst.serviceMonitors;
  const monitor = (c: Component, endpoint: Obj): Obj => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: {
      name: nameOf(c),
      namespace,
      labels: {
        ...labels(c),
        '...': sm.labels instanceof FromValues ? new Merge(sm.labels.path) : undefined,
        ...(sm.labels instanceof FromValues ? {} : sm.labels),
      },
    },
    spec: {
      selector: { matchLabels: labels(c) },
      endpoints: [{ ...endpoint, path: '/metrics', interval: optionalScalar(sm.interval, true) }],
    },
  });
  const webhook = nameOf('webhook');
  const objects = [
    monitor('webhook', {
      port: 'https',
      scheme: 'https',
      // The CA the webhook's certificate is issued by, from whichever Secret holds it.
      tlsConfig: {
        serverName: `${webhook}.${namespace}.svc`,
        ca: {
          secret: {
            name: choose(inst.selfManagedCerts, 'nicpool-webhook-tls', CERT_MANAGER_TLS.secret),
            key: 'ca.crt',
          },
        },
      },
    }),
    monitor('controller', { port: 'metrics', scheme: 'http' }),
    monitor('allocator', { port: 'metrics', scheme: 'http' }),
  ];
  return items(choose(sm.enabled, objects, undefined)) as Doc[];
}
