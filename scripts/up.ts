// `make up` / `make down`: the local control plane plus nicpool running as local processes
// (scripts/stack.ts serve, detached), each component under its deploy/ ServiceAccount.
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import {
  isHealthy,
  kubectl,
  KUBECONFIG,
  readState,
  REPO,
  startCluster,
  stopCluster,
} from '../e2e/cluster/control-plane.ts';
import { STACK_STATE } from './stack.ts';

const UP_STATE = join(REPO, '.nicpool', 'up.json');
const NADS = join(REPO, 'deploy', 'examples', 'multus-conf.yaml');
const LOG = join(REPO, '.nicpool', 'stack.log');
const say = (l: string): void => console.log(`[up] ${l}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function up(): Promise<void> {
  if (existsSync(STACK_STATE)) {
    const { pid } = JSON.parse(readFileSync(STACK_STATE, 'utf8')) as { pid: number };
    if (alive(pid)) {
      say(`already up (pid ${pid}); make down stops it`);
      console.log(`export KUBECONFIG=${KUBECONFIG}`);
      return;
    }
  }
  const existing = readState();
  let startedCluster = false;
  if (existing === undefined || !(await isHealthy(existing))) {
    say('starting the local control plane (etcd, kube-apiserver, kube-controller-manager)');
    await startCluster();
    startedCluster = true;
  } else say('reusing the running control plane');
  writeFileSync(UP_STATE, JSON.stringify({ startedCluster }));
  say(`starting nicpool (log: ${LOG})`);
  const log = openSync(LOG, 'w');
  const child = spawn(
    join(REPO, 'node_modules', '.bin', 'node'),
    [join(REPO, 'scripts', 'stack.ts'), 'serve'],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  const t0 = Date.now();
  let shown = 0;
  while (!existsSync(STACK_STATE)) {
    if (child.exitCode !== null || !alive(child.pid!)) {
      throw new Error(`nicpool failed to start:\n${readFileSync(LOG, 'utf8').slice(-3000)}`);
    }
    if (Date.now() - t0 > 180_000) throw new Error(`nicpool not ready after 180 s; see ${LOG}`);
    // Progress while waiting: the stack's own lines.
    const lines = readFileSync(LOG, 'utf8').split('\n').filter(Boolean);
    for (const l of lines.slice(shown)) console.log(`  ${l}`);
    shown = lines.length;
    await new Promise((r) => setTimeout(r, 300));
  }
  const s = JSON.parse(readFileSync(STACK_STATE, 'utf8')) as Record<string, unknown>;
  // The tutorial's NADs, so a pod applied next gets its NICs (without them Multus leaves it
  // Pending with NoNetworkFound). `apply`: a second make up finds them unchanged.
  const state = readState()!;
  const applied = await kubectl(state, ['apply', '-f', NADS]);
  say(
    `NetworkAttachmentDefinitions from ${relative(REPO, NADS)} (the tutorial's file, unchanged):`,
  );
  for (const l of applied.trim().split('\n')) console.log(`  ${l}`);
  say(`up: webhook ${String(s['webhook'])}, allocator socket ${String(s['socket'])}`);
  say(`controller metrics ${String(s['controllerMetrics'])}`);
  const kubectlDir = dirname(state.bin.kubectl);
  // The kubectl built for the tests, for machines without one.
  if (kubectlDir !== '.') console.log(`export PATH=${kubectlDir}:$PATH`);
  console.log(`export KUBECONFIG=${KUBECONFIG}`);
}

async function down(): Promise<void> {
  if (existsSync(STACK_STATE)) {
    const { pid } = JSON.parse(readFileSync(STACK_STATE, 'utf8')) as { pid: number };
    if (alive(pid)) {
      say(`stopping nicpool (pid ${pid})`);
      process.kill(pid, 'SIGTERM');
      const t0 = Date.now();
      while (alive(pid) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 200));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(STACK_STATE, { force: true });
  }
  const started = existsSync(UP_STATE)
    ? (JSON.parse(readFileSync(UP_STATE, 'utf8')) as { startedCluster: boolean }).startedCluster
    : false;
  rmSync(UP_STATE, { force: true });
  if (started) {
    say('stopping the local control plane');
    await stopCluster();
  } else say('left the control plane running (it was running before make up)');
}

try {
  if (process.argv[2] === 'up') await up();
  else if (process.argv[2] === 'down') await down();
  else {
    console.error('usage: up.ts up|down');
    process.exit(2);
  }
} catch (e) {
  console.error(`make ${process.argv[2]} failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
