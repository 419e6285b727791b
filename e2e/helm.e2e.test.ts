/**
 * The Helm chart deploy/helm/nicpool through the real `helm` (no cluster needed): strict
 * lint; with default values `helm template` renders deploy/'s objects, object by object
 * (Helm's own labels aside, and without deploy/'s Namespace: the release's is Helm's);
 * each value lands where it should; a bad value is refused by the schema with its path.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { HELM_LABELS } from '@nicpool/manifests';
import { readAllocatorConfig } from '../apps/allocator/src/config.ts';
import { readControllerConfig } from '../apps/controller/src/config.ts';
import { readWebhookConfig } from '../apps/webhook/src/config.ts';
import { REPO, versions } from './cluster/control-plane.ts';

const CHART = join(REPO, 'deploy', 'helm', 'nicpool');
const V = versions();
const HELM = join(
  process.env['NICPOOL_CACHE'] ?? join(homedir(), '.cache', 'nicpool'),
  `helm-${V['HELM_VERSION']}`,
  'bin',
  'helm',
);
// Offline rendering assumes the cluster version the tests run, not the binary's default.
const KUBE = `--kube-version=${V['KUBE_VERSION']}`;

type Obj = Record<string, unknown> & {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function helm(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(HELM, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}
async function ok(args: readonly string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

const docsOf = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);

/** `helm template` of the chart in `namespace` with `--set`/`--set-json` arguments. */
async function render(namespace: string, ...set: string[]): Promise<Obj[]> {
  return docsOf(await ok(['template', 'nicpool', CHART, '-n', namespace, KUBE, ...set]));
}

const key = (o: Obj): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind} ${name} rendered`);
  return o;
};
const kinds = (objs: Obj[]): string[] => objs.map((o) => o.kind);

interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  resources?: unknown;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; hostPath?: { path: string }; secret?: { secretName: string } }[];
  tolerations?: unknown;
  nodeSelector?: unknown;
  affinity?: unknown;
  imagePullSecrets?: unknown;
}
const pod = (o: Obj): PodSpec =>
  (o as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const env = (c: Container | undefined): Record<string, string | undefined> =>
  Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
const WORKLOADS: [string, string][] = [
  ['Deployment', 'nicpool-webhook'],
  ['Deployment', 'nicpool-controller'],
  ['DaemonSet', 'nicpool-allocator'],
];
const webhookPod = (objs: Obj[]): PodSpec => pod(find(objs, 'Deployment', 'nicpool-webhook'));

/** deploy/ as `kubectl apply -k deploy/` reads it: the kustomization's resources. */
function deployObjects(): Obj[] {
  const k = parse(readFileSync(join(REPO, 'deploy', 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
  };
  return k.resources.flatMap((f) => docsOf(readFileSync(join(REPO, 'deploy', f), 'utf8')));
}

/** An object without the labels only Helm adds. */
function withoutHelmLabels(o: Obj): Obj {
  const labels = { ...o.metadata.labels };
  for (const l of HELM_LABELS) delete labels[l];
  return { ...o, metadata: { ...o.metadata, labels } };
}

beforeAll(() => {
  if (!existsSync(HELM))
    throw new Error(
      `missing helm ${V['HELM_VERSION']} (${HELM}); run \`make components\` (e2e/cluster/build-components.sh helm) first`,
    );
});

describe('the Helm chart', () => {
  it('passes helm lint --strict, with default values and with every option on', async () => {
    await ok(['lint', '--strict', KUBE, CHART]);
    await ok([
      'lint',
      '--strict',
      KUBE,
      CHART,
      '--set=webhook.certificate.mode=certManager,metrics.serviceMonitor.enabled=true,webhook.replicas=1',
    ]);
  });

  it('with default values renders exactly the objects of deploy/ (Helm labels aside, no Namespace)', async () => {
    const chart = docsOf(
      await ok(['template', 'nicpool', CHART, '-n', 'nicpool-system', KUBE, '--include-crds']),
    );
    const deploy = deployObjects();
    // The release namespace is made by `helm install --create-namespace` (or beforehand).
    expect(deploy.filter((o) => o.kind === 'Namespace').map(key)).toEqual([
      'Namespace//nicpool-system',
    ]);
    const expected = new Map(deploy.filter((o) => o.kind !== 'Namespace').map((o) => [key(o), o]));
    const got = new Map(chart.map((o) => [key(o), o]));
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, o] of got) {
      expect([k, withoutHelmLabels(o)]).toEqual([k, expected.get(k)]);
      if (o.kind !== 'CustomResourceDefinition')
        expect([k, o.metadata.labels?.['app.kubernetes.io/managed-by']]).toEqual([k, 'Helm']);
    }
  });

  it('puts everything in the release namespace and refers to it there', async () => {
    const objs = await render('ipam');
    const text = JSON.stringify(objs);
    expect(text).not.toContain('nicpool-system');
    for (const o of objs)
      if (!/^Cluster|WebhookConfiguration$/.test(o.kind))
        expect([key(o), o.metadata.namespace]).toEqual([key(o), 'ipam']);
    for (const o of objs.filter((x) => /Binding$/.test(x.kind)))
      expect((o as unknown as { subjects: { namespace: string }[] }).subjects[0]?.namespace).toBe(
        'ipam',
      );
    for (const name of ['nicpool-validating', 'nicpool-mutating']) {
      const kind = name.endsWith('validating')
        ? 'ValidatingWebhookConfiguration'
        : 'MutatingWebhookConfiguration';
      const hooks = (
        find(objs, kind, name) as unknown as {
          webhooks: {
            clientConfig: { service: { namespace: string } };
            namespaceSelector?: { matchExpressions: { values: string[] }[] };
            matchConditions: { expression: string }[];
          }[];
        }
      ).webhooks;
      for (const h of hooks) {
        expect(h.clientConfig.service.namespace).toBe('ipam');
        if (h.namespaceSelector)
          expect(h.namespaceSelector.matchExpressions[0]?.values).toEqual(['kube-system', 'ipam']);
      }
      expect(JSON.stringify(hooks)).toContain("'system:serviceaccount:ipam:nicpool-controller'");
    }
    expect(env(webhookPod(objs).containers[0])['NICPOOL_WEBHOOK_CONTROLLER_USERS']).toBe(
      'system:serviceaccount:ipam:nicpool-controller',
    );
  });

  it('certManager mode: Issuers and Certificates, the CA injected into both configurations, the Secret mounted, no certificate RBAC', async () => {
    const objs = await render('ipam', '--set=webhook.certificate.mode=certManager');
    const cert = find(objs, 'Certificate', 'nicpool-webhook') as unknown as {
      spec: { secretName: string; dnsNames: string[]; issuerRef: { name: string } };
    };
    expect(cert.spec.dnsNames).toEqual([
      'nicpool-webhook',
      'nicpool-webhook.ipam',
      'nicpool-webhook.ipam.svc',
      'nicpool-webhook.ipam.svc.cluster.local',
    ]);
    find(objs, 'Issuer', cert.spec.issuerRef.name);
    find(objs, 'Certificate', 'nicpool-webhook-ca');
    find(objs, 'Issuer', 'nicpool-selfsigned');
    for (const [kind, name] of [
      ['ValidatingWebhookConfiguration', 'nicpool-validating'],
      ['MutatingWebhookConfiguration', 'nicpool-mutating'],
    ] as const)
      expect((find(objs, kind, name).metadata as { annotations?: unknown }).annotations).toEqual({
        'cert-manager.io/inject-ca-from': 'ipam/nicpool-webhook',
      });
    const p = webhookPod(objs);
    const e = env(p.containers[0]);
    expect(e).toMatchObject({
      NICPOOL_WEBHOOK_CERT_MODE: 'files',
      NICPOOL_WEBHOOK_TLS_CERT: '/tls/tls.crt',
      NICPOOL_WEBHOOK_TLS_KEY: '/tls/tls.key',
    });
    // Files mode refuses the self-managed settings at start.
    expect(Object.keys(e)).not.toContain('NICPOOL_WEBHOOK_NAMESPACE');
    expect(p.volumes).toEqual([{ name: 'tls', secret: { secretName: cert.spec.secretName } }]);
    expect(p.containers[0]?.volumeMounts).toEqual([
      { name: 'tls', mountPath: '/tls', readOnly: true },
    ]);
    expect(objs.filter((o) => o.kind === 'Role').map((o) => o.metadata.name)).toEqual([
      'nicpool-controller',
    ]);
    expect(JSON.stringify(find(objs, 'ClusterRole', 'nicpool-webhook'))).not.toContain(
      'admissionregistration',
    );

    const self = await render('ipam');
    expect(kinds(self)).not.toContain('Certificate');
    expect(kinds(self)).not.toContain('Issuer');
    expect(env(webhookPod(self).containers[0])['NICPOOL_WEBHOOK_CERT_MODE']).toBe('self-managed');
    expect(webhookPod(self).volumes).toBeUndefined();
  });

  it('metrics.serviceMonitor.enabled: one ServiceMonitor per component, on a Service with that port', async () => {
    expect(kinds(await render('ipam'))).not.toContain('ServiceMonitor');
    const objs = await render(
      'ipam',
      '--set=metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.interval=15s',
      '--set-json=metrics.serviceMonitor.labels={"release":"prometheus"}',
    );
    const monitors = objs.filter((o) => o.kind === 'ServiceMonitor');
    expect(monitors.map((o) => o.metadata.name).sort()).toEqual([
      'nicpool-allocator',
      'nicpool-controller',
      'nicpool-webhook',
    ]);
    const services = objs.filter((o) => o.kind === 'Service') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { ports: { name: string }[]; clusterIP?: string };
    }[];
    for (const m of monitors as unknown as {
      metadata: { labels: Record<string, string> };
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string; interval: string; scheme: string }[];
      };
    }[]) {
      expect(m.metadata.labels['release']).toBe('prometheus');
      const ep = m.spec.endpoints[0];
      expect(ep).toMatchObject({ path: '/metrics', interval: '15s' });
      const selected = services.filter((s) =>
        Object.entries(m.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels[k] === v),
      );
      expect(selected).toHaveLength(1);
      expect(selected[0]?.spec.ports.map((p) => p.name)).toContain(ep?.port);
    }
    expect(find(objs, 'ServiceMonitor', 'nicpool-webhook')).toMatchObject({
      spec: {
        endpoints: [
          {
            port: 'https',
            scheme: 'https',
            tlsConfig: {
              serverName: 'nicpool-webhook.ipam.svc',
              ca: { secret: { name: 'nicpool-webhook-tls', key: 'ca.crt' } },
            },
          },
        ],
      },
    });
    expect(find(objs, 'Service', 'nicpool-allocator-metrics')).toMatchObject({
      spec: { clusterIP: 'None' },
    });
  });

  it('cni.binDir moves the host directory the plugins are installed into; there is no confDir', async () => {
    const objs = await render('ipam', '--set=cni.binDir=/var/lib/rancher/cni/bin');
    const p = pod(find(objs, 'DaemonSet', 'nicpool-allocator'));
    expect(p.volumes?.find((v) => v.name === 'cni-bin')?.hostPath?.path).toBe(
      '/var/lib/rancher/cni/bin',
    );
    // Inside the init container the path is fixed; only the host side moves.
    expect(p.initContainers?.[0]?.volumeMounts).toEqual([
      { name: 'cni-bin', mountPath: '/host/opt/cni/bin' },
    ]);
    const r = await helm(['template', 'nicpool', CHART, KUBE, '--set=cni.confDir=/etc/cni/net.d']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("at '/cni': additional properties 'confDir' not allowed");
  });

  it('replicas; a single webhook replica has no PodDisruptionBudget (it would block drains)', async () => {
    const objs = await render('ipam', '--set=webhook.replicas=3,controller.replicas=1');
    const replicas = (o: Obj): unknown =>
      (o as unknown as { spec: { replicas: unknown } }).spec.replicas;
    expect(replicas(find(objs, 'Deployment', 'nicpool-webhook'))).toBe(3);
    expect(replicas(find(objs, 'Deployment', 'nicpool-controller'))).toBe(1);
    expect(
      objs
        .filter((o) => o.kind === 'PodDisruptionBudget')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['nicpool-controller', 'nicpool-webhook']);
    const one = await render('ipam', '--set=webhook.replicas=1');
    expect(one.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name)).toEqual(
      ['nicpool-controller'],
    );
  });

  it('tolerations, nodeSelector, affinity, resources, image, pull secrets and log level land in each pod', async () => {
    const toleration = { key: 'dedicated', operator: 'Equal', value: 'net', effect: 'NoSchedule' };
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'net', operator: 'Exists' }] }],
        },
      },
    };
    const resources = { requests: { cpu: '100m', memory: '200Mi' }, limits: { memory: '1Gi' } };
    const objs = await render(
      'ipam',
      '--set=image.repository=registry.example/nicpool,image.tag=0.1.0-rc1,image.pullPolicy=Never,logLevel=debug',
      `--set-json=webhook.tolerations=${JSON.stringify([toleration])}`,
      `--set-json=controller.tolerations=${JSON.stringify([toleration])}`,
      `--set-json=allocator.tolerations=${JSON.stringify([toleration])}`,
      '--set=webhook.nodeSelector.role=infra,controller.nodeSelector.role=infra,allocator.nodeSelector.net=yes',
      `--set-json=controller.affinity=${JSON.stringify(affinity)}`,
      `--set-json=allocator.affinity=${JSON.stringify(affinity)}`,
      `--set-json=webhook.resources=${JSON.stringify(resources)}`,
      '--set-json=imagePullSecrets=[{"name":"regcred"}]',
    );
    for (const [kind, name] of WORKLOADS) {
      const p = pod(find(objs, kind, name));
      expect([name, p.tolerations]).toEqual([name, [toleration]]);
      expect([name, p.nodeSelector]).toEqual([
        name,
        name === 'nicpool-allocator' ? { net: 'yes' } : { role: 'infra' },
      ]);
      expect([name, p.imagePullSecrets]).toEqual([name, [{ name: 'regcred' }]]);
      for (const c of [...p.containers, ...(p.initContainers ?? [])])
        expect([name, c.image, c.imagePullPolicy]).toEqual([
          name,
          'registry.example/nicpool:0.1.0-rc1',
          'Never',
        ]);
      expect([name, env(p.containers[0])['NICPOOL_LOG_LEVEL']]).toEqual([name, 'debug']);
    }
    expect(pod(find(objs, 'Deployment', 'nicpool-controller')).affinity).toEqual(affinity);
    expect(pod(find(objs, 'DaemonSet', 'nicpool-allocator')).affinity).toEqual(affinity);
    // Not set: the built-in spread over nodes stays.
    expect(JSON.stringify(webhookPod(objs).affinity)).toContain('podAntiAffinity');
    expect(webhookPod(objs).containers[0]?.resources).toEqual(resources);

    // Defaults: the allocator tolerates every taint; an empty list takes that away.
    const defaults = await render('ipam');
    expect(pod(find(defaults, 'DaemonSet', 'nicpool-allocator')).tolerations).toEqual([
      { operator: 'Exists' },
    ]);
    const none = await render('ipam', '--set-json=allocator.tolerations=[]');
    expect(pod(find(none, 'DaemonSet', 'nicpool-allocator')).tolerations).toBeUndefined();
  });

  it("each pod's environment is a configuration its app accepts, in both certificate modes", async () => {
    // What the kubelet would pass: values, and the downward API fields the pods read.
    const fields = (o: Obj): Record<string, string> => ({
      'metadata.namespace': 'ipam',
      'metadata.name': `${o.metadata.name}-0`,
      'spec.nodeName': 'node1',
    });
    const resolved = (o: Obj): Record<string, string> =>
      Object.fromEntries(
        (pod(o).containers[0]?.env ?? []).map((e) => [
          e.name,
          e.value ?? fields(o)[e.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '',
        ]),
      );
    for (const mode of ['selfManaged', 'certManager']) {
      const objs = await render('ipam', `--set=webhook.certificate.mode=${mode},logLevel=warn`);
      const webhook = readWebhookConfig(resolved(find(objs, 'Deployment', 'nicpool-webhook')));
      if (!webhook.ok) throw new Error(`${mode}: ${webhook.error.join('; ')}`);
      expect(webhook.value.logLevel).toBe('warn');
      expect(webhook.value.controllerUsers).toEqual([
        'system:serviceaccount:ipam:nicpool-controller',
      ]);
      expect(webhook.value.certs).toMatchObject(
        mode === 'selfManaged'
          ? {
              mode: 'self-managed',
              namespace: 'ipam',
              service: 'nicpool-webhook',
              secret: 'nicpool-webhook-tls',
            }
          : { mode: 'files', certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' },
      );
      const controller = readControllerConfig(
        resolved(find(objs, 'Deployment', 'nicpool-controller')),
      );
      expect(controller.ok && [controller.value.namespace, controller.value.logLevel]).toEqual([
        'ipam',
        'warn',
      ]);
      const allocator = readAllocatorConfig(resolved(find(objs, 'DaemonSet', 'nicpool-allocator')));
      expect(allocator.ok && [allocator.value.nodeName, allocator.value.logLevel]).toEqual([
        'node1',
        'warn',
      ]);
    }
  });

  it.each([
    [['--set=webhook.replicas=abc'], "at '/webhook/replicas': got string, want integer"],
    [['--set=replicas=abc'], "additional properties 'replicas' not allowed"],
    [['--set=webhook.replicas=0'], "at '/webhook/replicas': minimum: got 0, want 1"],
    [['--set=logLevel=verbose'], "at '/logLevel'"],
    [['--set=webhook.certificate.mode=self-managed'], "at '/webhook/certificate/mode'"],
    [['--set=cni.binDir=opt/cni/bin'], "at '/cni/binDir'"],
  ])('refuses %j with the path of the bad value', async (set, message) => {
    const r = await helm(['template', 'nicpool', CHART, KUBE, ...set]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema(s)");
    expect(r.stderr).toContain(message);
  });

  it("install's notes say the CRDs stay on uninstall, and what else is left", async () => {
    // `helm install --dry-run` needs a cluster; Helm's own `tpl` renders NOTES.txt offline,
    // from a copy of the chart where a ConfigMap template carries the rendered text.
    const dir = mkdtempSync(join(tmpdir(), 'nicpool-helm-'));
    try {
      const copy = join(dir, 'nicpool');
      cpSync(CHART, copy, { recursive: true });
      cpSync(join(copy, 'templates', 'NOTES.txt'), join(copy, 'notes.txt'));
      writeFileSync(
        join(copy, 'templates', 'zz-notes.yaml'),
        '{apiVersion: v1, kind: ConfigMap, metadata: {name: notes}, data: {notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}}}\n',
      );
      const notes = async (...set: string[]): Promise<string> => {
        const out = await ok([
          'template',
          'nicpool',
          copy,
          '-n',
          'ipam',
          KUBE,
          '-s',
          'templates/zz-notes.yaml',
          ...set,
        ]);
        return String((docsOf(out)[0] as unknown as { data: { notes: string } }).data.notes);
      };
      const self = await notes();
      expect(self).toContain('nicpool 0.1.0 is installed in namespace ipam');
      expect(self).toContain(
        'Helm neither upgrades nor deletes them: `helm uninstall`\nkeeps them',
      );
      expect(self).toContain(
        'the Lease nicpool-controller and the Secret nicpool-webhook-tls in ipam',
      );
      const cm = await notes('--set=webhook.certificate.mode=certManager');
      expect(cm).toContain('Secrets nicpool-webhook-cert and nicpool-webhook-ca in ipam');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
