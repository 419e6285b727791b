/**
 * nicpool installed as a cluster admin installs it, on the real kubelet node (issue 16 item 3):
 * `kubectl apply -k e2e/install` (deploy/ with only the allocator's CNI bin dir changed) with
 * the image `make images` built, imported into the node's containerd and run with
 * IfNotPresent; then both halves of the tutorial with its manifests unchanged on real pods and
 * their output held line by line against the tutorial's; the webhook refusing a bad annotation
 * through its Service; the allocator pod deleted while a Deployment scales up; rollout
 * restarts of the webhook and the controller under a stream of admissions; and the uninstall
 * of docs/install.md, leaving only what the docs say it leaves.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest } from '../scripts/images/index.ts';
import { brokenApp } from '../scripts/stack.ts';
import { run } from './sim/run.ts';
import { eventually, uniqueName } from './harness/helpers.ts';
import { expectInvariants } from './harness/invariants.ts';
import {
  CNI_PLUGINS,
  CRDS,
  NAMESPACE,
  TUTORIAL_FILES as F,
  admissionLoop,
  columns,
  compareIpAddr,
  compareRoutes,
  diagnose,
  expectNotInstalled,
  failuresText,
  hostIPv4,
  keptBefore,
  kustomizeInstall,
  kustomizeUninstall,
  leftovers,
  podAddresses,
  podsOf,
  removeEverything,
  runningPods,
  selector,
  tryKubectl,
  tutorialCleanup,
  tutorialExec,
  withContext,
  tutorialPrints,
  waitForDeployment,
  waitForRollouts,
  type AdmissionResult,
  type Kept,
} from './harness/realnode-install.ts';
import { IMAGES_DIR, ensureRealNode, type RealNode } from './realnode/node.ts';

let node: RealNode;
let before: Kept;
/** Where the admission loop's dry-run pods and the refused Deployment go. */
const ns = uniqueName('nicpool-install-e2e');
const k = (args: readonly string[], input?: string): Promise<string> => node.kubectl(args, input);
const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

beforeAll(async () => {
  for (const image of ['nicpool', 'busybox', 'nginx'])
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

describe('nicpool installed with kubectl apply -k, on the real node', () => {
  it('rolls out: 2 webhook and 2 controller replicas, the allocator DaemonSet, Ready through their probes; the init container installed the CNI plugins', async () => {
    await kustomizeInstall(node);
    const get = async <T>(args: string[]): Promise<T> =>
      JSON.parse(await k([...args, '-n', NAMESPACE, '-o', 'json'])) as T;
    type Dep = { spec: { replicas: number }; status: { readyReplicas?: number } };
    for (const name of ['nicpool-webhook', 'nicpool-controller']) {
      const d = await get<Dep>(['get', 'deployment', name]);
      expect({ name, replicas: d.spec.replicas, ready: d.status.readyReplicas }).toEqual({
        name,
        replicas: 2,
        ready: 2,
      });
    }
    const ds = await get<{ status: { desiredNumberScheduled: number; numberReady: number } }>([
      'get',
      'daemonset',
      'nicpool-allocator',
    ]);
    expect(ds.status).toMatchObject({ desiredNumberScheduled: 1, numberReady: 1 });

    // Ready means the kubelet's own probes answered (HTTPS /readyz of the webhook, HTTP of the
    // others), and every container runs the imported image, not another one.
    // containerd reports the image by its config digest: the config of the manifest that
    // dist/images/manifest.json records for nicpool:0.1.0.
    const manifest = readManifest()?.find((i) => i.key === 'nicpool')?.digest;
    expect(manifest).toMatch(/^sha256:/);
    const imageID = (
      JSON.parse(await node.ctr(['content', 'get', manifest!])) as {
        config: { digest: string };
      }
    ).config.digest;
    type Spec = { readinessProbe?: { httpGet?: { path: string } } }[];
    const pods = (
      JSON.parse(
        await k([
          'get',
          'pods',
          '-n',
          NAMESPACE,
          '-l',
          'app.kubernetes.io/name=nicpool',
          '-o',
          'json',
        ]),
      ) as {
        items: (Awaited<ReturnType<typeof podsOf>>[number] & {
          spec: { containers: Spec; initContainers?: Spec };
          status: { containerStatuses?: { imageID: string; ready: boolean }[] };
        })[];
      }
    ).items;
    expect(pods).toHaveLength(5);
    for (const p of pods) {
      const why = `${p.metadata.name}\n${await diagnose(node)}`;
      expect({
        why,
        probes: p.spec.containers.map((c) => c.readinessProbe?.httpGet?.path),
      }).toEqual({ why, probes: ['/readyz'] });
      expect({ why, ready: p.status.containerStatuses?.map((c) => c.ready) }).toEqual({
        why,
        ready: [true],
      });
      for (const c of p.status.containerStatuses ?? [])
        expect({ pod: p.metadata.name, imageID: c.imageID }).toEqual({
          pod: p.metadata.name,
          imageID,
        });
    }
    const [alloc] = await podsOf(node, NAMESPACE, selector('allocator'));
    expect(alloc?.status.initContainerStatuses?.map((c) => [c.name, c.state?.terminated])).toEqual([
      ['install-cni-plugins', expect.objectContaining({ exitCode: 0, reason: 'Completed' })],
    ]);
    for (const plugin of CNI_PLUGINS) {
      const path = join(node.cniBinDir, plugin);
      expect({ path, mode: statSync(path).mode & 0o111 }).toEqual({ path, mode: 0o111 });
      // The installed executable answers as a CNI plugin does.
      const r = await run({ cmd: path, args: [], env: { CNI_COMMAND: 'VERSION' } });
      expect({ plugin, code: r.code, stderr: r.stderr }).toEqual({ plugin, code: 0, stderr: '' });
      expect(JSON.parse(r.stdout)).toMatchObject({
        supportedVersions: expect.arrayContaining(['0.3.1']),
      });
    }
  }, 240000);

  describe("the tutorial's manifests, unchanged, on real pods", () => {
    /** Runs `command` in the pod as the tutorial does; stdout, or the exec's failure. */
    const exec = (pod: string, command: string) =>
      tryKubectl(node, ['exec', pod, '--', ...command.split(' ')]);

    /** The tutorial pod's eth0/net1 addresses (from its `ip a`) → this pod's. */
    const addressMap = (app: string, mine: Map<string, string>): Map<string, string> => {
      const m = new Map<string, string>();
      for (const l of tutorialExec(app, 'ip a').lines) {
        const x = /inet ([\d.]+)\/\d+ .* scope global (\S+)$/.exec(l.trim());
        if (x !== null) m.set(x[1]!, mine.get(x[2]!)!);
      }
      return m;
    };

    it('multiple NICs by subnet: the NADs, 0 of 10 allocated, auto-pools of 3 with 2 allocated, addresses from the subnets, the pod output of the tutorial', async () => {
      await k(['apply', '-f', F.nads]);
      const nads = columns(
        lines(
          await k(['get', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', 'kube-system']),
        ),
      );
      // The node's own cluster network (realnode-bridge) is listed beside the tutorial's two.
      expect(nads.map((r) => r[0]).filter((n) => n !== 'realnode-bridge')).toEqual(
        columns(
          tutorialPrints(
            'kubectl get network-attachment-definitions.k8s.cni.cncf.io -n kube-system',
          ),
        ).map((r) => r[0]),
      );

      await k(['apply', '-f', F.subnets]);
      const subnets = columns(tutorialPrints('kubectl get spidersubnet'));
      await eventually(
        `kubectl get spidersubnet as the tutorial prints it: ${JSON.stringify(subnets)}`,
        async () =>
          JSON.stringify(columns(lines(await k(['get', 'spidersubnet'])))) ===
          JSON.stringify(subnets)
            ? true
            : undefined,
        30_000,
      ).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\nseen:\n${await k(['get', 'spidersubnet'])}`);
      });

      await k(['apply', '-f', F.subnetDeploy]);
      await waitForDeployment(node, 'default', 'test-app', 'test-app');
      const pods = await runningPods(node, 'default', 'test-app', 2);
      const uid = (
        await k(['get', 'deployment', 'test-app', '-o', 'jsonpath={.metadata.uid}'])
      ).trim();
      const suffix = uid.split('-').at(-1)!;
      const printedPools = tutorialPrints('kubectl get spiderippool', 0);
      const tutorialSuffix = /-([0-9a-f]{12})$/.exec(columns(printedPools)[1]![0]!)![1]!;
      const pools = columns(printedPools.map((l) => l.replaceAll(tutorialSuffix, suffix)));
      let seenPools = '';
      await eventually(
        `the auto-pools as the tutorial lists them: ${JSON.stringify(pools)}`,
        async () => {
          seenPools = await k(['get', 'spiderippool']);
          return JSON.stringify(columns(lines(seenPools))) === JSON.stringify(pools)
            ? true
            : undefined;
        },
        60_000,
      ).catch(async (e: unknown) => {
        throw new Error(
          `${String(e)}\nseen:\n${seenPools}\n${await diagnose(node, NAMESPACE, selector('controller'))}`,
        );
      });
      for (const nic of ['eth0', 'net1']) {
        const name = `auto-test-app-v4-${nic}-${suffix}`;
        const printed = tutorialPrints(
          `kubectl get spiderippool auto-test-app-v4-${nic}-${tutorialSuffix} -o jsonpath='{.spec.ips}'`,
        );
        expect(await k(['get', 'spiderippool', name, '-o', 'jsonpath={.spec.ips}'])).toBe(
          printed.join('\n'),
        );
      }

      // kubectl get po -o wide: the tutorial's columns; the name, age, address and node are this cluster's.
      const addresses = new Map<string, Map<string, string>>();
      for (const p of pods)
        addresses.set(p.metadata.name, await podAddresses(node, 'default', p.metadata.name));
      const printedPods = columns(tutorialPrints('kubectl get po -l app=test-app -o wide'));
      const table = columns(lines(await k(['get', 'po', '-l', 'app=test-app', '-o', 'wide'])));
      expect(table[0]).toEqual(printedPods[0]);
      expect(table.slice(1).map((r) => [r[0], r[1], r[2], r[3], r[5], r[6], r[7], r[8]])).toEqual(
        pods.map((p, i) => {
          const t = printedPods[i + 1]!;
          return [
            p.metadata.name,
            t[1],
            t[2],
            t[3],
            addresses.get(p.metadata.name)!.get('eth0'),
            node.nodeName,
            t[7],
            t[8],
          ];
        }),
      );
      const all = [...addresses.values()].flatMap((m) => [m.get('eth0'), m.get('net1')]);
      expect(new Set(all).size).toBe(4);
      for (const a of all) expect(a).toMatch(/^10\.[67]\.168\.17[1-3]$/);

      for (const p of pods) {
        const name = p.metadata.name;
        const mine = addresses.get(name)!;
        const map = addressMap('test-app', mine);
        const ipa = compareIpAddr(
          tutorialExec('test-app', 'ip a').lines,
          (await exec(name, 'ip a')).stdout,
          map,
        );
        expect(ipa.actual).toEqual(ipa.expected);
        const rules = compareRoutes(
          tutorialExec('test-app', 'ip rule show').lines,
          (await exec(name, 'ip rule show')).stdout,
          map,
        );
        expect(rules.actual).toEqual(rules.expected);
        expect(rules.allowed).toEqual([]);
        const t100 = compareRoutes(
          tutorialExec('test-app', 'ip route show table 100').lines,
          (await exec(name, 'ip route show table 100')).stdout,
          map,
          hostIPv4(),
        );
        expect(t100.actual).toEqual(t100.expected);
        // The tutorial's `ip r show main` output is BusyBox's `ip` (only the default route; its
        // IPPool half runs it in busybox). This pod is nginx, whose `ip` is Debian's iproute2,
        // which refuses the word: the refusal exactly, then iproute2's way of asking for the
        // default route, line by line against the tutorial's.
        const main = await exec(name, 'ip r show main');
        expect(main.stderr.trim().split('\n')).toEqual([
          'Error: any valid prefix is expected rather than "main".',
          'command terminated with exit code 1',
        ]);
        const def = compareRoutes(
          tutorialExec('test-app', 'ip r show main').lines,
          (await exec(name, 'ip route show default')).stdout,
          map,
        );
        expect(def.actual).toEqual(def.expected);
        // The whole main table as veth.md "How to see it" prints it (the tutorial shows one line).
        const full = compareRoutes(
          [
            'default via 10.6.0.1 dev eth0',
            `10.6.0.0/16 dev eth0 proto kernel scope link src ${mine.get('eth0')}`,
            '10.6.168.123 dev veth0 scope link',
            '10.96.0.0/12 via 10.6.168.123 dev veth0',
          ],
          (await exec(name, 'ip route show table main')).stdout,
          new Map(),
          hostIPv4(),
        );
        expect(full.actual).toEqual(full.expected);
      }

      // Before the IPPool half, as tutorial.e2e does: its listing shows the IPPools alone.
      await k(['delete', '-f', F.subnetDeploy, '--wait=false']);
      await eventually(
        'the auto-pools gone and the subnets back to 0 allocated',
        async () =>
          (await k(['get', 'spiderippool', '-o', 'name'])) === '' &&
          JSON.stringify(columns(lines(await k(['get', 'spidersubnet'])))) ===
            JSON.stringify(subnets)
            ? true
            : undefined,
        90_000,
      ).catch(async (e: unknown) => {
        throw new Error(
          `${String(e)}\n${await k(['get', 'spiderippool,spidersubnet'])}\n${await diagnose(node, NAMESPACE, selector('controller'))}`,
        );
      });
    }, 240000);

    it('multiple NICs by IPPool: 0 then 1 of 5 allocated per pool, the pod output of the tutorial', async () => {
      await k(['apply', '-f', F.ippools]);
      const listing = async (nth: number): Promise<void> => {
        const want = columns(tutorialPrints('kubectl get spiderippool', nth));
        let seen = '';
        await eventually(
          `kubectl get spiderippool as the tutorial prints it: ${JSON.stringify(want)}`,
          async () => {
            seen = await k(['get', 'spiderippool']);
            return JSON.stringify(columns(lines(seen))) === JSON.stringify(want) ? true : undefined;
          },
          60_000,
        ).catch((e: unknown) => {
          throw new Error(`${String(e)}\nseen:\n${seen}`);
        });
      };
      await listing(1);
      await k(['apply', '-f', F.ippoolDeploy]);
      await waitForDeployment(node, 'default', 'ippool-test-app', 'ippool-test-app');
      const [pod] = await runningPods(node, 'default', 'ippool-test-app', 1);
      await listing(2);
      const name = pod!.metadata.name;
      const mine = await podAddresses(node, 'default', name);
      expect(mine.get('eth0')).toMatch(/^10\.6\.168\.(17[6-9]|180)$/);
      expect(mine.get('net1')).toMatch(/^10\.7\.168\.(17[6-9]|180)$/);

      const printedPods = columns(tutorialPrints('kubectl get po -l app=ippool-test-app -o wide'));
      const table = columns(
        lines(await k(['get', 'po', '-l', 'app=ippool-test-app', '-o', 'wide'])),
      );
      const t = printedPods[1]!;
      expect(table).toEqual([
        printedPods[0],
        [name, t[1], t[2], t[3], table[1]![4], mine.get('eth0'), node.nodeName, t[7], t[8]],
      ]);

      const map = new Map<string, string>();
      for (const l of tutorialExec('ippool-test-app', 'ip a').lines) {
        const x = /inet ([\d.]+)\/\d+ .* scope global (\S+)$/.exec(l.trim());
        if (x !== null) map.set(x[1]!, mine.get(x[2]!)!);
      }
      const exec = async (command: string): Promise<string> =>
        k(['exec', name, '--', ...command.split(' ')]);
      const ipa = compareIpAddr(
        tutorialExec('ippool-test-app', 'ip a').lines,
        await exec('ip a'),
        map,
      );
      expect(ipa.actual).toEqual(ipa.expected);
      const rules = compareRoutes(
        tutorialExec('ippool-test-app', 'ip rule show').lines,
        await exec('ip rule show'),
        map,
      );
      expect(rules.actual).toEqual(rules.expected);
      // BusyBox's `ip r show main` prints the default route only, as the tutorial shows.
      const main = compareRoutes(
        tutorialExec('ippool-test-app', 'ip r show main').lines,
        await exec('ip r show main'),
        map,
        hostIPv4(),
      );
      expect(main.actual).toEqual(main.expected);
      // BusyBox prints no `proto kernel` and two spaces before `src`: so does the tutorial's listing.
      const t100 = compareRoutes(
        tutorialExec('ippool-test-app', 'ip r show table 100').lines,
        await exec('ip r show table 100'),
        map,
        hostIPv4(),
      );
      expect(t100.actual).toEqual(t100.expected);
    }, 180000);
  });

  it('refuses a bad annotation at kubectl apply through the webhook Service (ClusterIP, kube-proxy): the exact denial in stderr', async () => {
    const bad = brokenApp(ns);
    const denial =
      'The request is invalid: error when creating "STDIN": admission webhook "workloads.validate.nicpool.spidernet.io" denied the request: spec.template.metadata.annotations: unknown field `ipv4s` in item 1 of ipam.spidernet.io/ippools; did you mean `ipv4`?';
    const r = await tryKubectl(node, ['apply', '-f', '-'], JSON.stringify(bad));
    expect(
      await withContext(r.stderr.trim(), denial, () =>
        diagnose(node, NAMESPACE, selector('webhook')),
      ),
    ).toBe(denial);
    expect(await k(['get', 'deployments', '-n', ns, '-o', 'name'])).toBe('');

    // The configuration names the Service, not a URL; the API server (on this host) reached it
    // at the Service's ClusterIP, and kube-proxy's DNAT sent it to a webhook pod: the host's
    // conntrack table holds that translation.
    const cfg = JSON.parse(
      await k(['get', 'validatingwebhookconfiguration', 'nicpool-validating', '-o', 'json']),
    ) as { webhooks: { clientConfig: { url?: string; service?: object } }[] };
    for (const w of cfg.webhooks) {
      expect(w.clientConfig.url).toBeUndefined();
      expect(w.clientConfig.service).toEqual({
        namespace: NAMESPACE,
        name: 'nicpool-webhook',
        path: '/validate',
        port: 443,
      });
    }
    const clusterIP = (
      await k([
        'get',
        'svc',
        '-n',
        NAMESPACE,
        'nicpool-webhook',
        '-o',
        'jsonpath={.spec.clusterIP}',
      ])
    ).trim();
    const podIPs = (await podsOf(node, NAMESPACE, selector('webhook'))).map((p) => p.status.podIP);
    const flows = readFileSync('/proc/net/nf_conntrack', 'utf8')
      .split('\n')
      .map((l) =>
        /\btcp\b.* dst=([\d.]+) sport=\d+ dport=443 .*?src=([\d.]+) dst=[\d.]+ sport=9443 /.exec(l),
      )
      .filter((m) => m !== null && m[1] === clusterIP)
      .map((m) => m![2]);
    expect({
      clusterIP,
      toPods: flows.length > 0 && flows.every((ip) => podIPs.includes(ip)),
    }).toEqual({
      clusterIP,
      toPods: true,
    });
  }, 60000);

  it('the allocator pod deleted while a Deployment scales up: every pod Running with its two addresses, none lost or doubled', async () => {
    const [old] = await podsOf(node, NAMESPACE, selector('allocator'));
    await k(['scale', 'deployment', 'ippool-test-app', '--replicas=5']);
    await k(['delete', 'pod', '-n', NAMESPACE, '-l', selector('allocator')]);
    const pods = await runningPods(node, 'default', 'ippool-test-app', 5, 150_000);
    await waitForRollouts(node);
    const [now] = await podsOf(node, NAMESPACE, selector('allocator'));
    expect(now?.metadata.uid).not.toBe(old?.metadata.uid);
    const seen: string[] = [];
    for (const p of pods) {
      const a = await podAddresses(node, 'default', p.metadata.name);
      expect({ pod: p.metadata.name, eth0: a.get('eth0'), net1: a.get('net1') }).toEqual({
        pod: p.metadata.name,
        eth0: expect.stringMatching(/^10\.6\.168\.(17[6-9]|180)$/),
        net1: expect.stringMatching(/^10\.7\.168\.(17[6-9]|180)$/),
      });
      seen.push(a.get('eth0')!, a.get('net1')!);
    }
    // The pools hold five addresses each: five pods use all of them, so one lost would leave a pod without.
    expect(new Set(seen).size).toBe(10);
    const count = async (): Promise<string> =>
      k([
        'get',
        'spiderippool',
        'ippool-test-ens192',
        'ippool-test-ens224',
        '-o',
        'jsonpath={.items[*].status.allocatedIPCount}',
      ]);
    await eventually(
      'both pools at 5 allocated',
      async () => ((await count()) === '5 5' ? true : undefined),
      30_000,
    );
    await expectInvariants(node.kubeconfig, { allowSettling: false, settleMs: 30_000 });

    await k(['scale', 'deployment', 'ippool-test-app', '--replicas=1']);
    await runningPods(node, 'default', 'ippool-test-app', 1);
    await eventually(
      'both pools back at 1 allocated',
      async () => ((await count()) === '1 1' ? true : undefined),
      60_000,
    );
    await expectInvariants(node.kubeconfig, { allowSettling: false, settleMs: 30_000 });
  }, 300_000);

  describe('kubectl rollout restart of the webhook and the controller under admissions every 200 ms', () => {
    let results: Record<string, AdmissionResult> = {};
    /** nicpool-system's pods and events right after the rollout, for a failure's message. */
    let during = '';

    it('admits every unannotated pod', async () => {
      const loop = admissionLoop(node, ns, {
        unannotated: {},
        // Passes through the webhook (matchConditions send only ipam.spidernet.io/* pods).
        annotated: {
          'v1.multus-cni.io/default-network': 'kube-system/macvlan-conf-ens192',
          'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-conf-ens224',
          'ipam.spidernet.io/ippools': JSON.stringify([
            { interface: 'eth0', ipv4: ['ippool-test-ens192'] },
            { interface: 'net1', ipv4: ['ippool-test-ens224'] },
          ]),
        },
      });
      try {
        for (const d of ['nicpool-webhook', 'nicpool-controller']) {
          await k(['rollout', 'restart', '-n', NAMESPACE, `deployment/${d}`]);
          await waitForRollouts(node);
        }
        await new Promise((r) => setTimeout(r, 2000));
      } finally {
        results = await loop.stop();
        during = await diagnose(node);
      }
      const r = results['unannotated']!;
      expect(r.sent).toBeGreaterThan(50);
      expect(r.skipped).toBe(0);
      expect(await withContext(failuresText(r), '', async () => during)).toBe('');
    }, 300_000);

    it('admits every pod with nicpool annotations (the webhook answers each one)', async () => {
      const r = results['annotated'];
      expect(r?.sent).toBeGreaterThan(50);
      // A failure here is a webhook replica that stopped serving while the API server still sent
      // it requests (failurePolicy: Fail): "connection refused" to the Service, a reused
      // connection closed, or fastify's 503 while closing.
      expect(await withContext(failuresText(r!), '', async () => during)).toBe('');
    }, 10000);
  });

  it('uninstalls as docs/install.md says: nothing of nicpool left but the CRDs, the CNI plugins and the socket dir', async () => {
    const stuck = await tutorialCleanup(node);
    expect(stuck).toEqual([]);
    await eventually(
      "no SpiderIPPool, SpiderSubnet or SpiderEndpoint left after the tutorial's clean up",
      async () =>
        (await k(['get', 'spiderippool,spidersubnet,spiderendpoint', '-A', '-o', 'name'])) === ''
          ? true
          : undefined,
      60_000,
    ).catch(async (e: unknown) => {
      throw new Error(
        `${String(e)}\n${await k(['get', 'spiderippool,spidersubnet,spiderendpoint', '-A', '-o', 'yaml'])}`,
      );
    });
    await kustomizeUninstall(node);
    expect(await leftovers(node)).toEqual({
      labelled: [],
      clusterScoped: [],
      namespace: undefined,
      crds: [...CRDS],
      helmReleases: [],
      cniPlugins: [...CNI_PLUGINS],
      socketDir: before.socketDir ?? [],
    });
  }, 240000);
});
