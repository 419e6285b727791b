// Components in e2e run as their ServiceAccounts, with the RBAC from deploy/ (the same
// objects, from libs/manifests): a permission the code needs and deploy/ lacks fails a test.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  namespaceObject,
  nameOf,
  NICPOOL_NAMESPACE,
  rbacObjects,
  type Component,
} from '@nicpool/manifests';
import { kubeconfigYAML, kubectl, type ClusterState } from '../cluster/control-plane.ts';

const made = new Map<string, string>();

/**
 * Applies the component's namespace, ServiceAccount and roles, mints a token for the
 * ServiceAccount (TokenRequest, 24 h) and returns a kubeconfig file that uses it.
 */
export async function componentKubeconfig(cluster: ClusterState, c: Component): Promise<string> {
  const key = `${cluster.kubeconfig}|${c}`;
  const known = made.get(key);
  if (known !== undefined) return known;
  await kubectl(
    cluster,
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [namespaceObject(), ...rbacObjects(c)],
    }),
  );
  const token = (
    await kubectl(cluster, [
      'create',
      'token',
      nameOf(c),
      '-n',
      NICPOOL_NAMESPACE,
      '--duration=24h',
    ])
  ).trim();
  const path = join(cluster.dir, `kubeconfig-${c}`);
  writeFileSync(path, kubeconfigYAML(cluster.server, cluster.caFile, token), { mode: 0o600 });
  made.set(key, path);
  return path;
}
