// `make cluster-up` / `make cluster-down`: node e2e/cluster/cli.ts up|down|status
import { KUBECONFIG, isHealthy, readState, startCluster, stopCluster } from './control-plane.ts';

const cmd = process.argv[2];
try {
  if (cmd === 'up') {
    await startCluster();
    console.log(`export KUBECONFIG=${KUBECONFIG}`);
  } else if (cmd === 'down') {
    await stopCluster();
  } else if (cmd === 'status') {
    const s = readState();
    const healthy = s !== undefined && (await isHealthy(s));
    console.log(healthy ? `running: ${s.server} (export KUBECONFIG=${KUBECONFIG})` : 'not running');
    process.exit(healthy ? 0 : 1);
  } else {
    console.error('usage: cli.ts up|down|status');
    process.exit(2);
  }
} catch (e) {
  console.error(`cluster ${cmd} failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
