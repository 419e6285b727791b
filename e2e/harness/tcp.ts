/**
 * TCP between network namespaces, for the veth plugin's connectivity checks (veth.md T9)
 * and `make demo` (there is no `ping` here, and TCP is what services carry). A listener and
 * a client each run as `ip netns exec <netns> node -e …`: the listener answers every
 * connection with the addresses it saw, so a check proves which source address arrived.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../cluster/control-plane.ts';
import { run } from '../sim/run.ts';

const NODE = join(REPO, 'node_modules', '.bin', 'node');

const SERVER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
net
  .createServer((s) => s.end(JSON.stringify({ remote: s.remoteAddress, local: s.localAddress }) + '\\n'))
  .listen(Number(port), host, () => console.log('listening'));
`;

const CLIENT = `
const net = require('node:net');
const [host, port, from] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), ...(from ? { localAddress: from } : {}), timeout: 5000 });
let data = '';
s.on('data', (d) => (data += d));
s.on('timeout', () => { console.error('timed out connecting to ' + host + ':' + port); process.exit(1); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
s.on('end', () => { console.log(JSON.stringify({ local: s.localAddress, server: JSON.parse(data) })); });
`;

export interface Listener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP listener in `netns` (a name under /run/netns) on host:port, until close(). */
export async function listen(netns: string, host: string, port: number): Promise<Listener> {
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', netns, NODE, '-e', SERVER, host, String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`listener ${host}:${port} in ${netns} exited ${code}: ${err.trim()}`)),
    );
  });
  return {
    host,
    port,
    close: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

export interface Connection {
  /** The client's address as the client saw it. */
  readonly local: string;
  /** The addresses the listener saw: the client's (remote) and its own (local). */
  readonly server: { readonly remote: string; readonly local: string };
}

/** Connects from `netns` (optionally from a given source address); rejects naming why. */
export async function connect(
  netns: string,
  host: string,
  port: number,
  from?: string,
): Promise<Connection> {
  const r = await run({
    cmd: 'ip',
    args: ['netns', 'exec', netns, NODE, '-e', CLIENT, host, String(port), from ?? ''],
  });
  if (r.code !== 0)
    throw new Error(
      `TCP ${from ?? ''}→${host}:${port} from ${netns} failed: ${r.stderr.trim() || `exit ${r.code}`}`,
    );
  return JSON.parse(r.stdout) as Connection;
}
