// Memory of the controller's caches holding N synthetic pods and their SpiderEndpoints
// (review #6), before and after the fix, each in a fresh child process:
//   baseline  the same modules loaded, empty caches (the yardstick)
//   listed    every page of both lists parsed and dropped, nothing cached: the cost of
//             reading the answers alone
//   before    what the controller did up to 441f18b: one unpaginated list answer, and
//             client-node's ListWatch keeping every whole object beside the projection
//   after     the real KubeControllerStore: 500-item pages through libs/kube's watch loop,
//             PodState and EndpointView projections only (pool names and owners shared)
// Objects come from JSON.parse of realistic API answers (managedFields, Multus
// network-status, a projected token volume…), so no string is shared between objects.
// The answers' text is filled into a template rendered once, so the generator adds
// almost no garbage of its own.
// No cluster needed: the API server is a fake transport. bench/growth.ts (B4) calls
// cacheRss() for 1k/10k/50k pods.
// Usage: node bench/controller-cache-rss.ts [pods=50000]
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ListWatch,
  type KubernetesListObject,
  type KubernetesObject,
  type Watch,
} from '@kubernetes/client-node';
import { loadKubeConfig, type ListPage, type WatchTransport } from '@nicpool/kube';
import { KubeControllerStore, podState } from '../apps/controller/src/kube-store.ts';

type List = KubernetesListObject<KubernetesObject>;
export const MODES = ['baseline', 'listed', 'before', 'after'] as const;
export type Mode = (typeof MODES)[number];

/** What differs from one pod (and its SpiderEndpoint) to the next. */
function fieldsOf(i: number): Record<Field, string> {
  const name = `web-${(i >> 10).toString(36)}-7d9f8c6b5-${i.toString(36).padStart(5, 'x')}`;
  const ip = `10.${6 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  return {
    name,
    generateName: name.slice(0, -5),
    rsName: name.slice(0, -6),
    ns: `team-${i % 200}`,
    uid: `0b6f${i.toString(16).padStart(8, '0')}-1b2c-4d3e-9f00-b1a361c7e9df`,
    epUid: `eb6f${i.toString(16).padStart(8, '0')}-1b2c-4d3e-9f00-b1a361c7e9df`,
    rv: String(1000 + i),
    epRv: String(900_000 + i),
    app: `web-${i >> 10}`,
    rsUid: `rs-${i >> 10}`,
    ip,
    ip7: ip.replace(/^10\.\d+/, '10.7'),
    node: `node-${i % 500}`,
    hostIP: `192.168.${(i % 500) >> 8}.${i % 250}`,
    volume: `kube-api-access-${i.toString(36)}`,
    containerID: `containerd://${i.toString(16).padStart(64, '0')}`,
  };
}
const FIELDS = [
  'name',
  'generateName',
  'rsName',
  'ns',
  'uid',
  'epUid',
  'rv',
  'epRv',
  'app',
  'rsUid',
  'ip',
  'ip7',
  'node',
  'hostIP',
  'volume',
  'containerID',
] as const;
type Field = (typeof FIELDS)[number];

/**
 * JSON text of `object` rendered once with a marker per field, then filled in per item:
 * the generator itself makes almost no garbage, so what the process allocates is what
 * a client does with an API answer (parse it, keep what it keeps).
 */
function template(object: (f: Record<Field, string>) => unknown): (i: number) => string {
  const marks = Object.fromEntries(FIELDS.map((k) => [k, `@@${k}@@`])) as Record<Field, string>;
  const parts = JSON.stringify(object(marks)).split(/@@(\w+)@@/);
  return (i) => {
    const f = fieldsOf(i);
    let out = '';
    for (let k = 0; k < parts.length; k++) out += k % 2 === 0 ? parts[k] : f[parts[k] as Field];
    return out;
  };
}

function podObject(f: Record<Field, string>): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: f.name,
      namespace: f.ns,
      uid: f.uid,
      resourceVersion: f.rv,
      generateName: f.generateName,
      creationTimestamp: '2026-12-01T10:00:00Z',
      labels: { app: f.app, 'pod-template-hash': '7d9f8c6b5', tier: 'frontend' },
      annotations: {
        'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-ens224',
        'ipam.spidernet.io/subnets':
          '[{"interface":"eth0","ipv4":["subnet-test-ens192"]},{"interface":"net1","ipv4":["subnet-test-ens224"]}]',
        'k8s.v1.cni.cncf.io/network-status': JSON.stringify([
          {
            name: 'kube-system/macvlan-ens192',
            interface: 'eth0',
            ips: [f.ip],
            mac: '02:42:ac:11:00:02',
            default: true,
            dns: {},
          },
          {
            name: 'kube-system/macvlan-ens224',
            interface: 'net1',
            ips: [f.ip7],
            mac: '02:42:ac:11:00:03',
            dns: {},
          },
        ]),
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: f.rsName,
          uid: f.rsUid,
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
              'f:ownerReferences': { '.': {}, [`k:{"uid":"${f.rsUid}"}`]: {} },
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
      nodeName: f.node,
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
              name: f.volume,
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
          name: f.volume,
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
      hostIP: f.hostIP,
      podIP: f.ip,
      podIPs: [{ ip: f.ip }],
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
          containerID: f.containerID,
          state: { running: { startedAt: '2026-12-01T10:00:02Z' } },
        },
      ],
      qosClass: 'Burstable',
    },
  };
}

function endpointObject(f: Record<Field, string>): unknown {
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderEndpoint',
    metadata: {
      name: f.name,
      namespace: f.ns,
      uid: f.epUid,
      resourceVersion: f.epRv,
      finalizers: ['spiderpool.spidernet.io'],
      labels: { 'ipam.spidernet.io/endpoint-node': f.node },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: f.name, uid: f.uid }],
    },
    status: {
      current: {
        uid: f.uid,
        node: f.node,
        ips: [
          {
            interface: 'eth0',
            ipv4: `${f.ip}/16`,
            ipv4Pool: 'auto-web-v4-eth0-b1a361c7e9df',
            ipv4Gateway: '10.6.0.1',
            vlan: 0,
          },
          {
            interface: 'net1',
            ipv4: `${f.ip7}/16`,
            ipv4Pool: 'auto-web-v4-net1-b1a361c7e9df',
            ipv4Gateway: '10.7.0.1',
            vlan: 0,
            routes: [{ dst: '10.7.0.0/16', gw: '10.7.0.1' }],
          },
        ],
      },
      ownerControllerType: 'Deployment',
      ownerControllerName: f.app,
    },
  };
}

const podJSON = template(podObject);
const endpointJSON = template(endpointObject);

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
  const cpuBefore = process.cpuUsage();
  const keep: unknown[] = [];
  if (mode === 'listed') {
    // Every page of both lists parsed and dropped: what reading the API answers costs
    // before anything is cached (V8 grows its young generation for the parsing).
    let items = 0;
    for (const json of [podJSON, endpointJSON])
      for (let from = 0; from < n; from += 500)
        items += page(json, from, Math.min(from + 500, n), n).items.length;
    keep.push(items);
  } else if (mode === 'before') {
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
  const cpu = process.cpuUsage(cpuBefore);
  gcNow();
  const m = process.memoryUsage();
  console.log(
    JSON.stringify({
      mode,
      rssMiB: m.rss / 2 ** 20,
      heapUsedMiB: m.heapUsed / 2 ** 20,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      fillMs: ms,
      fillCpuMs: (cpu.user + cpu.system) / 1000,
      kept: keep.length,
    }),
  );
  process.exit(0);
}

export interface Row {
  readonly mode: Mode;
  readonly pods: number;
  /** RSS after two full GCs, once the caches are filled. */
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** The process's maximum RSS (getrusage), fill included. */
  readonly peakRssMiB: number;
  readonly fillMs: number;
  /** CPU time (user + system) of the fill, generating the fake API answers included. */
  readonly fillCpuMs: number;
}

const run = promisify(execFile);

/** Each mode in a fresh child process holding `n` pods and `n` SpiderEndpoints. */
export async function cacheRss(n: number, modes: readonly Mode[] = MODES): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of modes) {
    const { stdout } = await run(
      process.execPath,
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
    rows.push({ ...(JSON.parse(stdout.trim().split('\n').pop()!) as Row), pods: n });
  }
  return rows;
}

async function main(n: number): Promise<void> {
  const rows = await cacheRss(n);
  const base = rows[0]!;
  console.log(`command: node bench/controller-cache-rss.ts ${n}`);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}; ${n} pods + ${n} SpiderEndpoints`,
  );
  console.log(
    '| mode | RSS after GC (MiB) | over baseline | heap used (MiB) | peak RSS (MiB) | fill (s) | fill CPU (s) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  const csv = [
    'mode,pods,rss_mib,rss_over_baseline_mib,heap_used_mib,peak_rss_mib,fill_ms,fill_cpu_ms',
  ];
  for (const r of rows) {
    const over = r.rssMiB - base.rssMiB;
    console.log(
      `| ${r.mode} | ${r.rssMiB.toFixed(0)} | ${over.toFixed(0)} | ${r.heapUsedMiB.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${(r.fillMs / 1000).toFixed(1)} | ${(r.fillCpuMs / 1000).toFixed(1)} |`,
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
        r.fillCpuMs.toFixed(0),
      ].join(','),
    );
  }
  const file = join(tmpdir(), 'nicpool-controller-cache-rss.csv');
  writeFileSync(file, `${csv.join('\n')}\n`);
  console.log(`csv: ${file}`);
}

if (process.argv[2] === '--child') await child(process.argv[3] as Mode, Number(process.argv[4]));
else if (import.meta.main) await main(Number(process.argv[2] ?? 50_000));
