// Stops the real node a suite started (one `make node-up` started stays up) and the control
// plane global setup started (a reused one stays up), and removes every netns and link the
// simulator made, also after failed tests.
import { cleanupSimLeftovers, stopCluster } from '../cluster/control-plane.ts';
import { stopRealNodeStartedByTests } from '../realnode/node.ts';

export default async function globalTeardown(): Promise<void> {
  await stopRealNodeStartedByTests();
  if (process.env['NICPOOL_E2E_STARTED_CLUSTER'] === '1') await stopCluster();
  else await cleanupSimLeftovers();
}
