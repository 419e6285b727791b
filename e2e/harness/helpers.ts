// Small helpers shared by e2e suites.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { kubectl, readState, type ClusterState } from '../cluster/control-plane.ts';

const run = promisify(execFile);

/** The cluster global setup started or reused. */
export function cluster(): ClusterState {
  const s = readState();
  if (s === undefined) throw new Error('no cluster: the e2e global setup did not run');
  return s;
}

export const k = (args: readonly string[], input?: string): Promise<string> =>
  kubectl(cluster(), args, input);

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Polls until `probe` returns a value (not undefined), or fails with the last observation. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  describe?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const extra = describe === undefined ? '' : `; ${describe()}`;
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}${extra}`,
  );
}

/** Runs a command inside a network namespace path (/var/run/netns/…). */
export async function inNetns(netnsPath: string, cmd: string, ...args: string[]): Promise<string> {
  const name = netnsPath.split('/').pop()!;
  return (await run('ip', ['netns', 'exec', name, cmd, ...args])).stdout;
}

export async function netnsList(): Promise<string[]> {
  return (await run('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Creates a namespace and waits until its `default` ServiceAccount exists (pods need it). */
export async function createNamespace(name: string): Promise<void> {
  await k(['create', 'namespace', name]);
  await eventually(`ServiceAccount ${name}/default`, async () =>
    (await k(['get', 'sa', 'default', '-n', name, '-o', 'name']).catch(() => ''))
      ? true
      : undefined,
  );
}

/**
 * Registers Node objects for pods bound by name in tests that run no simulator: the
 * controller-manager's pod GC force-deletes pods bound to nodes that do not exist.
 */
export async function ensureNodes(...names: string[]): Promise<void> {
  const items = names.map((name) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
  }));
  await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
}
