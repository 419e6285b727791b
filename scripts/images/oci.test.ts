// The OCI documents are a pure function of the spec and the layer: the same input gives the
// same bytes and digests, and the documents point at each other the way an importer reads them.
import { describe, expect, it } from '@jest/globals';
import {
  CONTAINERD_NAME,
  imageDocuments,
  MEDIA,
  OCI_REF_NAME,
  parseReference,
  qualify,
  sha256,
  type ImageSpec,
  type Layer,
} from './oci.ts';

const layer = (): Layer => ({
  mediaType: MEDIA.layer,
  digest: sha256('layer'),
  diffId: sha256('layer'),
  size: 5,
});

const spec = (labels: Record<string, string> = { b: '2', a: '1' }): ImageSpec => ({
  name: 'docker.io/library/busybox:latest',
  run: { env: ['PATH=/bin'], cmd: ['sh'], labels },
});

describe('imageDocuments', () => {
  it('gives the same bytes for the same input, whatever order the labels came in', () => {
    const a = imageDocuments(spec({ b: '2', a: '1' }), layer());
    const b = imageDocuments(spec({ a: '1', b: '2' }), layer());
    expect(b.config.equals(a.config)).toBe(true);
    expect(b.manifest.equals(a.manifest)).toBe(true);
    expect(b.index.equals(a.index)).toBe(true);
    expect(b.digest).toBe(a.digest);
  });

  it('keeps its digest across versions of this code (a change here is a new image)', () => {
    expect(imageDocuments(spec(), layer()).digest).toBe(
      'sha256:8d96e6531ed1a565ea55d79d2571f5a13ac3cdd481b8d13186a807a033be694c',
    );
  });

  it('changes the digest when the layer or the run config changes', () => {
    const base = imageDocuments(spec(), layer()).digest;
    expect(imageDocuments(spec(), { ...layer(), digest: sha256('other') }).digest).not.toBe(base);
    expect(imageDocuments(spec({ a: '1' }), layer()).digest).not.toBe(base);
  });

  it('links index → manifest → config and layer by digest and size', () => {
    const docs = imageDocuments(spec(), layer());
    const index = JSON.parse(docs.index.toString()) as {
      manifests: { mediaType: string; digest: string; size: number; annotations: object }[];
    };
    const manifest = JSON.parse(docs.manifest.toString()) as {
      config: { digest: string; size: number; mediaType: string };
      layers: { digest: string; size: number; mediaType: string }[];
    };
    const config = JSON.parse(docs.config.toString()) as {
      rootfs: { diff_ids: string[] };
      config: { Labels: Record<string, string>; Cmd: string[]; Env: string[] };
      created: string;
    };
    expect(index.manifests).toEqual([
      {
        mediaType: MEDIA.manifest,
        digest: sha256(docs.manifest),
        size: docs.manifest.length,
        annotations: {
          [CONTAINERD_NAME]: 'docker.io/library/busybox:latest',
          [OCI_REF_NAME]: 'latest',
        },
      },
    ]);
    expect(docs.digest).toBe(sha256(docs.manifest));
    expect(manifest.config).toEqual({
      mediaType: MEDIA.config,
      digest: sha256(docs.config),
      size: docs.config.length,
    });
    expect(manifest.layers).toEqual([{ mediaType: MEDIA.layer, digest: layer().digest, size: 5 }]);
    expect(config.rootfs.diff_ids).toEqual([layer().diffId]);
    expect(Object.keys(config.config.Labels)).toEqual(['a', 'b']);
    expect(config.config.Cmd).toEqual(['sh']);
    expect(config.created).toBe('1970-01-01T00:00:00Z');
    expect(docs.blobs.map((b) => b.digest)).toEqual([sha256(docs.config), sha256(docs.manifest)]);
    expect(JSON.parse(docs.layout.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
  });

  it('writes only the run fields that are set', () => {
    const docs = imageDocuments(
      {
        name: 'nicpool.local/pause:3.10',
        run: {
          user: '65535:65535',
          env: [],
          entrypoint: ['/pause'],
          exposedPorts: ['80/tcp'],
          stopSignal: 'SIGQUIT',
          labels: {},
        },
      },
      layer(),
    );
    expect((JSON.parse(docs.config.toString()) as { config: unknown }).config).toEqual({
      User: '65535:65535',
      ExposedPorts: { '80/tcp': {} },
      Env: [],
      Entrypoint: ['/pause'],
      Labels: {},
      StopSignal: 'SIGQUIT',
    });
  });

  it('refuses a short name: archives are imported by their exact name', () => {
    expect(() => imageDocuments({ ...spec(), name: 'busybox' }, layer())).toThrow(
      /not registry\/repository:tag/,
    );
  });
});

describe('references', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nicpool:0.1.0', 'docker.io/library/nicpool:0.1.0'],
    ['someone/tool:1', 'docker.io/someone/tool:1'],
    ['nicpool.local/pause:3.10', 'nicpool.local/pause:3.10'],
    ['localhost/x', 'localhost/x:latest'],
    ['registry:5000/x', 'registry:5000/x:latest'],
  ])('qualify(%s) = %s, as CRI resolves it', (short, full) => {
    expect(qualify(short)).toBe(full);
  });

  it('splits repository and tag', () => {
    expect(parseReference('docker.io/library/nicpool:0.1.0')).toEqual({
      repository: 'docker.io/library/nicpool',
      tag: '0.1.0',
    });
    expect(() => parseReference('docker.io/library/nicpool')).toThrow();
  });
});
