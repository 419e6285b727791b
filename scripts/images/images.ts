// The images `make images` builds: nicpool's own, the two the tutorial's manifests name
// (`image: busybox`, `image: nginx`, IfNotPresent), and the pod sandbox's pause. Each is a
// list of Debian packages (mmdebstrap, debian.ts) plus what stage() adds to the tree, and
// how its containers run. Names are the fully qualified ones CRI resolves the manifests' to.
import { IMAGE } from '@nicpool/manifests';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { qualify, type RunConfig } from './oci.ts';
import { checkBuilt, runtimeModules, stageNicpool } from './nicpool.ts';
import { run } from './run.ts';

export type ImageKey = 'nicpool' | 'busybox' | 'nginx' | 'pause';
export const IMAGE_KEYS: readonly ImageKey[] = ['nicpool', 'busybox', 'nginx', 'pause'];

export interface StageContext {
  readonly repo: string;
  /**
   * The image's root filesystem, once the Debian packages are in it: a promise, so that a
   * stage can do its own slow work (npm ci) while mmdebstrap runs.
   */
  readonly tree: Promise<string>;
  /** `<cache>/images`, outside the repository. */
  readonly cache: string;
  /** A scratch directory of this image's build. */
  readonly scratch: string;
  readonly log: (line: string) => void;
}

export interface ImageDef {
  readonly key: ImageKey;
  readonly name: string;
  /** File name under dist/images/. */
  readonly file: string;
  /** Debian packages to extract (with their dependencies); empty for none. */
  readonly debian: readonly string[];
  readonly run: Omit<RunConfig, 'labels'>;
  /** Adds the image's own files to the tree; returns labels to record. */
  stage(ctx: StageContext): Promise<Record<string, string>>;
}

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The image's PATH as a list (layout.ts looks programs up in it). */
export function pathOf(def: ImageDef): string[] {
  const p = def.run.env.find((e) => e.startsWith('PATH='));
  return p === undefined ? [] : p.slice('PATH='.length).split(':');
}

/**
 * Copies the image's own files, scripts/images/rootfs/<key>/ (its /etc/passwd, /etc/group,
 * nsswitch.conf; nginx's site), into the tree: files 0644 (0755 if executable in git), directories
 * 0755, whatever the umask of the checkout. deploy/images/Containerfile copies the same files.
 */
export function copyOverlay(repo: string, key: ImageKey, root: string): void {
  const walk = (from: string, to: string): void => {
    mkdirSync(to, { recursive: true });
    chmodSync(to, 0o755);
    for (const e of readdirSync(from, { withFileTypes: true })) {
      const [src, dst] = [join(from, e.name), join(to, e.name)];
      if (e.isDirectory()) walk(src, dst);
      else {
        copyFileSync(src, dst);
        chmodSync(dst, statSync(src).mode & 0o100 ? 0o755 : 0o644);
      }
    }
  };
  const overlay = join(repo, 'scripts', 'images', 'rootfs', key);
  if (existsSync(overlay)) walk(overlay, root);
}

/** /tmp (1777) and /run, which programs expect and the extract variant may lack. */
function baseDirs(root: string): void {
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  mkdirSync(join(root, 'run'), { recursive: true, mode: 0o755 });
}

const NONROOT = 65532;

const nicpool: ImageDef = {
  key: 'nicpool',
  name: qualify(IMAGE),
  file: 'nicpool.oci.tar',
  // Node's libraries, and dash + coreutils only for the allocator DaemonSet's init container,
  // which installs the CNI plugins with `sh -c "cp … && mv …"` (deploy/allocator/daemonset.yaml).
  debian: ['libc6', 'libstdc++6', 'libgcc-s1', 'dash', 'coreutils'],
  run: {
    // The webhook and controller run as 65532 (deploy/); the allocator's pod sets runAsUser 0.
    user: String(NONROOT),
    env: [PATH, 'NODE_ENV=production'],
    cmd: ['node'],
    workingDir: '/app',
  },
  async stage(ctx) {
    checkBuilt(ctx.repo);
    const modules = runtimeModules(ctx.repo, join(ctx.cache, 'npm'), ctx.scratch, ctx.log);
    // Not rejected unobserved if the Debian tree fails first.
    modules.catch(() => undefined);
    const root = await ctx.tree;
    copyOverlay(ctx.repo, 'nicpool', root);
    baseDirs(root);
    return stageNicpool(ctx.repo, root, await modules);
  },
};

const busybox: ImageDef = {
  key: 'busybox',
  name: qualify('busybox'),
  file: 'busybox.oci.tar',
  // The tutorial's pods run `/bin/sh -c "trap : TERM INT; sleep infinity & wait"`; the
  // tutorial execs `ip a`, `ip rule show`, `ip r show main`, `ip r show table 100` in them.
  debian: ['busybox-static'],
  run: { env: [PATH], cmd: ['sh'] },
  async stage(ctx) {
    const root = await ctx.tree;
    const busyboxBin = join(root, 'bin', 'busybox');
    const list = await run(busyboxBin, ['--list-full'], { install: 'the busybox-static package' });
    // An applet link for each program busybox has, where Debian's busybox --install puts it.
    for (const applet of list.split('\n').filter(Boolean).sort()) {
      const at = join(root, applet);
      if (existsSync(at)) continue;
      mkdirSync(dirname(at), { recursive: true });
      symlinkSync('/bin/busybox', at);
    }
    copyOverlay(ctx.repo, 'busybox', root);
    baseDirs(root);
    return {
      'org.opencontainers.image.title': 'busybox',
      'org.opencontainers.image.description':
        "Debian's busybox-static with its applet links (sh, sleep, ip, …), for the tutorial's pods",
    };
  },
};

const nginx: ImageDef = {
  key: 'nginx',
  name: qualify('nginx'),
  file: 'nginx.oci.tar',
  // iproute2: the tutorial execs `ip a`, `ip rule show`, `ip route show table 100` in the nginx pod.
  debian: ['nginx', 'iproute2'],
  run: {
    env: [PATH],
    cmd: ['nginx', '-g', 'daemon off;'],
    exposedPorts: ['80/tcp'],
    // nginx's graceful stop, as the Docker Official Image sets it.
    stopSignal: 'SIGQUIT',
  },
  async stage(ctx) {
    const root = await ctx.tree;
    // The site on :80 (rootfs/nginx/etc/nginx/conf.d/default.conf), and the logs on the
    // container's output, as the Docker Official Image has them.
    copyOverlay(ctx.repo, 'nginx', root);
    const logs = join(root, 'var', 'log', 'nginx');
    mkdirSync(logs, { recursive: true });
    symlinkSync('/dev/stdout', join(logs, 'access.log'));
    symlinkSync('/dev/stderr', join(logs, 'error.log'));
    mkdirSync(join(root, 'var', 'lib', 'nginx'), { recursive: true });
    baseDirs(root);
    return {
      'org.opencontainers.image.title': 'nginx',
      'org.opencontainers.image.description':
        "Debian's nginx on :80 (nginx -g 'daemon off;', logs to stdout/stderr) and iproute2, for the tutorial's test-app",
    };
  },
};

const pause: ImageDef = {
  key: 'pause',
  name: 'nicpool.local/pause:3.10',
  file: 'pause.oci.tar',
  debian: [],
  run: { user: '65535:65535', env: [PATH], entrypoint: ['/pause'] },
  async stage(ctx) {
    const root = await ctx.tree;
    const out = join(root, 'pause');
    mkdirSync(root, { recursive: true });
    await run(
      'gcc',
      ['-Os', '-static', '-s', '-o', out, join(ctx.repo, 'scripts', 'images', 'pause.c')],
      { install: 'apt-get install gcc libc6-dev' },
    );
    chmodSync(out, 0o755);
    const gcc = (await run('gcc', ['--version'], { install: 'apt-get install gcc' })).split(
      '\n',
    )[0];
    return {
      'org.opencontainers.image.title': 'pause',
      'org.opencontainers.image.description':
        "The pod sandbox's process, after Kubernetes' build/pause/linux/pause.c (scripts/images/pause.c)",
      'nicpool.gcc.version': gcc ?? '',
    };
  },
};

export const IMAGES: Readonly<Record<ImageKey, ImageDef>> = { nicpool, busybox, nginx, pause };
