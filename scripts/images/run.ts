// One way to run the tools the image build shells out to (tar, mmdebstrap, npm, gcc, strip):
// stderr kept for the error, a hint naming the package when the tool is missing, and every
// child remembered so that an interrupted build stops them before it removes its scratch tree.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

const running = new Set<ChildProcessByStdio<null, Readable, Readable>>();

/** SIGTERM to every tool still running (an interrupted build). */
export function stopChildren(): void {
  for (const c of running) c.kill('SIGTERM');
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How to get the tool when it is not installed, e.g. `apt-get install binutils`. */
  readonly install: string;
}

/**
 * Starts `cmd`, hands its stdout to `consume`, and resolves once both are done and the tool
 * exited 0. The error names the command, its exit code and the end of its stderr.
 */
export function runStreaming(
  cmd: string,
  args: readonly string[],
  o: RunOptions,
  consume: (stdout: Readable) => Promise<void>,
): Promise<void> {
  const child = spawn(cmd, args, {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      running.delete(child);
      reject(
        new Error(
          e.code === 'ENOENT'
            ? `${cmd} is not installed: ${o.install}`
            : `cannot run ${cmd}: ${e.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (code === 0) return resolve();
      const tail = stderr.trim().split('\n').slice(-15).join('\n');
      reject(
        new Error(
          `${cmd} ${args.join(' ')} ${signal !== null ? `was killed by ${signal}` : `exited ${code}`}${tail === '' ? '' : `:\n${tail}`}`,
        ),
      );
    });
  });
  return Promise.all([consume(child.stdout), exited]).then(() => undefined);
}

/** Runs `cmd` to completion; resolves with its stdout. */
export async function run(cmd: string, args: readonly string[], o: RunOptions): Promise<string> {
  let out = '';
  await runStreaming(cmd, args, o, async (stdout) => {
    stdout.setEncoding('utf8');
    for await (const chunk of stdout) out += chunk as string;
  });
  return out;
}
