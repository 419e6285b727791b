/**
 * nicpool installed with Helm on the real kubelet node (issue 16 item 4): the chart
 * deploy/helm/nicpool with only `cni.binDir` set to the node's private bin dir, into a
 * namespace made as docs/helm.md says; the tutorial's IPPool half on a real pod; `helm
 * upgrade` with changed values under a stream of admissions, the pod keeping its addresses;
 * `helm uninstall` leaving what docs/helm.md and docs/install.md list (the CRDs among it); and
 * a second install over those CRDs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { brokenApp } from '../scripts/stack.ts';
import { eventually, uniqueName } from './harness/helpers.ts';
import { expectInvariants } from './harness/invariants.ts';
import {
  CHART,
  CNI_PLUGINS,
  CRDS,
  NAMESPACE,
  RELEASE,
  TUTORIAL_FILES as F,
  admissionLoop,
  diagnose,
  expectNotInstalled,
  failuresText,
  helmOk,
  keptBefore,
  leftovers,
  podAddresses,
  podsOf,
  removeEverything,
  runningPods,
  selector,
  tryKubectl,
  tutorialCleanup,
  waitForDeployment,
  waitForRollouts,
  withContext,
  type AdmissionResult,
  type Kept,
} from './harness/realnode-install.ts';
import { IMAGES_DIR, ensureRealNode, type RealNode } from './realnode/node.ts';

let node: RealNode;
let before: Kept;
const ns = uniqueName('nicpool-helm-e2e');
const k = (args: readonly string[], input?: string): Promise<string> => node.kubectl(args, input);
const INSTALL = [
  'install',
  RELEASE,
  CHART,
  '-n',
  NAMESPACE,
  '--wait',
  '--timeout',
  '180s',
] as const;
const cniBinDir = (): string => `cni.binDir=${node.cniBinDir}`;

beforeAll(async () => {
  for (const image of ['nicpool', 'busybox'])
    if (!existsSync(join(IMAGES_DIR, `${image}.oci.tar`)))
      throw new Error(
        `${join(IMAGES_DIR, `${image}.oci.tar`)} is missing: run \`make images\` first`,
      );
  node = await ensureRealNode();
  await expectNotInstalled(node);
  before = await keptBefore(node);
  await k(['create', 'namespace', ns]);
}, 240_000);

afterAll(async () => {
  if (node === undefined || before === undefined) return;
  const problems = await removeEverything(node, before, [ns]);
  if (problems !== '') throw new Error(`cleanup of the real node was incomplete:\n${problems}`);
}, 300_000);

type Workload = {
  spec: {
    replicas?: number;
    template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } };
  };
  status: { readyReplicas?: number; numberReady?: number };
};
const workload = async (kind: string, name: string): Promise<Workload> =>
  JSON.parse(await k(['get', kind, name, '-n', NAMESPACE, '-o', 'json'])) as Workload;
const logLevel = (w: Workload): (string | undefined)[] =>
  w.spec.template.spec.containers.map(
    (c) => c.env?.find((e) => e.name === 'NICPOOL_LOG_LEVEL')?.value,
  );
type Release = { version: number; info: { status: string } };
const release = async (): Promise<Release> =>
  JSON.parse(await helmOk(node, ['status', RELEASE, '-n', NAMESPACE, '-o', 'json'])) as Release;
const crdUIDs = async (): Promise<string[]> =>
  (await k(['get', 'crd', ...CRDS, '-o', 'jsonpath={.items[*].metadata.uid}'])).split(' ');
const allocated = (): Promise<string> =>
  k([
    'get',
    'spiderippool',
    'ippool-test-ens192',
    'ippool-test-ens224',
    '-o',
    'jsonpath={.items[*].status.allocatedIPs}',
  ]);

const BAD = brokenApp();
const DENIAL =
  'The request is invalid: error when creating "STDIN": admission webhook "workloads.validate.nicpool.spidernet.io" denied the request: spec.template.metadata.annotations: unknown field `ipv4s` in item 1 of ipam.spidernet.io/ippools; did you mean `ipv4`?';

describe('nicpool installed with Helm, on the real node', () => {
  let pod = { name: '', uid: '', addresses: new Map<string, string>(), allocatedIPs: '' };
  let firstCRDs: string[] = [];

  it('helm install --wait into a namespace made as docs/helm.md says: every rollout done, the CRDs and the CNI plugins in place', async () => {
    await k(['create', 'namespace', NAMESPACE]);
    await k(['label', 'namespace', NAMESPACE, 'pod-security.kubernetes.io/enforce=privileged']);
    await helmOk(node, [...INSTALL, '--set', cniBinDir()]);
    await waitForRollouts(node);
    expect(await release()).toMatchObject({ version: 1, info: { status: 'deployed' } });
    expect((await workload('deployment', 'nicpool-webhook')).status.readyReplicas).toBe(2);
    expect((await workload('deployment', 'nicpool-controller')).status.readyReplicas).toBe(2);
    expect((await workload('daemonset', 'nicpool-allocator')).status.numberReady).toBe(1);
    firstCRDs = await crdUIDs();
    expect(firstCRDs).toHaveLength(CRDS.length);
    for (const p of CNI_PLUGINS) expect(existsSync(join(node.cniBinDir, p))).toBe(true);
  }, 240_000);

  it("the tutorial's IPPool half: the pod Running with an address from each pool", async () => {
    await k(['apply', '-f', F.nads, '-f', F.ippools]);
    await k(['apply', '-f', F.ippoolDeploy]);
    await waitForDeployment(node, 'default', 'ippool-test-app', 'ippool-test-app');
    const [p] = await runningPods(node, 'default', 'ippool-test-app', 1);
    const addresses = await podAddresses(node, 'default', p!.metadata.name);
    expect(Object.fromEntries(addresses)).toEqual({
      eth0: expect.stringMatching(/^10\.6\.168\.(17[6-9]|180)$/),
      net1: expect.stringMatching(/^10\.7\.168\.(17[6-9]|180)$/),
    });
    expect(p!.status.podIP).toBe(addresses.get('eth0'));
    await eventually(
      'both pools at 1 allocated',
      async () =>
        (await k([
          'get',
          'spiderippool',
          'ippool-test-ens192',
          'ippool-test-ens224',
          '-o',
          'jsonpath={.items[*].status.allocatedIPCount}',
        ])) === '1 1'
          ? true
          : undefined,
      30_000,
    );
    pod = {
      name: p!.metadata.name,
      uid: p!.metadata.uid,
      addresses,
      allocatedIPs: await allocated(),
    };
  }, 180_000);

  describe('helm upgrade --set logLevel=debug --set controller.replicas=1, under admissions every 200 ms', () => {
    let results: Record<string, AdmissionResult> = {};
    /** nicpool-system's pods and events right after the rollout, for a failure's message. */
    let during = '';

    it('rolls out the new values; the pod keeps its addresses and its records; no unannotated pod is refused', async () => {
      const loop = admissionLoop(node, ns, {
        unannotated: {},
        annotated: {
          'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
          'ipam.spidernet.io/ippools': JSON.stringify([
            { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
            { interface: 'net1', ipv4: ['ippool-test-ens224'] },
          ]),
        },
      });
      try {
        await helmOk(node, [
          'upgrade',
          RELEASE,
          CHART,
          '-n',
          NAMESPACE,
          '--reuse-values',
          '--set',
          'logLevel=debug',
          '--set',
          'controller.replicas=1',
          '--wait',
          '--timeout',
          '180s',
        ]);
        await waitForRollouts(node);
        await new Promise((r) => setTimeout(r, 2000));
      } finally {
        results = await loop.stop();
        during = await diagnose(node);
      }
      expect(await release()).toMatchObject({ version: 2, info: { status: 'deployed' } });
      const webhook = await workload('deployment', 'nicpool-webhook');
      const controller = await workload('deployment', 'nicpool-controller');
      const allocator = await workload('daemonset', 'nicpool-allocator');
      expect({
        webhook: [logLevel(webhook), webhook.status.readyReplicas],
        controller: [
          logLevel(controller),
          controller.spec.replicas,
          controller.status.readyReplicas,
        ],
        allocator: [logLevel(allocator), allocator.status.numberReady],
      }).toEqual({
        webhook: [['debug'], 2],
        controller: [['debug'], 1, 1],
        allocator: [['debug'], 1],
      });
      // The running pods are the new template's (the old ones are gone, not just outnumbered).
      for (const c of ['webhook', 'controller', 'allocator'] as const)
        for (const p of await podsOf(node, NAMESPACE, selector(c)))
          expect({ pod: p.metadata.name, phase: p.status.phase }).toEqual({
            pod: p.metadata.name,
            phase: 'Running',
          });

      const [p] = await runningPods(node, 'default', 'ippool-test-app', 1);
      expect(p!.metadata.uid).toBe(pod.uid);
      expect(await podAddresses(node, 'default', pod.name)).toEqual(pod.addresses);
      expect(await allocated()).toBe(pod.allocatedIPs);
      await expectInvariants(node.kubeconfig, { allowSettling: false, settleMs: 30_000 });

      const r = results['unannotated']!;
      expect(r.sent).toBeGreaterThan(30);
      expect(r.skipped).toBe(0);
      expect(await withContext(failuresText(r), '', async () => during)).toBe('');
    }, 300_000);

    it('admits every pod with nicpool annotations during it (the webhook answers each one)', async () => {
      const r = results['annotated'];
      expect(r?.sent).toBeGreaterThan(30);
      // A failure here is a webhook replica that stopped serving while the API server still sent
      // it requests (failurePolicy: Fail).
      expect(await withContext(failuresText(r!), '', async () => during)).toBe('');
    }, 10_000);
  });

  it('helm uninstall leaves what docs/helm.md lists: the CRDs, the namespace with the Lease and the Secret nicpool made, the CNI plugins', async () => {
    expect(await tutorialCleanup(node)).toEqual([]);
    await eventually(
      "no SpiderIPPool or SpiderEndpoint left after the tutorial's clean up",
      async () =>
        (await k(['get', 'spiderippool,spiderendpoint', '-A', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    );
    await helmOk(node, ['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout', '120s']);
    // helm's --wait ends when the chart's objects are gone; their pods may still be stopping.
    await k([
      'wait',
      '--for=delete',
      'pod',
      '-n',
      NAMESPACE,
      '-l',
      'app.kubernetes.io/name=nicpool',
      '--timeout=90s',
    ]);
    expect(await leftovers(node)).toEqual({
      labelled: [],
      clusterScoped: [],
      // Kubernetes puts the first two in every namespace.
      namespace: [
        'ConfigMap/kube-root-ca.crt',
        'Lease/nicpool-controller',
        'Secret/nicpool-webhook-tls',
        'ServiceAccount/default',
      ],
      crds: [...CRDS],
      helmReleases: [],
      cniPlugins: [...CNI_PLUGINS],
      socketDir: before.socketDir ?? [],
    });
  }, 240_000);

  it('a second helm install over the kept CRDs and Secret works: rollouts done, the CRDs are the same objects, the webhook refuses a bad annotation', async () => {
    await helmOk(node, [...INSTALL, '--set', cniBinDir()]);
    await waitForRollouts(node);
    expect(await release()).toMatchObject({ version: 1, info: { status: 'deployed' } });
    expect(await crdUIDs()).toEqual(firstCRDs);
    // The webhook found its Secret from the first install and wrote its CA into the new
    // configurations: the API server trusts it.
    const r = await tryKubectl(node, ['apply', '-n', ns, '-f', '-'], JSON.stringify(BAD));
    expect(
      await withContext(r.stderr.trim(), DENIAL, () =>
        diagnose(node, NAMESPACE, selector('webhook')),
      ),
    ).toBe(DENIAL);
    await helmOk(node, ['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout', '120s']);
  }, 240_000);
});
