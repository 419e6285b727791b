// Does the image hold what deploy/ runs? The `command:` of every container of deploy/'s
// workloads that uses the image, checked against the root filesystem before it is packed:
// the executable on the image's PATH, the /app files named in arguments and `sh -c` scripts,
// the programs those scripts call. Also: every package a bundle imports is in node_modules.
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { isAbsolute, join, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface ContainerCommand {
  /** `DaemonSet/nicpool-allocator initContainer install-cni-plugins`, for messages. */
  readonly where: string;
  readonly image: string;
  readonly command: readonly string[];
  /** Volume mount paths: files under them come from the host, not the image. */
  readonly mounts: readonly string[];
}

interface PodSpecLike {
  initContainers?: ContainerLike[];
  containers?: ContainerLike[];
}
interface ContainerLike {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  volumeMounts?: { mountPath?: string }[];
}

/** The containers of the Deployments, DaemonSets, StatefulSets and Jobs in `yamlTexts`. */
export function deployCommands(yamlTexts: readonly string[]): ContainerCommand[] {
  const out: ContainerCommand[] = [];
  for (const text of yamlTexts)
    for (const doc of parseAllDocuments(text)) {
      const o = doc.toJS() as {
        kind?: string;
        metadata?: { name?: string };
        spec?: { template?: { spec?: PodSpecLike } };
      } | null;
      const pod = o?.spec?.template?.spec;
      if (o?.kind === undefined || pod === undefined) continue;
      const each = (list: ContainerLike[] | undefined, role: string): void => {
        for (const c of list ?? [])
          out.push({
            where: `${o.kind}/${o.metadata?.name} ${role} ${c.name}`,
            image: typeof c.image === 'string' ? c.image : '',
            command: [...(c.command ?? []), ...(c.args ?? [])],
            mounts: (c.volumeMounts ?? []).map((m) => m.mountPath ?? '').filter(Boolean),
          });
      };
      each(pod.initContainers, 'initContainer');
      each(pod.containers, 'container');
    }
  return out;
}

/** Is `p` (absolute, inside the image) there, following symlinks inside `root`, not the host's? */
export function existsInRoot(root: string, p: string): boolean {
  let path = posix.normalize(p);
  for (let hops = 0; hops < 40; hops++) {
    const parts = path.split('/').filter(Boolean);
    let resolved = '/';
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      const next = posix.join(resolved, parts[i]!);
      const host = join(root, next);
      let st;
      try {
        st = lstatSync(host);
      } catch {
        return false;
      }
      if (st.isSymbolicLink()) {
        const target = readlinkSync(host);
        const base = isAbsolute(target) ? target : posix.join(resolved, target);
        path = posix.join(base, ...parts.slice(i + 1));
        changed = true;
        break;
      }
      resolved = next;
    }
    if (!changed) return true;
  }
  return false;
}

/** Shell builtins a script may call without a program of that name in the image. */
const SH_BUILTINS = new Set([
  ':',
  'cd',
  'exec',
  'exit',
  'export',
  'set',
  'trap',
  'true',
  'false',
  'wait',
]);

/** The simple commands of an `sh -c` script: words split at `&&`, `||`, `;`, `|`, `&`. */
export function scriptCommands(script: string): string[][] {
  return script
    .split(/&&|\|\||;|\||&/)
    .map((s) => s.trim().split(/\s+/).filter(Boolean))
    .filter((words) => words.length > 0);
}

/**
 * What a container's command needs that the image lacks, as messages (empty: it can run).
 * A container without `command:` runs the image's own `entrypoint` (+ `cmd`). `exists`
 * answers for absolute paths inside the image; `path` is the image's PATH.
 */
export function missingFor(
  c: ContainerCommand,
  image: { readonly path: readonly string[]; readonly entrypoint: readonly string[] },
  exists: (p: string) => boolean,
): string[] {
  const path = image.path;
  const problems: string[] = [];
  const fromHost = (p: string): boolean =>
    c.mounts.some((m) => p === m || p.startsWith(m.endsWith('/') ? m : `${m}/`));
  const program = (name: string): void => {
    if (name.includes('/')) {
      if (!exists(name)) problems.push(`${c.where}: ${name} is not in the image`);
    } else if (!path.some((d) => exists(posix.join(d, name))))
      problems.push(`${c.where}: ${name} is not on the image's PATH (${path.join(':')})`);
  };
  const shell = (script: string): void => {
    for (const [prog, ...words] of scriptCommands(script)) {
      if (!SH_BUILTINS.has(prog!)) program(prog!);
      files(words);
    }
  };
  const files = (words: readonly string[]): void => {
    for (const w of words)
      if (w.startsWith('/') && !fromHost(w) && !exists(w))
        problems.push(`${c.where}: ${w} is not in the image`);
  };
  const [exe, ...args] = c.command.length > 0 ? c.command : image.entrypoint;
  if (exe === undefined) return [`${c.where}: no command, and the image has no default one`];
  program(exe);
  if ((exe === 'sh' || exe.endsWith('/sh')) && args[0] === '-c' && args[1] !== undefined)
    shell(args[1]);
  else files(args);
  return problems;
}

/** The npm packages an ES module bundle imports statically (`import … from "x"`, `import "x"`). */
export function bundleImports(source: string): string[] {
  const builtins = new Set(builtinModules);
  const found = new Set<string>();
  // `[^'";=()]`: the specifier is the first string of the statement, and no `export const`
  // or `export function` reaches a string on a later line.
  const statement = /^\s*(?:import|export)\s[^'";=()]*?(?:from\s*)?["']([^"']+)["'];?\s*$/gm;
  for (const m of source.matchAll(statement)) {
    const spec = m[1]!;
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    if (!builtins.has(name)) found.add(name);
  }
  return [...found].sort();
}

/** Packages a bundle imports that `node_modules` lacks. */
export function missingPackages(source: string, nodeModules: string): string[] {
  return bundleImports(source).filter((p) => !existsSync(join(nodeModules, p, 'package.json')));
}
