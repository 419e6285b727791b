import { describe, expect, it } from '@jest/globals';
import { webhookConfigurations } from './index.ts';

interface Hook {
  name: string;
  failurePolicy: string;
  rules: { apiGroups: string[]; resources: string[]; operations: string[]; scope: string }[];
  namespaceSelector?: unknown;
  matchConditions?: { name: string; expression: string }[];
  clientConfig: { url?: string };
}

const [validating] = webhookConfigurations(() => ({ url: 'https://x', caBundle: '' }));
const hooks = (validating as { webhooks: Hook[] }).webhooks;

describe('the Namespace webhook (default-pool annotations checked at admission)', () => {
  const hook = hooks.find((h) => h.name === 'namespaces.validate.nicpool.spidernet.io');

  it('hooks CREATE and UPDATE of namespaces on /validate, never DELETE or subresources', () => {
    expect(hook?.rules).toEqual([
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['namespaces'],
        scope: 'Cluster',
      },
    ]);
    expect(hook?.clientConfig.url).toBe('https://x');
    expect(hook?.failurePolicy).toBe('Fail');
  });

  it('is sent only namespaces carrying an ipam.spidernet.io/ annotation', () => {
    expect(hook?.matchConditions).toEqual([
      {
        name: 'has-nicpool-annotation',
        expression:
          "has(object.metadata) && has(object.metadata.annotations) && object.metadata.annotations.exists(k, k.startsWith('ipam.spidernet.io/'))",
      },
    ]);
  });

  it('leaves kube-system and nicpool-system alone, like the pod webhooks', () => {
    const pods = hooks.find((h) => h.name === 'pods.validate.nicpool.spidernet.io');
    expect(hook?.namespaceSelector).toEqual(pods?.namespaceSelector);
  });
});
