/**
 * The parts of `make demo NODE=real` (scripts/demo-real.ts) that are about the real node and
 * nicpool's install rather than the tutorial: kubectl with its output streamed (rollout status),
 * the objects of the install overlay (e2e/install) and how an admin removes them, and putting
 * back what an uninstall keeps (CRDs, the CNI plugins, the socket) on a node the demo did not
 * start, so that the node is left as it was found.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { RealNode } from '../realnode/node.ts';

/** The overlay the demo installs: deploy/ with only the allocator's CNI bin dir changed. */
export const INSTALL_OVERLAY = 'e2e/install';
export const NICPOOL_NAMESPACE = 'nicpool-system';
/** The allocator's socket dir (a hostPath of the DaemonSet). */
export const SOCKET_DIR = '/var/run/spidernet';
/** What the allocator's init container installs into the node's CNI bin dir. */
export const CNI_PLUGINS = ['spiderpool', 'veth'] as const;

/**
 * kubectl against the node with its output passed on line by line as it comes (for `rollout
 * status`, which prints one line per change); rejects with the last lines on a non-zero exit.
 */
export function kubectlStream(
  node: RealNode,
  args: readonly string[],
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(node.state.bin.kubectl, args, {
      env: { ...process.env, KUBECONFIG: node.kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(signal !== undefined && { signal }),
    });
    const tail: string[] = [];
    let partial = '';
    const take = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        onLine(l);
        tail.push(l);
        if (tail.length > 10) tail.shift();
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial !== '') onLine(partial);
      if (code === 0) resolve();
      else reject(new Error(`kubectl ${args.join(' ')} exited with ${code}: ${tail.join('\n')}`));
    });
  });
}

export interface ObjectRef {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** The objects `kubectl apply -k` of the overlay creates, in its order. */
export async function overlayObjects(node: RealNode): Promise<ObjectRef[]> {
  const out = await node.kubectl(['kustomize', INSTALL_OVERLAY]);
  return parseAllDocuments(out).flatMap((d) => {
    const o = d.toJS() as {
      kind?: string;
      metadata?: { name?: string; namespace?: string };
    } | null;
    if (o?.kind === undefined || o.metadata?.name === undefined) return [];
    return [
      {
        kind: o.kind,
        name: o.metadata.name,
        ...(o.metadata.namespace !== undefined && { namespace: o.metadata.namespace }),
      },
    ];
  });
}

/**
 * What an uninstall deletes, as `kind/name` arguments of one `kubectl delete`: every object
 * of the overlay but the CRDs (deleting them deletes every pool and subnet: docs/helm.md,
 * "Moving from kubectl apply -k deploy/"). The webhook configurations go first, so that no
 * admission waits on a webhook that is going away; the namespace goes last and takes the
 * namespaced objects (Deployments, DaemonSet, Services, the Secret and the Lease nicpool
 * made at run time) with it.
 */
export function uninstallTargets(objects: readonly ObjectRef[]): string[] {
  const rank = (o: ObjectRef): number =>
    o.kind.endsWith('WebhookConfiguration') ? 0 : o.kind === 'Namespace' ? 2 : 1;
  return objects
    .filter((o) => o.kind !== 'CustomResourceDefinition' && o.namespace === undefined)
    .sort((a, b) => rank(a) - rank(b))
    .map((o) => `${o.kind.toLowerCase()}/${o.name}`);
}

/** What exists before the install of the things an uninstall leaves behind. */
export interface Kept {
  readonly crds: readonly string[];
  readonly cniPlugins: readonly string[];
  /** Entries of the socket dir, undefined when it did not exist. */
  readonly socketDir: readonly string[] | undefined;
}

export async function keptBefore(node: RealNode, crds: readonly string[]): Promise<Kept> {
  const present = (
    await node.kubectl(['get', 'crd', '-o', 'jsonpath={.items[*].metadata.name}'])
  ).split(' ');
  return {
    crds: crds.filter((c) => present.includes(c)),
    cniPlugins: CNI_PLUGINS.filter((p) => existsSync(join(node.cniBinDir, p))),
    socketDir: existsSync(SOCKET_DIR) ? readdirSync(SOCKET_DIR) : undefined,
  };
}

/**
 * Removes what the install added and the uninstall kept: the CRDs that were not there (with
 * every object in them), the CNI plugins in the node's bin dir, the socket. Returns what it
 * removed, for the demo to say.
 */
export async function removeKept(
  node: RealNode,
  crds: readonly string[],
  before: Kept,
): Promise<string[]> {
  const removed: string[] = [];
  const newCrds = crds.filter((c) => !before.crds.includes(c));
  if (newCrds.length > 0) {
    await node.kubectl(['delete', 'crd', '--ignore-not-found', '--timeout=60s', ...newCrds]);
    removed.push(...newCrds.map((c) => `crd/${c}`));
  }
  for (const p of CNI_PLUGINS) {
    const path = join(node.cniBinDir, p);
    if (!before.cniPlugins.includes(p) && existsSync(path)) {
      rmSync(path, { force: true });
      removed.push(path);
    }
  }
  if (existsSync(SOCKET_DIR)) {
    for (const e of readdirSync(SOCKET_DIR))
      if (before.socketDir?.includes(e) !== true) {
        rmSync(join(SOCKET_DIR, e), { force: true, recursive: true });
        removed.push(join(SOCKET_DIR, e));
      }
    if (before.socketDir === undefined) {
      try {
        rmdirSync(SOCKET_DIR); // only if empty: something else may have put a file there since
        removed.push(SOCKET_DIR);
      } catch {
        // not empty: left as it is
      }
    }
  }
  return removed;
}
