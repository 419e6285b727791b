import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { apiStatus, createKubeClients, isConflict, isNotFound, loadKubeConfig } from './index.ts';

// Proves Jest runs in native ESM mode: @kubernetes/client-node 2.x is ESM-only and
// cannot be require()d.
describe('kube adapter (ESM)', () => {
  const yaml = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`;

  it('loads a kubeconfig and builds the API clients', () => {
    const clients = createKubeClients(loadKubeConfig({ kind: 'inline', yaml }));
    expect(clients.server).toBe('https://127.0.0.1:6443');
    expect(typeof clients.custom.getClusterCustomObject).toBe('function');
    expect(typeof clients.core.readNamespace).toBe('function');
  });

  it('refuses a kubeconfig without a current cluster', () => {
    expect(() =>
      loadKubeConfig({ kind: 'inline', yaml: 'apiVersion: v1\nkind: Config\n' }),
    ).toThrow(/no current cluster/);
  });

  it('classifies API errors by HTTP status', () => {
    const conflict = new ApiException(409, 'Conflict', {}, {});
    expect(apiStatus(conflict)).toBe(409);
    expect(isConflict(conflict)).toBe(true);
    expect(isNotFound(new ApiException(404, 'NotFound', {}, {}))).toBe(true);
    expect(apiStatus(new Error('ECONNREFUSED'))).toBeUndefined();
  });
});

describe('reuseConnections', () => {
  const yaml = (ca: string): string => `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: ${Buffer.from(ca).toString('base64')}}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`;
  type Dispatching = { createDispatcher(cluster: unknown, options: unknown): unknown };

  it('client-node still has the private createDispatcher it wraps (pinned 2.0.x)', () => {
    const kc = loadKubeConfig({ kind: 'inline', yaml: yaml('ca-1') });
    expect(typeof (kc as unknown as Dispatching).createDispatcher).toBe('function');
  });

  it('one dispatcher per TLS identity, so requests share pooled connections', () => {
    const kc = loadKubeConfig({ kind: 'inline', yaml: yaml('ca-1') }) as unknown as Dispatching;
    const cluster = { server: 'https://127.0.0.1:6443' };
    const a = kc.createDispatcher(cluster, { ca: Buffer.from('ca-1') });
    expect(a).toBeDefined();
    expect(kc.createDispatcher(cluster, { ca: Buffer.from('ca-1') })).toBe(a);
    // A rotated certificate is another identity: another dispatcher.
    const b = kc.createDispatcher(cluster, { ca: Buffer.from('ca-1'), cert: Buffer.from('c2') });
    expect(b).not.toBe(a);
    expect(kc.createDispatcher(cluster, { ca: Buffer.from('ca-2') })).not.toBe(a);
  });
});
