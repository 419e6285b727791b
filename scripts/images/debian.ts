// Debian packages into a root filesystem with mmdebstrap's `extract` variant: the packages
// and their dependencies are unpacked, no maintainer script runs, nothing is configured.
// The mirror is the one apt on this machine uses; the .deb files are kept in a cache outside
// the repository so that a second `make images` downloads only the package lists; the
// versions apt chose are returned so that each image records them in its labels.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './run.ts';

export const SUITE = 'bookworm';

/** Where the Debian packages come from when this machine's apt has no bookworm entries. */
export const DEFAULT_SOURCES = [
  `deb http://deb.debian.org/debian ${SUITE} main`,
  `deb http://deb.debian.org/debian ${SUITE}-updates main`,
  `deb http://deb.debian.org/debian-security ${SUITE}-security main`,
] as const;

export interface SourcesFile {
  readonly path: string;
  readonly text: string;
}

/**
 * The bookworm entries (`bookworm`, `-updates`, `-security`) of apt's sources, as one-line
 * `deb` entries mmdebstrap takes as mirror arguments. Reads both formats: one-line `*.list`
 * and deb822 `*.sources` (stanzas with `Enabled: no` are skipped). Other suites and
 * third-party repositories stay out of the images.
 */
export function debianSources(files: readonly SourcesFile[], suite: string = SUITE): string[] {
  const wanted = new Set([suite, `${suite}-updates`, `${suite}-security`]);
  const out: string[] = [];
  const add = (uri: string, suites: string[], components: string[], signedBy?: string): void => {
    const opts = signedBy === undefined ? '' : `[signed-by=${signedBy}] `;
    for (const s of suites)
      if (wanted.has(s) && components.length > 0)
        out.push(`deb ${opts}${uri} ${s} ${components.join(' ')}`);
  };
  for (const f of files) {
    if (f.path.endsWith('.list')) {
      for (const raw of f.text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line);
        if (m === null) continue;
        const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
        add(m[2]!, [m[3]!], m[4]!.split(/\s+/), signedBy);
      }
    } else if (f.path.endsWith('.sources')) {
      for (const stanza of f.text.split(/\n\s*\n/)) {
        const fields = new Map<string, string>();
        let last: string | undefined;
        for (const raw of stanza.split('\n')) {
          if (raw.startsWith('#')) continue;
          if (/^\s/.test(raw) && last !== undefined) {
            fields.set(last, `${fields.get(last)} ${raw.trim()}`);
            continue;
          }
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
          if (m === null) continue;
          last = m[1]!.toLowerCase();
          fields.set(last, m[2]!.trim());
        }
        const words = (k: string): string[] => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
        if (!words('types').includes('deb') || fields.get('enabled')?.toLowerCase() === 'no')
          continue;
        const signedBy = fields.get('signed-by');
        // A Signed-By holding an inline key (several lines) cannot go on one line; the
        // archive keyring is what mmdebstrap finds by itself then.
        const path = signedBy !== undefined && !signedBy.includes(' ') ? signedBy : undefined;
        for (const uri of words('uris')) add(uri, words('suites'), words('components'), path);
      }
    }
  }
  return out;
}

/** apt's own sources: /etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources}. */
export function hostSources(etcApt = '/etc/apt'): SourcesFile[] {
  const files: string[] = [];
  if (existsSync(join(etcApt, 'sources.list'))) files.push(join(etcApt, 'sources.list'));
  const d = join(etcApt, 'sources.list.d');
  if (existsSync(d))
    for (const f of readdirSync(d).sort())
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join(d, f));
  return files.map((path) => ({ path, text: readFileSync(path, 'utf8') }));
}

export interface Package {
  readonly version: string;
  readonly arch: string;
}

/**
 * The `Inst name (version archive [arch])` lines of `apt-get -s install`, sorted by name.
 * (`Inst name [old] (…)` is an upgrade; there is none from an empty dpkg status.)
 */
export function simulatedInstall(text: string): Map<string, Package> {
  const found: [string, Package][] = [];
  for (const line of text.split('\n')) {
    const m = /^Inst (\S+) (?:\[\S+\] )?\((\S+) .*\[([a-z0-9-]+)\]\)/.exec(line);
    if (m !== null) found.push([m[1]!, { version: m[2]!, arch: m[3]! }]);
  }
  return new Map(found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * What mmdebstrap leaves that an image must not carry: apt's and dpkg's state (empty in the
 * extract variant), this machine's resolv.conf and hostname (the runtime mounts its own), the
 * device nodes (the runtime mounts /dev), and documentation other than the copyright files.
 */
export const TRIM = [
  'dev',
  'etc/apt',
  'etc/fstab',
  'etc/hostname',
  'etc/resolv.conf',
  'var/cache/apt',
  'var/cache/debconf',
  'var/lib/apt',
  'var/lib/dpkg',
  'var/log/apt',
  'usr/share/bug',
  'usr/share/info',
  'usr/share/lintian',
  'usr/share/locale',
  'usr/share/man',
  'usr/share/menu',
] as const;

export function trimRootfs(root: string): void {
  for (const p of TRIM) rmSync(join(root, p), { recursive: true, force: true });
  mkdirSync(join(root, 'dev'), { mode: 0o755 });
  const doc = join(root, 'usr', 'share', 'doc');
  if (!existsSync(doc)) return;
  for (const pkg of readdirSync(doc))
    for (const f of readdirSync(join(doc, pkg)))
      if (f !== 'copyright') rmSync(join(doc, pkg, f), { recursive: true, force: true });
}

export interface Debootstrap {
  /** Packages to extract (their dependencies come along). */
  readonly include: readonly string[];
  /** Output directory; must not exist yet. */
  readonly root: string;
  /** A directory of .deb files of this image only (parallel builds must not share one). */
  readonly debCache: string;
  /** Mirror arguments for mmdebstrap (debianSources()). */
  readonly sources: readonly string[];
  /** A scratch file for the package list apt resolved. */
  readonly scratch: string;
}

/** Runs mmdebstrap; returns the Debian packages in the root filesystem with their versions. */
export async function debootstrap(d: Debootstrap): Promise<Map<string, Package>> {
  mkdirSync(d.debCache, { recursive: true });
  const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  const args = [
    '--quiet',
    '--mode=root',
    '--variant=extract',
    // Nothing to mount: the extract variant runs nothing inside the tree.
    '--skip=chroot/mount',
    `--include=${d.include.join(',')}`,
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives"`,
    `--setup-hook=sync-in ${d.debCache} /var/cache/apt/archives/`,
    // The same resolution mmdebstrap's download made (same apt config, empty dpkg status):
    // which package at which version went in.
    `--extract-hook=APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get -s -qq install ${d.include.map(q).join(' ')} > ${q(d.scratch)}`,
    `--extract-hook=sync-out /var/cache/apt/archives ${d.debCache}`,
    SUITE,
    d.root,
    ...d.sources,
  ];
  await run('mmdebstrap', args, {
    install: 'apt-get install mmdebstrap (bash e2e/cluster/build-components.sh installs it)',
  });
  const versions = simulatedInstall(readFileSync(d.scratch, 'utf8'));
  if (versions.size === 0)
    throw new Error(`apt-get -s install ${d.include.join(' ')} listed no package (${d.scratch})`);
  // Keep in the cache only what this image uses now, so that it does not grow with every
  // Debian point release.
  const keep = new Set([...versions].map(([n, p]) => debFileName(n, p)));
  for (const f of readdirSync(d.debCache))
    if (f.endsWith('.deb') && !keep.has(f)) rmSync(join(d.debCache, f));
  return versions;
}

/** apt's file name for a package in /var/cache/apt/archives (`:` of an epoch as `%3a`). */
export function debFileName(name: string, p: Package): string {
  return `${name}_${p.version.replace(':', '%3a')}_${p.arch}.deb`;
}
