// Memory of the controller's caches holding N synthetic pods and their SpiderEndpoints
// (review #6), before and after the fix, each in a fresh child process:
//   baseline  the same modules loaded, empty caches (the yardstick)
//   before    what the controller did up to 441f18b: one unpaginated list answer, and
//             client-node's ListWatch keeping every whole object beside the projection
//   after     the real KubeControllerStore: 500-item pages through libs/kube's watch loop,
//             PodState and EndpointView projections only
// Objects come from JSON.parse of realistic API answers (managedFields, Multus
// network-status, a projected token volume…), so no string is shared between objects.
// No cluster needed: the API server is a fake transport.
// Usage: node bench/controller-cache-rss.ts [pods=50000]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  ListWatch,
  type KubernetesListObject,
  type KubernetesObject,
  type Watch,
} from '@kubernetes/client-node';
import { loadKubeConfig, type ListPage, type WatchTransport } from '@nicpool/kube';
import { KubeControllerStore, podState } from '../apps/controller/src/kube-store.ts';

type List = KubernetesListObject<KubernetesObject>;
const MODES = ['baseline', 'before', 'after'] as const;
type Mode = (typeof MODES)[number];

function podJSON(i: number): string {
  const name = `web-${(i >> 10).toString(36)}-7d9f8c6b5-${i.toString(36).padStart(5, 'x')}`;
  const ns = `team-${i % 200}`;
  const uid = `0b6f${i.toString(16).padStart(8, '0')}-1b2c-4d3e-9f00-b1a361c7e9df`;
  const ip = `10.${6 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      uid,
      resourceVersion: String(1000 + i),
      generateName: name.slice(0, -5),
      creationTimestamp: '2026-12-01T10:00:00Z',
      labels: { app: `web-${i >> 10}`, 'pod-template-hash': '7d9f8c6b5', tier: 'frontend' },
      annotations: {
        'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-ens224',
        'ipam.spidernet.io/subnets':
          '[{"interface":"eth0","ipv4":["subnet-test-ens192"]},{"interface":"net1","ipv4":["subnet-test-ens224"]}]',
        'k8s.v1.cni.cncf.io/network-status': JSON.stringify([
          {
            name: 'kube-system/macvlan-ens192',
            interface: 'eth0',
            ips: [ip],
            mac: '02:42:ac:11:00:02',
            default: true,
            dns: {},
          },
          {
            name: 'kube-system/macvlan-ens224',
            interface: 'net1',
            ips: [ip.replace(/^10\.\d+/, '10.7')],
            mac: '02:42:ac:11:00:03',
            dns: {},
          },
        ]),
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: name.slice(0, -6),
          uid: `rs-${i >> 10}`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-12-01T10:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': {
                '.': {},
                'f:ipam.spidernet.io/subnets': {},
                'f:k8s.v1.cni.cncf.io/networks': {},
              },
              'f:generateName': {},
              'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:tier': {} },
              'f:ownerReferences': { '.': {}, [`k:{"uid":"rs-${i >> 10}"}`]: {} },
            },
            'f:spec': {
              'f:containers': {
                'k:{"name":"web"}': {
                  '.': {},
                  'f:image': {},
                  'f:imagePullPolicy': {},
                  'f:name': {},
                  'f:ports': {},
                  'f:resources': {},
                  'f:terminationMessagePath': {},
                },
              },
              'f:dnsPolicy': {},
              'f:restartPolicy': {},
              'f:schedulerName': {},
              'f:terminationGracePeriodSeconds': {},
            },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-12-01T10:00:03Z',
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: {
            'f:status': {
              'f:conditions': {
                'k:{"type":"ContainersReady"}': {
                  '.': {},
                  'f:lastProbeTime': {},
                  'f:lastTransitionTime': {},
                  'f:status': {},
                  'f:type': {},
                },
                'k:{"type":"Ready"}': { '.': {}, 'f:lastProbeTime': {}, 'f:status': {} },
              },
              'f:containerStatuses': {},
              'f:hostIP': {},
              'f:phase': {},
              'f:podIP': {},
              'f:podIPs': {},
              'f:startTime': {},
            },
          },
        },
      ],
    },
    spec: {
      nodeName: `node-${i % 500}`,
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      containers: [
        {
          name: 'web',
          image: 'registry.example.com/team/web:1.27.3',
          imagePullPolicy: 'IfNotPresent',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [
            {
              name: 'POD_NAME',
              valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
            },
            { name: 'LOG_LEVEL', value: 'info' },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          volumeMounts: [
            {
              name: `kube-api-access-${i.toString(36)}`,
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
              readOnly: true,
            },
          ],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      volumes: [
        {
          name: `kube-api-access-${i.toString(36)}`,
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              {
                configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
              },
              {
                downwardAPI: {
                  items: [
                    {
                      path: 'namespace',
                      fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' },
                    },
                  ],
                },
              },
            ],
          },
        },
      ],
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
    status: {
      phase: 'Running',
      hostIP: `192.168.${(i % 500) >> 8}.${i % 250}`,
      podIP: ip,
      podIPs: [{ ip }],
      startTime: '2026-12-01T10:00:01Z',
      conditions: [
        'PodReadyToStartContainers',
        'Initialized',
        'Ready',
        'ContainersReady',
        'PodScheduled',
      ].map((type) => ({
        type,
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: '2026-12-01T10:00:03Z',
      })),
      containerStatuses: [
        {
          name: 'web',
          ready: true,
          started: true,
          restartCount: 0,
          image: 'registry.example.com/team/web:1.27.3',
          imageID: `registry.example.com/team/web@sha256:${'ab'.repeat(32)}`,
          containerID: `containerd://${i.toString(16).padStart(64, '0')}`,
          state: { running: { startedAt: '2026-12-01T10:00:02Z' } },
        },
      ],
      qosClass: 'Burstable',
    },
  };
  return JSON.stringify(pod);
}

function endpointJSON(i: number): string {
  const pod = JSON.parse(podJSON(i)) as {
    metadata: { name: string; namespace: string; uid: string };
  };
  const ip = `10.${6 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  return JSON.stringify({
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderEndpoint',
    metadata: {
      name: pod.metadata.name,
      namespace: pod.metadata.namespace,
      uid: `e${pod.metadata.uid.slice(1)}`,
      resourceVersion: String(900_000 + i),
      finalizers: ['spiderpool.spidernet.io'],
      labels: { 'ipam.spidernet.io/endpoint-node': `node-${i % 500}` },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
      ],
    },
    status: {
      current: {
        uid: pod.metadata.uid,
        node: `node-${i % 500}`,
        ips: [
          {
            interface: 'eth0',
            ipv4: `${ip}/16`,
            ipv4Pool: 'auto-web-v4-eth0-b1a361c7e9df',
            ipv4Gateway: '10.6.0.1',
            vlan: 0,
          },
          {
            interface: 'net1',
            ipv4: `${ip.replace(/^10\.\d+/, '10.7')}/16`,
            ipv4Pool: 'auto-web-v4-net1-b1a361c7e9df',
            ipv4Gateway: '10.7.0.1',
            vlan: 0,
            routes: [{ dst: '10.7.0.0/16', gw: '10.7.0.1' }],
          },
        ],
      },
      ownerControllerType: 'Deployment',
      ownerControllerName: `web-${i >> 10}`,
    },
  });
}

/** A list answer of items [from, to) parsed from JSON text, as the API client would. */
function page(json: (i: number) => string, from: number, to: number, total: number): List {
  const items: string[] = [];
  for (let i = from; i < to; i++) items.push(json(i));
  const next = to < total ? `,"_continue":"${to}"` : '';
  return JSON.parse(
    `{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"2000000"${next}},"items":[${items.join(',')}]}`,
  ) as List;
}

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the child with --expose-gc');
  gc();
  gc();
}

async function child(mode: Mode, n: number): Promise<void> {
  const kc = loadKubeConfig({
    kind: 'inline',
    yaml: 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  });
  const started = performance.now();
  const keep: unknown[] = [];
  if (mode === 'before') {
    // The old store: ListWatch (which keeps each whole object) + a map of projections,
    // fed by one unpaginated list answer per collection.
    const quiet = { watch: async () => new AbortController() } as unknown as Watch;
    const pods = new Map<string, unknown>();
    const endpoints = new Map<string, unknown>();
    const lwPods = new ListWatch('/api/v1/pods', quiet, async () => page(podJSON, 0, n, n), false);
    lwPods.on('add', (o) => pods.set(`${o.metadata?.namespace}/${o.metadata?.name}`, podState(o)));
    const lwEps = new ListWatch(
      '/apis/x/v1/e',
      quiet,
      async () => page(endpointJSON, 0, n, n),
      false,
    );
    lwEps.on('add', (o) => endpoints.set(`${o.metadata?.namespace}/${o.metadata?.name}`, o));
    await lwPods.start();
    await lwEps.start();
    keep.push(lwPods, lwEps, pods, endpoints);
  } else if (mode === 'after') {
    const fake = (what: string): WatchTransport => ({
      list: async (p: ListPage) => {
        const json = what === 'pods' ? podJSON : what === 'endpoints' ? endpointJSON : undefined;
        if (json === undefined) return page(() => '', 0, 0, 0);
        const from = Number(p._continue ?? 0);
        return page(json, from, Math.min(from + p.limit, n), n);
      },
      watch: async () => ({ abort: () => undefined }),
    });
    const store = new KubeControllerStore(kc, () => undefined, 'bench', {
      watch: (what) => ({ transport: fake(what) }),
    });
    store.start(() => undefined);
    while (!store.ready()) await new Promise((r) => setTimeout(r, 10));
    const first = JSON.parse(podJSON(0)) as { metadata: { name: string } };
    if (store.pod('team-0', first.metadata.name) === undefined)
      throw new Error('the store did not take the pods');
    keep.push(store);
  }
  const ms = performance.now() - started;
  gcNow();
  const m = process.memoryUsage();
  console.log(
    JSON.stringify({
      mode,
      rssMiB: m.rss / 2 ** 20,
      heapUsedMiB: m.heapUsed / 2 ** 20,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      fillMs: ms,
      kept: keep.length,
    }),
  );
  process.exit(0);
}

interface Row {
  mode: Mode;
  rssMiB: number;
  heapUsedMiB: number;
  peakRssMiB: number;
  fillMs: number;
}

function main(n: number): void {
  const node = process.execPath;
  const rows: Row[] = MODES.map((mode) => {
    const out = execFileSync(
      node,
      [
        '--expose-gc',
        '--max-old-space-size=8192',
        import.meta.filename,
        '--child',
        mode,
        String(n),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    return JSON.parse(out.trim().split('\n').pop()!) as Row;
  });
  const base = rows[0]!;
  console.log(`command: node bench/controller-cache-rss.ts ${n}`);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}; ${n} pods + ${n} SpiderEndpoints`,
  );
  console.log(
    '| mode | RSS after GC (MiB) | over baseline | heap used (MiB) | peak RSS (MiB) | fill (s) |',
  );
  console.log('|---|---|---|---|---|---|');
  const csv = ['mode,pods,rss_mib,rss_over_baseline_mib,heap_used_mib,peak_rss_mib,fill_ms'];
  for (const r of rows) {
    const over = r.rssMiB - base.rssMiB;
    console.log(
      `| ${r.mode} | ${r.rssMiB.toFixed(0)} | ${over.toFixed(0)} | ${r.heapUsedMiB.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${(r.fillMs / 1000).toFixed(1)} |`,
    );
    csv.push(
      [
        r.mode,
        n,
        r.rssMiB.toFixed(1),
        over.toFixed(1),
        r.heapUsedMiB.toFixed(1),
        r.peakRssMiB.toFixed(1),
        r.fillMs.toFixed(0),
      ].join(','),
    );
  }
  const file = join(tmpdir(), 'nicpool-controller-cache-rss.csv');
  writeFileSync(file, `${csv.join('\n')}\n`);
  console.log(`csv: ${file}`);
}

if (process.argv[2] === '--child') await child(process.argv[3] as Mode, Number(process.argv[4]));
else main(Number(process.argv[2] ?? 50_000));
