// `make node-up` / `make node-down`: node e2e/realnode/cli.ts up|down|status
import { recordedRealNode, startRealNode, stopRealNode } from './node.ts';

const cmd = process.argv[2];
try {
  if (cmd === 'up') {
    const node = await startRealNode('cli');
    console.log(`export KUBECONFIG=${node.kubeconfig}`);
  } else if (cmd === 'down') {
    await stopRealNode();
  } else if (cmd === 'status') {
    const node = recordedRealNode();
    const healthy = node !== undefined && (await node.healthy());
    console.log(
      healthy
        ? `running: node ${node.nodeName} ${node.nodeIP}, ${node.state.server} (export KUBECONFIG=${node.kubeconfig})`
        : node === undefined
          ? 'not running'
          : 'recorded but not healthy (make node-down cleans it up)',
    );
    process.exit(healthy ? 0 : 1);
  } else {
    console.error('usage: cli.ts up|down|status');
    process.exit(2);
  }
} catch (e) {
  console.error(`realnode ${cmd} failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
