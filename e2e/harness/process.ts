// The lifecycle of a component process the e2e harness started (allocator, controller,
// webhook): one copy of "is it up", "kill it now" and "stop it politely".
import type { ChildProcess } from 'node:child_process';

/** Started, and not exited since (neither by itself nor by a signal). */
export function isRunning(c: ChildProcess | undefined): c is ChildProcess {
  return c !== undefined && c.exitCode === null && c.signalCode === null;
}

/** SIGKILL, like a crash or the OOM killer; resolves once it has exited. */
export async function sigkill(c: ChildProcess | undefined): Promise<void> {
  if (!isRunning(c)) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function terminate(c: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!isRunning(c)) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  if (isRunning(c)) c.kill('SIGKILL');
}
