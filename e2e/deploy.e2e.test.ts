/**
 * deploy/ as an admin applies it: every manifest is accepted by the real API server
 * (server-side dry run, so admission and schema validation run), through kustomize as
 * `kubectl apply -k deploy/` reads it, and the examples too.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO } from './cluster/control-plane.ts';
import { k } from './harness/helpers.ts';
import { expectInvariants } from './harness/invariants.ts';

const DEPLOY = join(REPO, 'deploy');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? // The chart's templates are Helm's, not plain YAML (e2e/helm.e2e.test.ts renders them).
        dir === DEPLOY && e.name === 'helm'
        ? []
        : yamlFiles(join(dir, e.name))
      : e.name.endsWith('.yaml') && e.name !== 'kustomization.yaml'
        ? [join(dir, e.name)]
        : [],
  );
}

describe('deploy/', () => {
  beforeAll(async () => {
    // A dry run does not create the namespace its namespaced objects need.
    await k(['apply', '-f', join(DEPLOY, 'namespace.yaml')]);
  });

  it('every manifest is accepted by the API server (--dry-run=server)', async () => {
    const files = yamlFiles(DEPLOY);
    let objects = 0;
    for (const file of files) {
      const docs = parseAllDocuments(readFileSync(file, 'utf8')).filter((d) => d.contents !== null);
      objects += docs.length;
      const out = await k(['apply', '--dry-run=server', '-f', file]);
      expect(out.trim().split('\n')).toHaveLength(docs.length);
      for (const line of out.trim().split('\n')) expect(line).toMatch(/\(server dry run\)$/);
    }
    expect(objects).toBeGreaterThanOrEqual(30);
  });

  it('kubectl apply -k deploy/ reads the kustomization and the server accepts all of it', async () => {
    const out = await k(['apply', '--dry-run=server', '-k', DEPLOY]);
    const lines = out.trim().split('\n');
    for (const kind of [
      'namespace/nicpool-system',
      'customresourcedefinition.apiextensions.k8s.io/spiderippools.spiderpool.spidernet.io',
      'serviceaccount/nicpool-allocator',
      'clusterrole.rbac.authorization.k8s.io/nicpool-controller',
      'role.rbac.authorization.k8s.io/nicpool-webhook',
      'daemonset.apps/nicpool-allocator',
      'deployment.apps/nicpool-webhook',
      'deployment.apps/nicpool-controller',
      'poddisruptionbudget.policy/nicpool-webhook',
      'service/nicpool-webhook',
      'validatingwebhookconfiguration.admissionregistration.k8s.io/nicpool-validating',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/nicpool-mutating',
    ])
      expect(lines.some((l) => l.startsWith(`${kind} `))).toBe(true);
    // Multus owns the NetworkAttachmentDefinition CRD: nicpool's install must not touch it.
    expect(lines.some((l) => l.includes('network-attachment-definitions'))).toBe(false);
  });
});

// Issue #12: the suite leaves the cluster's pools, endpoints and pods consistent (a root
// afterAll runs after every describe's own cleanup).
afterAll(() => expectInvariants(), 60_000);
