/**
 * A real kubelet node for the test harness (issue 16 item 2): its own etcd, kube-apiserver
 * (on the node IP 10.251.0.1), kube-controller-manager with every controller and
 * kube-scheduler; Debian's containerd 1.6 with runc; kubelet v1.36.3; kube-proxy in nftables
 * mode; Multus thin as the CNI with a CNI bin dir and conf dir of its own; images imported
 * from OCI archives, never pulled. The recipe and every obstacle: /work/shared/spec/realnode.md;
 * what it changes on the host and how that is undone: docs/realnode.md.
 *
 * `make node-up` / `make node-down` (cli.ts), or in a Jest suite:
 *   const node = await ensureRealNode();      // up once per run, reused by later suites
 *   await node.kubectl(['get', 'nodes']);
 * A node started by a suite is stopped by the e2e global teardown (stopRealNodeStartedByTests);
 * one started by `make node-up` is reused and left running.
 */
import { startRealNode } from './up.ts';
import { stopRealNode } from './down.ts';
import { RealNode, log, readState } from './state.ts';

export { startRealNode } from './up.ts';
export { stopRealNode } from './down.ts';
export { IMAGES_DIR, FAILED_LOGS, RealNode, type RealNodeState } from './state.ts';

/** The running node if healthy (importing archives rebuilt since), else a fresh one. */
export async function ensureRealNode(): Promise<RealNode> {
  const s = readState();
  if (s !== undefined) {
    const node = new RealNode(s);
    if (await node.healthy()) {
      await node.importImages();
      return node;
    }
    log('the recorded real node is not healthy: starting a fresh one');
  }
  return startRealNode('test');
}

/** The recorded node, healthy or not (for status). */
export function recordedRealNode(): RealNode | undefined {
  const s = readState();
  return s === undefined ? undefined : new RealNode(s);
}

/** For the e2e global teardown: stops the node only if a suite started it. */
export async function stopRealNodeStartedByTests(): Promise<void> {
  if (readState()?.startedBy === 'test') await stopRealNode();
}
