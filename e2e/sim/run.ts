// Runs one command and collects its output: the node agent's way to run the CNI chain, and
// the simulator's for `ip` on the host.
import { spawn } from 'node:child_process';

export interface RunRequest {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly input?: string;
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Never rejects: a program that cannot start answers code -1 with the reason in stderr. */
export function run(req: RunRequest): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(req.cmd, req.args, {
      env: req.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), req.timeoutMs ?? 60_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // A program that exits without reading stdin (ip) makes the write fail with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(req.input ?? '');
  });
}
