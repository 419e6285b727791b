/**
 * Teardown of the real node in realnode.md §2.11's order, from the state dir alone: pods
 * deleted through the kubelet while it still runs (CNI DEL), then kube-proxy, kubelet,
 * containers, containerd, the control plane, leftovers, mounts, links, nft tables, cgroups,
 * sysctls and host paths. Idempotent; works after a crash.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { RN, PATHS } from './config.ts';
import {
  cgroupPids,
  cleanHostPaths,
  deleteLinks,
  deleteNftTables,
  readHostRecord,
  removeCgroups,
  restoreSysctls,
  unmountAll,
  type HostRecord,
} from './host.ts';
import { processesNamingStateDir, runningPid, stopPids, stopProcess } from './proc.ts';
import {
  COMPONENTS,
  FAILED_LOGS,
  RealNode,
  apiStatus,
  log,
  quietly,
  readState,
  step,
  type RealNodeState,
} from './state.ts';

/** Deletes every pod through the API while the kubelet and containerd still run (CNI DEL). */
async function deletePods(node: RealNode): Promise<void> {
  const list = JSON.parse(await node.kubectl(['get', 'pods', '-A', '-o', 'json'])) as {
    items: { metadata: { name: string; namespace: string }; spec: { hostNetwork?: boolean } }[];
  };
  // Pod-network pods first: their CNI DEL may need a hostNetwork pod (nicpool's allocator).
  for (const hostNetwork of [false, true]) {
    const pods = list.items.filter((p) => (p.spec.hostNetwork ?? false) === hostNetwork);
    if (pods.length === 0) continue;
    const byNs = new Map<string, string[]>();
    for (const p of pods)
      byNs.set(p.metadata.namespace, [...(byNs.get(p.metadata.namespace) ?? []), p.metadata.name]);
    await Promise.all(
      [...byNs].map(async ([ns, names]) => {
        try {
          await node.kubectl([
            'delete',
            'pod',
            '-n',
            ns,
            '--grace-period=1',
            '--wait=true',
            '--timeout=45s',
            ...names,
          ]);
        } catch {
          log(`pods in ${ns} did not go within 45 s; removing them without the kubelet`);
          await node
            .kubectl([
              'delete',
              'pod',
              '-n',
              ns,
              '--force',
              '--grace-period=0',
              '--wait=false',
              ...names,
            ])
            .catch(() => undefined);
        }
      }),
    );
  }
}

/**
 * Stops everything of the node and undoes its changes to the host, in realnode.md §2.11's
 * order; works from the state dir alone after a crash, and with nothing to do.
 */
export async function stopRealNode(
  opts: { keepLogs?: boolean; quiet?: boolean } = {},
): Promise<void> {
  const t0 = Date.now();
  const state = readState();
  const rec = readHostRecord();
  const leftovers = processesNamingStateDir();
  const recorded =
    state !== undefined || rec !== undefined || leftovers.length > 0 || existsSync(RN);
  // Still look for links, tables and cgroups: the state dir may have been removed by hand.
  if (!recorded && opts.quiet) {
    await quietly(() => teardown(state, rec, opts));
    return;
  }
  log(
    recorded
      ? `stopping the real node in ${RN}`
      : 'no real node recorded; checking the host for leftovers',
  );
  await teardown(state, rec, opts);
  log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function teardown(
  state: RealNodeState | undefined,
  rec: HostRecord | undefined,
  opts: { keepLogs?: boolean },
): Promise<void> {
  if (state !== undefined) {
    const node = new RealNode(state);
    const apiUp =
      runningPid('kube-apiserver') !== undefined && (await apiStatus(state, '/readyz')) === 200;
    if (apiUp && runningPid('kubelet') !== undefined && runningPid('containerd') !== undefined) {
      await step(
        'controllers and scheduler stopped, pods deleted through the kubelet',
        async () => {
          // Nothing may recreate what is being deleted (DaemonSets, ReplicaSets).
          await stopProcess('kube-controller-manager');
          await stopProcess('kube-scheduler');
          await deletePods(node);
        },
      );
    }
    await step('kube-proxy and kubelet stopped', async () => {
      await stopProcess('kube-proxy');
      await stopProcess('kubelet');
    });
    if (runningPid('containerd') !== undefined) {
      await step('containers removed, containerd stopped', async () => {
        const ids = (await node.ctr(['tasks', 'list', '--quiet']).catch(() => ''))
          .split('\n')
          .filter(Boolean);
        for (const id of ids)
          await node.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]).catch(() => undefined);
        for (const id of ids)
          await node.ctr(['tasks', 'delete', '--force', id]).catch(() => undefined);
        const cs = (await node.ctr(['containers', 'list', '--quiet']).catch(() => ''))
          .split('\n')
          .filter(Boolean);
        if (cs.length > 0) await node.ctr(['containers', 'delete', ...cs]).catch(() => undefined);
        await stopProcess('containerd');
      });
    }
  }
  await step('control plane stopped, leftover processes killed', async () => {
    for (const c of [...COMPONENTS].reverse()) await stopProcess(c, 5_000);
    // Shims (their command line names our socket), anything else naming the state dir, and
    // pod processes a killed shim left in the node's cgroups.
    const named = processesNamingStateDir().map((p) => p.pid);
    const pods = cgroupPids();
    if (named.length + pods.length > 0) {
      log(
        `killing leftovers: ${named.length} processes naming the state dir, ${pods.length} in pod cgroups`,
      );
      await stopPids(named, 3_000);
      // A container's PID 1 ignores SIGTERM unless it handles it: no grace for what is left of pods.
      await stopPids(cgroupPids(), 0);
    }
  });
  await step('mounts under the state dir unmounted', async () => {
    const n = await unmountAll();
    if (n > 0) log(`  ${n} unmounted`);
  });
  await step('links and nft tables deleted', async () => {
    const links = await deleteLinks();
    const tables = await deleteNftTables();
    if (links.length + tables.length > 0)
      log(`  links: ${links.join(' ') || '-'}; tables: ${tables.join(', ') || '-'}`);
  });
  await step('cgroups removed', () => {
    const left = removeCgroups();
    if (left > 0) log(`  ${left} cgroups could not be removed (still in use?)`);
  });
  await step('sysctls restored, host paths cleaned', () => {
    if (rec !== undefined) {
      const restored = restoreSysctls(rec);
      if (restored.length > 0) log(`  restored ${restored.join(', ')}`);
    } else log('  no record of the host before up: sysctls left as they are');
    const removed = cleanHostPaths(rec);
    if (removed.length > 0) log(`  removed ${removed.join(' ')}`);
  });
  if (opts.keepLogs && existsSync(PATHS.logs)) cpSync(PATHS.logs, FAILED_LOGS, { recursive: true });
  else if (!opts.keepLogs) rmSync(FAILED_LOGS, { recursive: true, force: true });
  await step('state dir removed', () => {
    rmSync(RN, { recursive: true, force: true });
    rmSync(dirname(dirname(PATHS.cniBin)), { recursive: true, force: true });
  });
}
