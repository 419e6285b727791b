/**
 * nicpool's install manifests as data: deploy/ and the Helm chart (deploy/helm/nicpool) are
 * written from here by `npm run gen`, and the e2e suites apply the same objects.
 */
export { NICPOOL_NAMESPACE } from './names.ts';
export * from './deploy.ts';
export { webhookConfigurations, type ClientConfig } from './webhooks.ts';
export { CHART, DEPLOY, type Install, type Placement } from './install.ts';
export { CERT_MANAGER_CERTIFICATE } from './addons.ts';
export { helmChart, HELM_LABELS } from './helm.ts';
