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
