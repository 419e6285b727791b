// The image-versus-manifests check: deploy/'s real workloads read, their commands checked
// against a fake image, symlinks resolved inside the image, bundle imports found.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bundleImports,
  deployCommands,
  existsInRoot,
  missingFor,
  scriptCommands,
  type ContainerCommand,
} from './layout.ts';

const REPO = join(import.meta.dirname, '..', '..');
const read = (p: string): string => readFileSync(join(REPO, p), 'utf8');
const PATH = ['/usr/local/bin', '/usr/bin', '/bin'];

describe('deployCommands', () => {
  it("reads the allocator DaemonSet's init container and container", () => {
    const cs = deployCommands([read('deploy/allocator/daemonset.yaml')]);
    expect(cs.map((c) => c.where)).toEqual([
      'DaemonSet/nicpool-allocator initContainer install-cni-plugins',
      'DaemonSet/nicpool-allocator container allocator',
    ]);
    expect(cs[0]!.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(cs[0]!.mounts).toEqual(['/host/opt/cni/bin']);
    expect(cs[1]!.command).toEqual(['node', '/app/apps/allocator/dist/main.js']);
  });

  it('reads the tutorial Deployments, with and without command', () => {
    const cs = deployCommands([
      read('e2e/fixtures/tutorial/subnet-test-deploy.yaml'),
      read('e2e/fixtures/tutorial/ippool-test-deploy.yaml'),
    ]);
    expect(cs.map((c) => [c.image, c.command])).toEqual([
      ['nginx', []],
      ['busybox', ['/bin/sh', '-c', 'trap : TERM INT; sleep infinity & wait']],
    ]);
  });
});

describe('missingFor', () => {
  const has =
    (...paths: string[]) =>
    (p: string): boolean =>
      paths.includes(p);
  const init: ContainerCommand = {
    where: 'init',
    image: 'nicpool:0.1.0',
    command: ['sh', '-c', 'cp /app/x /host/bin/.x.new && mv -f /host/bin/.x.new /host/bin/x'],
    mounts: ['/host/bin'],
  };
  const image = { path: PATH, entrypoint: [] };

  it('passes when the programs and the /app files are there (the host mount is not the image)', () => {
    expect(missingFor(init, image, has('/bin/sh', '/bin/cp', '/bin/mv', '/app/x'))).toEqual([]);
  });

  it('names each missing program and file', () => {
    expect(missingFor(init, image, has('/app/x'))).toEqual([
      "init: sh is not on the image's PATH (/usr/local/bin:/usr/bin:/bin)",
      "init: cp is not on the image's PATH (/usr/local/bin:/usr/bin:/bin)",
      "init: mv is not on the image's PATH (/usr/local/bin:/usr/bin:/bin)",
    ]);
    expect(
      missingFor(
        { where: 'c', image: '', command: ['node', '/app/main.js'], mounts: [] },
        image,
        has('/usr/local/bin/node'),
      ),
    ).toEqual(['c: /app/main.js is not in the image']);
  });

  it("skips the shell's builtins and checks the image's own command when there is no command:", () => {
    const bb: ContainerCommand = {
      where: 'bb',
      image: 'busybox',
      command: ['/bin/sh', '-c', 'trap : TERM INT; sleep infinity & wait'],
      mounts: [],
    };
    expect(missingFor(bb, image, has('/bin/sh', '/bin/sleep'))).toEqual([]);
    const nginx: ContainerCommand = { where: 'n', image: 'nginx', command: [], mounts: [] };
    const nginxImage = { path: PATH, entrypoint: ['nginx', '-g', 'daemon off;'] };
    expect(missingFor(nginx, nginxImage, has('/usr/bin/nginx'))).toEqual([]);
    expect(missingFor(nginx, nginxImage, has())).toHaveLength(1);
    expect(missingFor(nginx, image, has())).toEqual([
      'n: no command, and the image has no default one',
    ]);
  });

  it('splits scripts at &&, ||, ;, | and &', () => {
    expect(scriptCommands('a 1 && b || c; d | e & f')).toEqual([
      ['a', '1'],
      ['b'],
      ['c'],
      ['d'],
      ['e'],
      ['f'],
    ]);
  });
});

describe('existsInRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'nicpool-layout-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(root, 'usr', 'bin', 'dash'), '');
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('dash', join(root, 'usr', 'bin', 'sh'));
  // Absolute: resolved inside the image, never on the host where /etc/passwd exists.
  symlinkSync('/etc/passwd', join(root, 'usr', 'bin', 'abs'));
  symlinkSync('/usr/bin/dash', join(root, 'usr', 'bin', 'abs-ok'));
  symlinkSync('loop', join(root, 'loop'));

  it.each([
    ['/bin/sh', true],
    ['/usr/bin/dash', true],
    ['/usr/bin/abs-ok', true],
    ['/usr/bin/abs', false],
    ['/bin/nope', false],
    ['/loop', false],
  ])('%s → %s', (p, expected) => {
    expect(existsInRoot(root, p)).toBe(expected);
  });
});

describe('bundleImports', () => {
  it('finds the bare imports of an esbuild ES module bundle, multi-line ones too', () => {
    const src = `// apps/x/src/main.ts
import { readFileSync } from "node:fs";
import Value from "typebox/value";
import {
  KubeConfig,
  CoreV1Api
} from "@kubernetes/client-node";
import "./local.js";
import * as forge from "node-forge";
import fs from "fs";
const s = "import x from 'nothing'";
`;
    expect(bundleImports(src)).toEqual(['@kubernetes/client-node', 'node-forge', 'typebox']);
  });

  it.each(['webhook', 'allocator', 'controller'])(
    'apps/%s/dist/main.js imports no workspace package (libs are bundled in)',
    (app) => {
      let src: string;
      try {
        src = read(`apps/${app}/dist/main.js`);
      } catch {
        return; // not built: make build
      }
      expect(bundleImports(src).filter((p) => p.startsWith('@nicpool/'))).toEqual([]);
    },
  );
});
