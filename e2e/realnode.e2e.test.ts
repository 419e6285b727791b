// The real kubelet node itself (e2e/realnode, docs/realnode.md): what every suite that
// installs nicpool on it relies on. Pods run from images imported from dist/images
// (`make images`), never pulled.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { run } from './sim/run.ts';
import { eventually, uniqueName } from './harness/helpers.ts';
import { IMAGES_DIR, ensureRealNode, type RealNode } from './realnode/node.ts';
import { GUARD_TABLE, HOST_NICS, NODE_IP, NODE_NAME, POD_CIDR } from './realnode/config.ts';

const BUSYBOX = join(IMAGES_DIR, 'busybox.oci.tar');
const ns = uniqueName('realnode-smoke');
let node: RealNode;

interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

const k = (args: readonly string[], input?: string): Promise<string> => node.kubectl(args, input);
const apply = (obj: unknown): Promise<string> =>
  k(['apply', '-n', ns, '-f', '-'], JSON.stringify(obj));

function pod(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name }, ...(annotations && { annotations }) },
    spec: {
      terminationGracePeriodSeconds: 1,
      ...spec,
      containers: [
        {
          name: 'c',
          image: 'busybox',
          imagePullPolicy: 'IfNotPresent',
          ...(spec['containers'] as object[] | undefined)?.[0],
        },
      ],
    },
  };
}

async function ready(name: string): Promise<Pod> {
  await k(['wait', '-n', ns, '--for=condition=Ready', `pod/${name}`, '--timeout=90s']).catch(
    async (e: unknown) => {
      const describe = await k(['describe', 'pod', '-n', ns, name]).catch(() => '');
      throw new Error(`${String(e)}\n${describe}`);
    },
  );
  return JSON.parse(await k(['get', 'pod', '-n', ns, name, '-o', 'json'])) as Pod;
}

/** An HTTP GET with busybox nc from inside a pod (busybox wget -T crashes); the body's last line. */
const httpFromPod = async (from: string, host: string, port: number): Promise<string> =>
  (
    await k([
      'exec',
      '-n',
      ns,
      from,
      '--',
      'sh',
      '-c',
      `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${host} ${port}`,
    ])
  )
    .trim()
    .split('\n')
    .pop() ?? '';

const HTTPD = (port: number, address = ''): string[] => [
  '/bin/sh',
  '-c',
  `echo serving; mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p ${address}${port} -h /tmp/www`,
];

beforeAll(async () => {
  if (!existsSync(BUSYBOX))
    throw new Error(`${BUSYBOX} is missing: run \`make images\` first (it writes dist/images/)`);
  node = await ensureRealNode();
  await k(['create', 'namespace', ns]);
  await eventually(`ServiceAccount ${ns}/default`, async () =>
    (await k(['get', 'sa', 'default', '-n', ns, '-o', 'name']).catch(() => '')) ? true : undefined,
  );
});

afterAll(async () => {
  if (node === undefined) return;
  await k(['delete', 'namespace', ns, '--wait=true', '--timeout=90s']).catch(() => undefined);
});

describe('the real node', () => {
  test('is Ready with the node IP, kubelet v1.36.3 and containerd', async () => {
    const n = JSON.parse(await k(['get', 'node', NODE_NAME, '-o', 'json'])) as {
      status: {
        conditions: { type: string; status: string }[];
        addresses: { type: string; address: string }[];
        nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
      };
    };
    expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(n.status.addresses).toContainEqual({ type: 'InternalIP', address: NODE_IP });
    expect(n.status.nodeInfo.kubeletVersion).toBe('v1.36.3');
    expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(await node.images()).toContain('docker.io/library/busybox:latest');
  });

  test('runs a hostNetwork pod and a pod-network pod from the imported image; logs and exec work', async () => {
    await apply(
      pod('hostnet', { hostNetwork: true, containers: [{ command: HTTPD(18081, `${NODE_IP}:`) }] }),
    );
    await apply(pod('podnet', { containers: [{ command: HTTPD(8080) }] }));
    const [h, p] = await Promise.all([ready('hostnet'), ready('podnet')]);
    expect(h.status.podIP).toBe(NODE_IP);
    expect(p.status.podIP).toMatch(/^10\.251\.0\.\d+$/);
    expect(await k(['logs', '-n', ns, 'podnet'])).toContain('serving');
    const addr = await k([
      'exec',
      '-n',
      ns,
      'podnet',
      '--',
      'ip',
      '-4',
      '-o',
      'addr',
      'show',
      'eth0',
    ]);
    expect(addr).toContain(`${p.status.podIP}/${POD_CIDR.split('/')[1]}`);
    // The host reaches both, the pod reaches the host.
    expect((await (await fetch(`http://${p.status.podIP}:8080/`)).text()).trim()).toBe('podnet');
    // A hostNetwork pod has the host's hostname.
    expect(await httpFromPod('podnet', NODE_IP, 18081)).toBe(hostname());
  });

  test('a ClusterIP Service answers from a pod and from the host; pods reach the kubernetes Service', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'podnet' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await apply(
      pod('client', {
        containers: [{ command: ['/bin/sh', '-c', 'trap : TERM INT; sleep infinity & wait'] }],
      }),
    );
    await ready('client');
    const ip = (
      await k(['get', 'svc', '-n', ns, 'web', '-o', 'jsonpath={.spec.clusterIP}'])
    ).trim();
    // kube-proxy programs the Service a moment after it is created.
    await eventually('the ClusterIP from a pod', async () =>
      (await httpFromPod('client', ip, 80).catch(() => '')) === 'podnet' ? true : undefined,
    );
    expect((await (await fetch(`http://${ip}/`)).text()).trim()).toBe('podnet');
    // TCP to the API server through 10.96.0.1:443 (what in-cluster clients do).
    await k(['exec', '-n', ns, 'client', '--', 'sh', '-c', 'echo | nc -w 5 10.96.0.1 443']);
  });

  test("has the tutorial node's host NICs; Multus adds a macvlan NIC on ens224", async () => {
    const links = JSON.parse((await run({ cmd: 'ip', args: ['-j', 'addr', 'show'] })).stdout) as {
      ifname: string;
      operstate: string;
      addr_info: { family: string; local: string; prefixlen: number }[];
    }[];
    for (const nic of HOST_NICS) {
      const l = links.find((x) => x.ifname === nic.name);
      expect(l?.operstate).toBe('UP');
      const v4 = l?.addr_info
        .filter((a) => a.family === 'inet')
        .map((a) => `${a.local}/${a.prefixlen}`);
      expect(v4).toEqual(nic.address === undefined ? [] : [nic.address]);
    }
    await apply({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'smoke-ens224' },
      spec: {
        config: JSON.stringify({
          cniVersion: '0.3.1',
          name: 'smoke-ens224',
          type: 'macvlan',
          master: 'ens224',
          mode: 'bridge',
          ipam: { type: 'static', addresses: [{ address: '10.7.250.10/16' }] },
        }),
      },
    });
    await apply(
      pod(
        'multus',
        { containers: [{ command: ['/bin/sh', '-c', 'trap : TERM INT; sleep infinity & wait'] }] },
        { 'k8s.v1.cni.cncf.io/networks': 'smoke-ens224' },
      ),
    );
    const m = await ready('multus');
    expect(
      await k(['exec', '-n', ns, 'multus', '--', 'ip', '-4', '-o', 'addr', 'show', 'net1']),
    ).toContain('10.7.250.10/16');
    const status = JSON.parse(
      m.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]',
    ) as {
      name: string;
      interface: string;
    }[];
    expect(status.map((s) => `${s.name} ${s.interface}`)).toEqual([
      'kube-system/realnode-bridge eth0',
      `${ns}/smoke-ens224 net1`,
    ]);
  });

  test("leaves the host's default route alone and guards test traffic", async () => {
    const routes = (await run({ cmd: 'ip', args: ['route', 'show', 'default'] })).stdout;
    expect(routes).not.toMatch(/rn-br0|ens192|ens224/);
    const guard = await run({ cmd: 'nft', args: ['list', 'table', 'ip', GUARD_TABLE] });
    expect(guard.code).toBe(0);
    expect(existsSync('/opt/cni/bin/multus')).toBe(false);
    expect(existsSync('/etc/cni/net.d/00-multus.conf')).toBe(false);
  });
});
