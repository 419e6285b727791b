/**
 * The node's processes: started detached with a log and a pid file each, found again after
 * a crash by pid file (checked against the binary) or by a command line that names the
 * state directory, stopped with SIGTERM then SIGKILL.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PATHS, RN } from './config.ts';

interface PidFile {
  readonly pid: number;
  readonly bin: string;
}

function cmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw === '' ? undefined : raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** Running, not a zombie (an exited process nobody has reaped yet counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Starts `bin` detached (its own process group), output appended to logs/<name>.log. */
export function startProcess(
  name: string,
  bin: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): number {
  mkdirSync(PATHS.logs, { recursive: true });
  mkdirSync(PATHS.pids, { recursive: true });
  const out = openSync(join(PATHS.logs, `${name}.log`), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out], cwd: RN, env });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name} (${bin})`);
  writeFileSync(join(PATHS.pids, `${name}.pid`), JSON.stringify({ pid: child.pid, bin }));
  return child.pid;
}

/** The recorded pid of `name` if it is still that binary (pids are reused after a crash). */
export function runningPid(name: string): number | undefined {
  try {
    const f = JSON.parse(readFileSync(join(PATHS.pids, `${name}.pid`), 'utf8')) as PidFile;
    return cmdline(f.pid)?.[0] === f.bin ? f.pid : undefined;
  } catch {
    return undefined;
  }
}

/** Every process other than this one (and its ancestors) whose command line names the state dir. */
export function processesNamingStateDir(): { pid: number; argv: string[] }[] {
  const mine = new Set<number>();
  for (let p = process.pid; p > 1;) {
    mine.add(p);
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  const out: { pid: number; argv: string[] }[] = [];
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || mine.has(pid)) continue;
    const argv = cmdline(pid);
    if (argv?.some((a) => a.includes(RN))) out.push({ pid, argv });
  }
  return out;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once all have exited. */
export async function stopPids(pids: readonly number[], graceMs: number): Promise<void> {
  const signal = (pid: number, s: NodeJS.Signals): void => {
    try {
      process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  for (const p of pids) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const p of pids) if (isAlive(p)) signal(p, 'SIGKILL');
  for (const t0 = Date.now(); pids.some(isAlive) && Date.now() - t0 < 10_000;)
    await new Promise((r) => setTimeout(r, 50));
}

/** Stops the recorded process `name` (if it is still ours) and forgets its pid file. */
export async function stopProcess(name: string, graceMs = 10_000): Promise<boolean> {
  const pid = runningPid(name);
  if (pid !== undefined) await stopPids([pid], graceMs);
  rmSync(join(PATHS.pids, `${name}.pid`), { force: true });
  return pid !== undefined;
}
