// The /app tree of the nicpool image and its Node: what deploy/ runs (`node
// /app/apps/<component>/dist/main.js`, the init container's `cp /app/apps/cni-*/dist/…`),
// the runtime npm packages the bundles keep external, and the repository's Node 24.
// deploy/images/Containerfile builds the same tree for users with a container engine.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { missingPackages } from './layout.ts';
import { run } from './run.ts';

/** The bundles and executables `make build` writes, as the image holds them under /app. */
export const APP_FILES = [
  'apps/webhook/dist/main.js',
  'apps/webhook/dist/main.js.map',
  'apps/allocator/dist/main.js',
  'apps/allocator/dist/main.js.map',
  'apps/controller/dist/main.js',
  'apps/controller/dist/main.js.map',
  'apps/cni-shim/dist/spiderpool',
  'apps/cni-veth/dist/veth',
] as const;
const EXECUTABLES = new Set<string>(['apps/cni-shim/dist/spiderpool', 'apps/cni-veth/dist/veth']);
const BUNDLES = APP_FILES.filter((f) => f.endsWith('main.js'));

/** Where the image's Node is: on the PATH, for deploy/'s `command: [node, …]`. */
export const NODE_PATH = '/usr/local/bin/node';

/**
 * What `npm ci --omit=dev` installs that nothing runs: type declarations and the source maps
 * of dependencies (they point at sources not shipped; the apps' own maps stay, for
 * `NODE_OPTIONS=--enable-source-maps`), and the workspace links (the bundles inline libs/*;
 * layout.ts checks that they import no `@nicpool/` package). About 30 MB of client-node.
 */
export const PRUNE = {
  suffixes: ['.map', '.d.ts', '.d.mts', '.d.cts'],
  directories: ['@types'],
  workspaceScope: '@nicpool',
} as const;

/** The package.json files `npm ci` needs: the root and every workspace. */
function manifests(repo: string): string[] {
  const out = ['package.json', 'package-lock.json'];
  for (const ws of ['apps', 'libs'])
    for (const d of readdirSync(join(repo, ws)).sort())
      if (existsSync(join(repo, ws, d, 'package.json'))) out.push(`${ws}/${d}/package.json`);
  return out;
}

function prune(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if ((PRUNE.directories as readonly string[]).includes(e.name)) rmSync(p, { recursive: true });
      else prune(p);
    } else if (PRUNE.suffixes.some((s) => e.name.endsWith(s))) rmSync(p);
  }
}

export interface RuntimeModules {
  /** A node_modules directory in the cache, never modified once there. */
  readonly dir: string;
  /** The npm version that made it. */
  readonly npm: string;
}

/**
 * The runtime node_modules for this package-lock.json, from the cache or made now:
 * `npm ci --omit=dev --ignore-scripts` in a copy of the package.json files, then pruned.
 */
export async function runtimeModules(
  repo: string,
  cache: string,
  scratch: string,
  log: (l: string) => void,
): Promise<RuntimeModules> {
  const npm = (await run('npm', ['--version'], { install: 'apt-get install npm' })).trim();
  const files = manifests(repo);
  const key = createHash('sha256');
  key.update(`npm ${npm}\nprune ${JSON.stringify(PRUNE)}\n`);
  for (const f of files) key.update(`${f}\n`).update(readFileSync(join(repo, f)));
  const dir = join(cache, `node_modules-${key.digest('hex').slice(0, 16)}`);
  if (existsSync(dir)) return { dir, npm };
  log(`npm ci --omit=dev --ignore-scripts (runtime packages of package-lock.json) → ${dir}`);
  const stage = join(scratch, 'npm');
  for (const f of files) {
    mkdirSync(dirname(join(stage, f)), { recursive: true });
    copyFileSync(join(repo, f), join(stage, f));
  }
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: stage,
    env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' },
    install: 'apt-get install npm',
  });
  const modules = join(stage, 'node_modules');
  rmSync(join(modules, PRUNE.workspaceScope), { recursive: true, force: true });
  prune(modules);
  mkdirSync(cache, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  renameSync(modules, tmp);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // Another build made the same one meanwhile: same lock file, same tree.
    if (!existsSync(dir)) throw e;
    rmSync(tmp, { recursive: true, force: true });
  }
  return { dir, npm };
}

/** Throws, naming the command that makes them, unless `make build`'s output and Node are there. */
export function checkBuilt(repo: string): void {
  const missing = APP_FILES.filter((f) => !existsSync(join(repo, f)));
  if (missing.length > 0)
    throw new Error(
      `${missing.join(', ')} missing: build the apps first (make build, or node_modules/.bin/node scripts/build.ts)`,
    );
  const node = join(repo, 'node_modules', '.bin', 'node');
  if (!existsSync(node))
    throw new Error(`${node} is missing: make install (npm ci) brings the pinned Node 24`);
}

/** Populates `root` (a Debian tree) with Node and /app; returns the image's labels. */
export async function stageNicpool(
  repo: string,
  root: string,
  modules: RuntimeModules,
): Promise<Record<string, string>> {
  checkBuilt(repo);
  const node = join(repo, 'node_modules', '.bin', 'node');

  const app = join(root, 'app');
  mkdirSync(app, { recursive: true });
  // Hard links from the cache: no copy of 100 MB (tar sees one link of each file in the
  // tree, so it stores plain files); a copy when the cache is on another file system.
  const into = join(app, 'node_modules');
  await run('cp', ['-al', modules.dir, into], { install: 'apt-get install coreutils' }).catch(
    async () => {
      rmSync(into, { recursive: true, force: true });
      await run('cp', ['-a', modules.dir, into], { install: 'apt-get install coreutils' });
    },
  );
  for (const f of ['package.json', ...APP_FILES]) {
    const to = join(app, f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(repo, f), to);
    // Modes from the code, not from whoever's umask checked the repository out.
    chmodSync(to, EXECUTABLES.has(f) ? 0o755 : 0o644);
  }
  for (const b of BUNDLES) {
    const absent = missingPackages(readFileSync(join(repo, b), 'utf8'), join(app, 'node_modules'));
    if (absent.length > 0)
      throw new Error(`${b} imports ${absent.join(', ')}, which the runtime node_modules lacks`);
  }

  // Stripped: 126 → 108 MB, and Node runs the same (no SEA is made from this copy).
  const nodeOut = join(root, NODE_PATH);
  mkdirSync(dirname(nodeOut), { recursive: true });
  await run('strip', ['--strip-all', '-o', nodeOut, realpathSync(node)], {
    install: 'apt-get install binutils',
  });
  chmodSync(nodeOut, 0o755);
  const nodeVersion = (await run(node, ['--version'], { install: 'make install' })).trim();
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { license?: string };
  return {
    'org.opencontainers.image.title': 'nicpool',
    'org.opencontainers.image.description':
      'nicpool webhook, controller and allocator (node /app/apps/<component>/dist/main.js), and the CNI plugins spiderpool and veth the allocator installs',
    ...(pkg.license !== undefined && { 'org.opencontainers.image.licenses': pkg.license }),
    'nicpool.node.version': nodeVersion,
    'nicpool.npm.version': modules.npm,
  };
}
