// The OCI image-layout documents of a one-layer image, as bytes: the image config, the
// manifest, index.json and oci-layout. Pure: the same spec and layer give the same bytes,
// hence the same digests (docs/images.md, "Reproducible"). archive.ts writes them with the
// layer into an `*.oci.tar` that `ctr images import` reads.
import { createHash } from 'node:crypto';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** The annotation containerd's importer names the image by (`ctr images import`). */
export const CONTAINERD_NAME = 'io.containerd.image.name';
/** The OCI annotation for the reference of a manifest in an index: the tag, as containerd exports it. */
export const OCI_REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The layer as archive.ts wrote it: `digest` of the blob, `diffId` of the uncompressed tar. */
export interface Layer {
  readonly mediaType: typeof MEDIA.layer | typeof MEDIA.layerGzip;
  readonly digest: string;
  readonly diffId: string;
  readonly size: number;
}

/** How a container of the image runs: the fields of the OCI config's `config` object. */
export interface RunConfig {
  readonly user?: string;
  readonly env: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly workingDir?: string;
  readonly exposedPorts?: readonly string[];
  readonly stopSignal?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ImageSpec {
  /** Fully qualified: `docker.io/library/nicpool:0.1.0`, what CRI resolves `nicpool:0.1.0` to. */
  readonly name: string;
  readonly run: RunConfig;
}

export interface ImageDocuments {
  readonly config: Buffer;
  readonly manifest: Buffer;
  readonly index: Buffer;
  readonly layout: Buffer;
  /** The manifest's digest: what `ctr images ls` and the kubelet show as the image's digest. */
  readonly digest: string;
  /** The blobs to store under blobs/sha256/ besides the layer (config, manifest). */
  readonly blobs: readonly { readonly digest: string; readonly bytes: Buffer }[];
}

/** A fixed creation time: the build time would make every build a new digest. */
const CREATED = '1970-01-01T00:00:00Z';
const ARCHITECTURE = 'amd64';
const OS = 'linux';

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function descriptor(mediaType: string, bytes: Buffer): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

/** JSON with keys in the order given, no whitespace: the bytes are the digest. */
function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** A record with its keys sorted, so that the order labels were written in does not matter. */
function sorted(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/**
 * Splits a fully qualified reference into repository and tag:
 * `docker.io/library/nginx:latest` → `{ repository: 'docker.io/library/nginx', tag: 'latest' }`.
 * Throws on a name without a registry or a tag: images here are imported by exact name.
 */
export function parseReference(name: string): { repository: string; tag: string } {
  const m = /^([a-z0-9.-]+(?::[0-9]+)?\/[a-z0-9._/-]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(
    name,
  );
  if (m === null || !m[1]!.split('/')[0]!.includes('.'))
    throw new Error(
      `image name ${JSON.stringify(name)} is not registry/repository:tag (e.g. docker.io/library/nginx:latest)`,
    );
  return { repository: m[1]!, tag: m[2]! };
}

/**
 * The fully qualified name a container runtime pulls for a manifest's `image:`, as
 * containerd's CRI resolves it: `busybox` → `docker.io/library/busybox:latest`,
 * `nicpool:0.1.0` → `docker.io/library/nicpool:0.1.0`; a name with a registry stays.
 */
export function qualify(image: string): string {
  const slash = image.indexOf('/');
  const first = slash < 0 ? '' : image.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  let name = hasRegistry ? image : `docker.io/${slash < 0 ? 'library/' : ''}${image}`;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !name.includes('@')) name += ':latest';
  return name;
}

/** The config, manifest, index.json and oci-layout of a one-layer image. */
export function imageDocuments(spec: ImageSpec, layer: Layer): ImageDocuments {
  const { tag } = parseReference(spec.name);
  const run = spec.run;
  const config = json({
    created: CREATED,
    architecture: ARCHITECTURE,
    os: OS,
    config: {
      ...(run.user !== undefined && { User: run.user }),
      ...(run.exposedPorts !== undefined && {
        ExposedPorts: Object.fromEntries([...run.exposedPorts].sort().map((p) => [p, {}])),
      }),
      Env: [...run.env],
      ...(run.entrypoint !== undefined && { Entrypoint: [...run.entrypoint] }),
      ...(run.cmd !== undefined && { Cmd: [...run.cmd] }),
      ...(run.workingDir !== undefined && { WorkingDir: run.workingDir }),
      Labels: sorted(run.labels),
      ...(run.stopSignal !== undefined && { StopSignal: run.stopSignal }),
    },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created: CREATED, created_by: 'nicpool scripts/images (make images)' }],
  });
  const configDescriptor = descriptor(MEDIA.config, config);
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: configDescriptor,
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
  });
  const manifestDescriptor = descriptor(MEDIA.manifest, manifest);
  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        ...manifestDescriptor,
        annotations: { [CONTAINERD_NAME]: spec.name, [OCI_REF_NAME]: tag },
      },
    ],
  });
  return {
    config,
    manifest,
    index,
    layout: json({ imageLayoutVersion: '1.0.0' }),
    digest: manifestDescriptor.digest,
    blobs: [
      { digest: configDescriptor.digest, bytes: config },
      { digest: manifestDescriptor.digest, bytes: manifest },
    ],
  };
}
