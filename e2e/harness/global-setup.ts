// Jest global setup for the e2e project: one real control plane per run, shared by every
// suite. A cluster already started by `make cluster-up` is reused (and left running).
import { ensureCluster } from '../cluster/control-plane.ts';

export default async function globalSetup(): Promise<void> {
  const { state, started } = await ensureCluster();
  process.env['NICPOOL_E2E_STARTED_CLUSTER'] = started ? '1' : '';
  process.env['KUBECONFIG'] = state.kubeconfig;
}
