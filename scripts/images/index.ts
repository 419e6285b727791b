// `make images`: nicpool's image, the tutorial's busybox and nginx, and the sandbox's pause,
// each an OCI image-layout archive in dist/images/ that `ctr -n k8s.io images import` takes,
// built without a registry or a container engine (docs/images.md). The same inputs give the
// same digests. buildImages() is what the Makefile's CLI and a test harness call.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { writeArchive, writeLayer } from './archive.ts';
import {
  DEFAULT_SOURCES,
  debianSources,
  debootstrap,
  hostSources,
  SUITE,
  trimRootfs,
} from './debian.ts';
import { IMAGE_KEYS, IMAGES, pathOf, type ImageDef, type ImageKey } from './images.ts';
import { deployCommands, existsInRoot, missingFor } from './layout.ts';
import { parseReference, qualify } from './oci.ts';

export { IMAGE_KEYS, IMAGES, type ImageKey } from './images.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const OUT_DIR = join(REPO, 'dist', 'images');

export interface BuildOptions {
  /** Which images (default: all four). */
  readonly only?: readonly ImageKey[];
  /** Output directory (default dist/images/). */
  readonly outDir?: string;
  /** The project's component cache (default ~/.cache/nicpool; the CLI passes $NICPOOL_CACHE); images use <cache>/images. */
  readonly cacheDir?: string;
  /** gzip the layers (smaller archives, slower builds); default uncompressed. */
  readonly gzip?: boolean;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface BuiltImage {
  readonly key: ImageKey;
  /** Fully qualified name, as `ctr images import` names it and CRI resolves the manifests' short one. */
  readonly name: string;
  /** Absolute path of the `*.oci.tar`. */
  readonly archive: string;
  /** The manifest digest (`ctr images ls`, the pod's imageID). */
  readonly digest: string;
  /** Bytes of the archive. */
  readonly size: number;
  /** sha256 of the archive file. */
  readonly sha256: string;
  /** Debian package → version in the image. */
  readonly packages: Readonly<Record<string, string>>;
}

/** Where a built image's archive is (whether built yet or not). */
export function archivePath(key: ImageKey, outDir: string = OUT_DIR): string {
  return join(outDir, IMAGES[key].file);
}

const stamp = (): string => new Date().toISOString().slice(11, 19);
const stderrLog = (line: string): void => {
  process.stderr.write(`[images ${stamp()}] ${line}\n`);
};
const secs = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** Removes a scratch tree; unmounts first whatever is mounted inside it, never crosses into a mount. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  const mountsUnder = (): string[] =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m === dir || m.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
  // mmdebstrap runs with --skip=chroot/mount; this is for a tool killed mid-way all the same.
  for (const m of mountsUnder()) execFileSync('umount', ['--lazy', m]);
  const left = mountsUnder();
  if (left.length > 0) throw new Error(`not removing ${dir}: still mounted ${left.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Commands of deploy/'s and the tutorial's workloads, to check each image against. Plain
 * YAML only: deploy/helm holds templates, rendered by the chart's own tests.
 */
function workloadCommands(repo: string): ReturnType<typeof deployCommands> {
  const texts: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'helm') walk(p);
      } else if (/\.ya?ml$/.test(e.name)) texts.push(readFileSync(p, 'utf8'));
    }
  };
  for (const d of ['deploy', join('e2e', 'fixtures', 'tutorial')])
    if (existsSync(join(repo, d))) walk(join(repo, d));
  return deployCommands(texts);
}

async function buildOne(
  def: ImageDef,
  o: { repo: string; out: string; cache: string; work: string; gzip: boolean; sources: string[] },
  log: (line: string) => void,
): Promise<BuiltImage> {
  const say = (l: string): void => log(`${def.key}: ${l}`);
  const t0 = Date.now();
  const scratch = join(o.work, def.key);
  const root = join(scratch, 'rootfs');
  mkdirSync(scratch, { recursive: true });
  const tree = (async () => {
    if (def.debian.length === 0) {
      mkdirSync(root);
      return new Map<string, { version: string }>();
    }
    const t = Date.now();
    say(`Debian ${SUITE} packages: mmdebstrap --variant=extract --include=${def.debian.join(',')}`);
    const found = await debootstrap({
      include: def.debian,
      root,
      debCache: join(o.cache, 'debs', def.key),
      sources: o.sources,
      scratch: join(scratch, 'apt-simulate.txt'),
    });
    trimRootfs(root);
    say(`${found.size} packages extracted (${secs(t)})`);
    return found;
  })();
  let labels: Record<string, string>;
  try {
    labels = await def.stage({
      repo: o.repo,
      tree: tree.then(() => root),
      cache: o.cache,
      scratch,
      log: say,
    });
  } catch (e) {
    // Failed before the tree was done: let mmdebstrap finish before the scratch tree goes.
    await tree.catch(() => undefined);
    throw e;
  }
  const packages = await tree;

  const path = pathOf(def);
  const problems = workloadCommands(o.repo)
    .filter((c) => c.image !== '' && qualify(c.image) === def.name)
    .flatMap((c) =>
      missingFor(
        c,
        { path, entrypoint: [...(def.run.entrypoint ?? []), ...(def.run.cmd ?? [])] },
        (p) => existsInRoot(root, p),
      ),
    );
  if (problems.length > 0)
    throw new Error(`${def.name} cannot run what the manifests ask:\n  ${problems.join('\n  ')}`);

  const t = Date.now();
  const layerPath = join(scratch, 'layer.tar');
  const layer = await writeLayer(root, layerPath, o.gzip);
  const { tag } = parseReference(def.name);
  const archive = await writeArchive(
    {
      name: def.name,
      run: {
        ...def.run,
        labels: {
          'org.opencontainers.image.version': tag,
          ...labels,
          ...(packages.size > 0 && {
            'nicpool.debian.suite': SUITE,
            'nicpool.debian.packages': [...packages].map(([n, p]) => `${n}=${p.version}`).join(' '),
          }),
        },
      },
    },
    layer,
    layerPath,
    join(scratch, 'oci'),
    join(o.out, def.file),
  );
  say(
    `${relative(process.cwd(), archive.path)} ${(archive.size / 2 ** 20).toFixed(1)} MiB, ${archive.digest} (layer ${secs(t)}, total ${secs(t0)})`,
  );
  removeTree(scratch);
  return {
    key: def.key,
    name: def.name,
    archive: archive.path,
    digest: archive.digest,
    size: archive.size,
    sha256: archive.sha256,
    packages: Object.fromEntries([...packages].map(([n, p]) => [n, p.version])),
  };
}

/**
 * Builds the images (all four by default) into dist/images/ and writes
 * dist/images/manifest.json. Needs root (mmdebstrap), mmdebstrap, GNU tar, npm, gcc, strip,
 * and `make build` output. Progress on stderr (or `log`); the scratch tree goes on failure too.
 */
export async function buildImages(options: BuildOptions = {}): Promise<BuiltImage[]> {
  const log = options.log ?? stderrLog;
  const out = options.outDir ?? OUT_DIR;
  const cache = join(options.cacheDir ?? join(homedir(), '.cache', 'nicpool'), 'images');
  const keys = options.only ?? IMAGE_KEYS;
  if (process.getuid?.() !== 0)
    throw new Error(
      'make images needs root (mmdebstrap --mode=root writes files owned by other users)',
    );
  mkdirSync(out, { recursive: true });
  // Scratch trees of builds that were killed before they could clean up.
  for (const e of readdirSync(out))
    if (/^\.work-\d+$/.test(e) && !alive(Number(e.slice(6)))) removeTree(join(out, e));
  const work = join(out, `.work-${process.pid}`);
  const found = debianSources(hostSources());
  const sources = found.length > 0 ? found : [...DEFAULT_SOURCES];
  const t0 = Date.now();
  log(
    `building ${keys.join(', ')} (cache ${cache}; Debian from ${sources.map((s) => s.split(' ').slice(-3, -1).join(' ')).join(', ')})`,
  );
  const o = { repo: REPO, out, cache, work, gzip: options.gzip ?? false, sources };
  try {
    // All at once: mmdebstrap waits on the network, tar on the disk. Settled, not all(): the
    // scratch tree goes only once no build is still writing into it.
    const results = await Promise.allSettled(keys.map((k) => buildOne(IMAGES[k], o, log)));
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${keys[i]}: ${(r.reason as Error).message}`] : [],
    );
    if (failed.length > 0) throw new Error(failed.join('\n'));
    const built = results.map((r) => (r as PromiseFulfilledResult<BuiltImage>).value);
    writeManifest(out, built);
    log(`done in ${secs(t0)}: ${relative(process.cwd(), join(out, 'manifest.json'))}`);
    return built;
  } finally {
    try {
      removeTree(work);
    } catch (e) {
      log(`could not remove ${work}: ${(e as Error).message}`);
    }
  }
}

/** dist/images/manifest.json: this build's images, and earlier ones whose archive is still there. */
function writeManifest(out: string, built: readonly BuiltImage[]): void {
  const file = join(out, 'manifest.json');
  const previous: BuiltImage[] = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { images: BuiltImage[] }).images
    : [];
  const byKey = new Map<string, unknown>();
  for (const p of previous)
    if (existsSync(join(out, p.archive)) && IMAGE_KEYS.includes(p.key)) byKey.set(p.key, p);
  for (const b of built) byKey.set(b.key, { ...b, archive: relative(out, b.archive) });
  const images = IMAGE_KEYS.filter((k) => byKey.has(k)).map((k) => byKey.get(k));
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ images }, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Reads dist/images/manifest.json (archive paths made absolute); undefined when absent. */
export function readManifest(outDir: string = OUT_DIR): BuiltImage[] | undefined {
  const file = join(outDir, 'manifest.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { images: BuiltImage[] }).images.map((i) => ({
    ...i,
    archive: join(outDir, i.archive),
  }));
}
