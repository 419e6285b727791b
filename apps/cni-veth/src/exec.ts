/**
 * The plugin's hands: iproute2 in batch mode, one process per namespace and step
 * (veth.md "How": 12 commands in one process take ~5 ms, as 12 processes 53–70 ms). The
 * node side runs in this process's netns; the pod side through `nsenter --net=<netns>`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { CNIError, CNIErrorCode } from '@nicpool/cni';

/** One `ip -batch` run: per line, its JSON output (queries) or undefined if that line failed. */
export interface BatchResult {
  readonly outputs: readonly unknown[];
  /** Lines that failed, 1-based, with what ip said. */
  readonly failures: readonly { readonly line: number; readonly message: string }[];
}

export interface Where {
  /** The pod's netns path, or undefined for the node (this process's netns). */
  readonly netns: string | undefined;
}

/** What run.ts needs from the kernel; unit tests give a fake. */
export interface Kernel {
  readonly pid: number;
  /**
   * Read-only dumps (`-json -force`): a failed line leaves its output undefined. `family`
   * limits the dumps to one family (`route show table all` shows both otherwise).
   */
  query(where: Where, lines: readonly string[], family?: 4 | 6): Promise<BatchResult>;
  /**
   * Changes, stopping at the first failure (thrown as a CNIError naming the command). For
   * the pod, `ipv6` enables IPv6 before the batch and `rpFilter` is written to every
   * `net.ipv4.conf.*.rp_filter` after it.
   */
  apply(
    where: Where,
    lines: readonly string[],
    pod?: {
      readonly ipv6: boolean;
      readonly rpFilter: 0 | 1 | 2 | undefined;
      /** Run with `ip -6 -batch` after `lines`. */
      readonly lines6: readonly string[];
    },
  ): Promise<void>;
  readSysctl(path: string): string | undefined;
  writeSysctl(path: string, value: string): void;
  log(message: string): void;
}

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Kernel answers worth a retry by the runtime (CNI code 11). */
const TRANSIENT = /Resource temporarily unavailable|Device or resource busy|No buffer space/;
const TIMEOUT_MS = 20_000;

function exec(cmd: string, args: readonly string[], input: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) =>
      reject(new CNIError(CNIErrorCode.generic, `cannot run ${cmd}`, e.message)),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined).end(input);
  });
}

/**
 * ip's stderr in batch mode: each failure's message, then `Command failed -:N`. Messages
 * come before the line that names them.
 */
export function parseFailures(stderr: string): { line: number; message: string }[] {
  const out: { line: number; message: string }[] = [];
  let pending: string[] = [];
  for (const l of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)$/.exec(l.trim());
    if (m === null) {
      if (l.trim() !== '') pending.push(l.trim());
      continue;
    }
    out.push({ line: Number(m[1]), message: pending.join('; ') });
    pending = [];
  }
  return out;
}

const prefix = (where: Where, args: readonly string[]): [string, string[]] =>
  where.netns === undefined
    ? ['ip', [...args]]
    : ['nsenter', [`--net=${where.netns}`, 'ip', ...args]];

const place = (where: Where): string => (where.netns === undefined ? 'node' : 'pod');

/**
 * The pod's script. IPv6 on and every rp_filter written before the batch: routes and
 * neighbours need IPv6, and veth0, made by the batch, inherits `default`'s rp_filter. Then
 * the batch on stdin, then the IPv6 rules (iproute2 reads a rule as IPv4 unless `-6`), each
 * batch announced on stderr so a failure names its line. Values are positional arguments,
 * never code.
 */
const POD_SCRIPT = [
  'if [ "$1" = 1 ]; then',
  '  echo 0 > /proc/sys/net/ipv6/conf/default/disable_ipv6 || exit 1',
  '  echo 0 > /proc/sys/net/ipv6/conf/all/disable_ipv6 || exit 1',
  'fi',
  'if [ -n "$2" ]; then',
  '  for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo "$2" > "$f" || exit 1; done',
  'fi',
  'echo "@batch 4" >&2',
  'ip -batch - || exit $?',
  'if [ -n "$3" ]; then',
  '  echo "@batch 6" >&2',
  '  printf "%s\\n" "$3" | ip -6 -batch - || exit $?',
  'fi',
].join('\n');

export const systemKernel: Kernel = {
  pid: process.pid,
  async query(where, lines, family) {
    const [cmd, args] = prefix(where, [
      ...(family === undefined ? [] : [`-${family}`]),
      '-json',
      '-force',
      '-batch',
      '-',
    ]);
    const r = await exec(cmd, args, `${lines.join('\n')}\n`);
    const failures = parseFailures(r.stderr);
    if (r.code !== 0 && failures.length === 0)
      throw new CNIError(
        TRANSIENT.test(r.stderr) ? CNIErrorCode.tryAgainLater : CNIErrorCode.generic,
        `cannot read the ${place(where)}'s network state`,
        `${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`,
      );
    const failed = new Set(failures.map((f) => f.line));
    const json = r.stdout.split('\n').filter((l) => l.trim() !== '');
    const outputs: unknown[] = [];
    let next = 0;
    for (let i = 1; i <= lines.length; i++) {
      if (failed.has(i)) {
        outputs.push(undefined);
        continue;
      }
      const text = json[next++];
      try {
        outputs.push(text === undefined ? [] : JSON.parse(text));
      } catch {
        throw new CNIError(
          CNIErrorCode.generic,
          `cannot read the ${place(where)}'s network state`,
          `ip printed ${JSON.stringify((text ?? '').slice(0, 200))} for "${lines[i - 1]}"`,
        );
      }
    }
    return { outputs, failures };
  },
  async apply(where, lines, pod) {
    if (lines.length === 0 && pod?.rpFilter === undefined && pod?.ipv6 !== true) return;
    const lines6 = pod?.lines6 ?? [];
    const [cmd, args] =
      pod === undefined || where.netns === undefined
        ? prefix(where, ['-batch', '-'])
        : [
            'nsenter',
            [
              `--net=${where.netns}`,
              'sh',
              '-c',
              POD_SCRIPT,
              'veth',
              pod.ipv6 ? '1' : '0',
              pod.rpFilter === undefined ? '' : String(pod.rpFilter),
              lines6.join('\n'),
            ],
          ];
    const r = await exec(cmd, args, `${lines.join('\n')}\n`);
    if (r.code === 0) return;
    // The failed batch is the last one the pod's script announced.
    const at = r.stderr.lastIndexOf('@batch ');
    const six = at >= 0 && r.stderr.startsWith('@batch 6', at);
    const stderr = (at < 0 ? r.stderr : r.stderr.slice(at + '@batch 4'.length)).trim();
    const [f] = parseFailures(stderr);
    const what =
      f === undefined
        ? `${cmd} ${args.slice(0, 2).join(' ')}`
        : six
          ? `ip -6 ${lines6[f.line - 1]}`
          : `ip ${lines[f.line - 1]}`;
    const why = f === undefined ? stderr || `exit ${r.code}` : f.message;
    throw new CNIError(
      TRANSIENT.test(why) ? CNIErrorCode.tryAgainLater : CNIErrorCode.generic,
      `in the ${place(where)}: ${what}: ${why}`,
    );
  },
  readSysctl(path) {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return undefined;
    }
  },
  writeSysctl(path, value) {
    try {
      writeFileSync(path, `${value}\n`);
    } catch (e) {
      throw new CNIError(
        CNIErrorCode.generic,
        `on the node: cannot write ${path}`,
        e instanceof Error ? e.message : String(e),
      );
    }
  },
  log(message) {
    process.stderr.write(`veth: ${message}\n`);
  },
};
