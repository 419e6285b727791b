/**
 * The inside of one simulated node (test infrastructure, not product). The node simulator
 * starts it as `ip netns exec <node netns> node node-agent.ts <config JSON>`, so it runs in
 * the node's network namespace and in a mount namespace of its own (which `ip netns exec`
 * makes, a slave of the host's: pod netns the host adds later appear here too). There it:
 *
 * - bind-mounts the node's allocator socket directory at /var/run/spidernet, so the shim
 *   finds its node's allocator at the default path, as on a real node;
 * - brings `lo` up and serves the API server's port on the node's loopback, forwarding each
 *   connection to a Unix socket the simulator serves on the host side (TLS passes through
 *   untouched), so Multus and the plugins use the cluster's kubeconfig unchanged;
 * - runs the commands the simulator sends (one JSON object per line on stdin: Multus ADD /
 *   DEL, `ip`, …) and answers each on stdout, with no limit of its own on how many at once.
 *
 * It exits when stdin closes: the simulator is gone, so is the node.
 */
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { run, type RunRequest, type RunResult } from './run.ts';

export interface AgentConfig {
  /**
   * Host side instead: serve `apiSocket` and forward each connection to the API server on
   * the host's loopback. A process of its own, so a busy simulator never delays the bytes.
   */
  readonly hostProxy?: boolean;
  /** The API server's port: served on 127.0.0.1 in the node, as in the kubeconfig. */
  readonly apiPort: number;
  /** Host-side Unix socket that reaches the API server. */
  readonly apiSocket: string;
  /** Mounted at /var/run/spidernet in the node (holds the node's allocator socket). */
  readonly socketDir?: string;
}

/** One command to run in the node, and its answer: `run`'s, with the request's id. */
export type AgentRequest = RunRequest & { readonly id: number };
export type AgentReply = RunResult & { readonly id: number };

const SOCKET_MOUNT = '/var/run/spidernet';

/** Pipes every connection `server` accepts to a new connection from `dial`. */
function forward(
  server: ReturnType<typeof createServer>,
  dial: () => ReturnType<typeof connect>,
): void {
  server.on('connection', (local) => {
    const remote = dial();
    local.pipe(remote).pipe(local);
    const close = (): void => {
      local.destroy();
      remote.destroy();
    };
    local.on('error', close);
    remote.on('error', close);
  });
}

async function main(config: AgentConfig): Promise<void> {
  if (config.hostProxy === true) {
    const server = createServer();
    forward(server, () => connect({ host: '127.0.0.1', port: config.apiPort }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.apiSocket, resolve);
    });
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
    return;
  }
  const must = async (cmd: string, args: string[]): Promise<void> => {
    const r = await run({ cmd, args });
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  if (config.socketDir !== undefined) {
    if (!existsSync(SOCKET_MOUNT)) throw new Error(`${SOCKET_MOUNT} is missing on the host`);
    await must('mount', ['--bind', config.socketDir, SOCKET_MOUNT]);
  }
  await must('ip', ['link', 'set', 'lo', 'up']);
  const api = createServer();
  forward(api, () => connect({ path: config.apiSocket }));
  await new Promise<void>((resolve, reject) => {
    api.once('error', reject);
    api.listen(config.apiPort, '127.0.0.1', resolve);
  });
  const reply = (r: AgentReply): void => void process.stdout.write(`${JSON.stringify(r)}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const req = JSON.parse(line) as AgentRequest;
    void run(req).then((r) => reply({ id: req.id, ...r }));
  });
  lines.on('close', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}

main(JSON.parse(process.argv[2] ?? '{}') as AgentConfig).catch((e: unknown) => {
  process.stdout.write(
    `${JSON.stringify({ ready: false, error: e instanceof Error ? e.message : String(e) })}\n`,
  );
  process.exit(1);
});
