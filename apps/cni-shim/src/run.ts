/**
 * The CNI shim's logic, pure of process globals (cni.md): Multus execs the shim with the
 * CNI environment and the netconf on stdin; `run` makes one request to the allocator over
 * its Unix socket and returns what to print and the exit code. Standard library only,
 * plus the pool-name rule of @nicpool/annotations (pure, bundled).
 */
import { validateNetconfDefaultPools } from '@nicpool/annotations';
import type { AddRequest, AddResponse, DelRequest, GCRequest } from '@nicpool/wire';
import { DEFAULT_SOCKET_PATH, Paths } from '@nicpool/wire/codes';
import {
  CNIError,
  CNIErrorCode,
  convertResult,
  NOTHING,
  output,
  parseCNIArgs,
  requireCheckVersion,
  requireEnv,
  runPlugin,
  validAttachments as validAttachmentsOf,
  type CNIEnv,
  type RunOutput,
  type Version,
} from '@nicpool/cni';
import { ALLOCATOR_TO_CNI } from './codes.ts';
import type { AllocatorClient, ClientReply } from './client.ts';

export interface RunInput {
  readonly env: CNIEnv;
  readonly stdin: string;
  readonly client: AllocatorClient;
  /**
   * How long ADD, DEL, CHECK and GC keep trying while the allocator is unreachable or not
   * ready (it restarts during an upgrade), before CNI 11. 0: answer at once.
   */
  readonly waitForAllocatorMs?: number;
}

interface IPAMConf {
  readonly type?: unknown;
  readonly default_ipv4_ippool?: unknown;
  readonly default_ipv6_ippool?: unknown;
  readonly clean_gateway?: unknown;
  readonly ipam_unix_socket_path?: unknown;
}

interface NetConf {
  readonly cniVersion?: unknown;
  readonly name?: unknown;
  readonly ipam?: IPAMConf;
  readonly 'cni.dev/valid-attachments'?: unknown;
  readonly 'cni.dev/attachments'?: unknown;
}

function stringList(conf: IPAMConf, field: keyof IPAMConf): string[] {
  const v = conf[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new CNIError(CNIErrorCode.invalidNetconf, `ipam.${field} must be an array of pool names`);
  }
  return v as string[];
}

function podArgs(env: RunInput['env']): { podNamespace: string; podName: string; podUID: string } {
  const args = parseCNIArgs(env['CNI_ARGS']);
  const podNamespace = args.get('K8S_POD_NAMESPACE') ?? '';
  const podName = args.get('K8S_POD_NAME') ?? '';
  if (podNamespace === '' || podName === '') {
    throw new CNIError(
      CNIErrorCode.invalidEnv,
      'CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME (nicpool serves Kubernetes pods)',
    );
  }
  return { podNamespace, podName, podUID: args.get('K8S_POD_UID') ?? '' };
}

/** Maps an allocator error reply to a CNI error through the one table. */
function fromReply(what: string, r: ClientReply): CNIError {
  const body = r.json as { code?: unknown; message?: unknown } | undefined;
  const code = typeof body?.code === 'string' ? body.code : '';
  // An empty message would leave the runtime's event saying nothing: say what came back.
  const message =
    typeof body?.message === 'string' && body.message !== ''
      ? body.message
      : `allocator answered HTTP ${r.status}${code === '' ? '' : ` ${code}`}`;
  const cni =
    ALLOCATOR_TO_CNI[code] ??
    (r.status >= 500 ? CNIErrorCode.tryAgainLater : CNIErrorCode.invalidNetconf);
  return new CNIError(cni, message, `${what}: allocator ${code || `HTTP ${r.status}`}`);
}

const notReady = (r: ClientReply): boolean =>
  r.status === 503 && (r.json as { code?: unknown } | undefined)?.code === 'NOT_READY';

/**
 * One call to the allocator. While it is unreachable or not ready, tries again with a
 * doubling pause (100 ms up to 1 s) within `waitMs`; then the last answer stands.
 */
async function request(
  client: AllocatorClient,
  socket: string,
  method: string,
  path: string,
  body: unknown,
  what: string,
  waitMs: number,
): Promise<ClientReply> {
  const deadline = Date.now() + waitMs;
  for (let pause = 100; ; pause = Math.min(pause * 2, 1000)) {
    const canWait = Date.now() + pause <= deadline;
    try {
      const r = await client.request(socket, method, path, body);
      if (!notReady(r) || !canWait) return r;
    } catch (e) {
      if (!canWait)
        throw new CNIError(
          CNIErrorCode.tryAgainLater,
          `nicpool allocator unreachable at ${socket}`,
          `${what}: ${e instanceof Error ? e.message : String(e)}`,
        );
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}

/** The IPAM result in the netconf's version. */
function ipamResult(version: Version, r: AddResponse): unknown {
  return convertResult(
    {
      ips: r.ips.map((ip) => ({
        address: ip.address,
        ...(ip.gateway === undefined ? {} : { gateway: ip.gateway }),
      })),
      routes: r.routes.map((x) => ({ dst: x.dst, gw: x.gw })),
      dns: {},
    },
    version,
  );
}

async function dispatch(
  input: RunInput,
  command: string,
  version: Version,
  conf: NetConf,
): Promise<RunOutput> {
  const ipam = conf.ipam ?? {};
  const socketRaw = ipam.ipam_unix_socket_path;
  if (socketRaw !== undefined && typeof socketRaw !== 'string')
    throw new CNIError(CNIErrorCode.invalidNetconf, 'ipam.ipam_unix_socket_path must be a string');
  const socket = socketRaw === undefined || socketRaw === '' ? DEFAULT_SOCKET_PATH : socketRaw;
  const wait = input.waitForAllocatorMs ?? 0;
  const { client, env } = input;
  switch (command) {
    case 'ADD': {
      const e = requireEnv(env, 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME');
      const clean = ipam.clean_gateway;
      if (clean !== undefined && typeof clean !== 'boolean')
        throw new CNIError(CNIErrorCode.invalidNetconf, 'ipam.clean_gateway must be true or false');
      const defaults = {
        ipv4: stringList(ipam, 'default_ipv4_ippool'),
        ipv6: stringList(ipam, 'default_ipv6_ippool'),
      };
      // The rule the webhook applies to annotations: a NAD's broken pattern is reported
      // here, naming its field, instead of as an allocator error (review finding #1).
      const bad = validateNetconfDefaultPools(defaults);
      if (bad.length > 0) throw new CNIError(CNIErrorCode.invalidNetconf, bad.join('; '));
      const body: AddRequest = {
        containerID: e['CNI_CONTAINERID'],
        ifName: e['CNI_IFNAME'],
        netNamespace: e['CNI_NETNS'],
        ...podArgs(env),
        defaultIPv4IPPool: defaults.ipv4,
        defaultIPv6IPPool: defaults.ipv6,
        cleanGateway: clean ?? false,
      };
      const r = await request(client, socket, 'POST', Paths.ip, body, 'ADD', wait);
      if (r.status !== 200) throw fromReply('ADD', r);
      const reply = r.json as AddResponse | undefined;
      if (reply === undefined || !Array.isArray(reply.ips) || reply.ips.length === 0) {
        // Never succeed without a result.
        throw new CNIError(
          CNIErrorCode.tryAgainLater,
          'the allocator answered ADD without addresses',
          JSON.stringify(r.json),
        );
      }
      return output(ipamResult(version, reply));
    }
    case 'DEL': {
      const e = requireEnv(env, 'CNI_CONTAINERID', 'CNI_IFNAME');
      const body: DelRequest = {
        containerID: e['CNI_CONTAINERID'],
        ifName: e['CNI_IFNAME'],
        netNamespace: env['CNI_NETNS'] ?? '',
        ...podArgs(env),
      };
      const r = await request(client, socket, 'DELETE', Paths.ip, body, 'DEL', wait);
      if (r.status !== 200) throw fromReply('DEL', r);
      return NOTHING;
    }
    case 'CHECK': {
      requireCheckVersion(version);
      const e = requireEnv(env, 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME');
      const body: DelRequest = {
        containerID: e['CNI_CONTAINERID'],
        ifName: e['CNI_IFNAME'],
        netNamespace: e['CNI_NETNS'],
        ...podArgs(env),
      };
      const r = await request(client, socket, 'POST', Paths.check, body, 'CHECK', wait);
      if (r.status !== 200) throw fromReply('CHECK', r);
      return NOTHING;
    }
    case 'STATUS': {
      let r: ClientReply;
      try {
        r = await client.request(socket, 'GET', Paths.status, undefined);
      } catch (err) {
        throw new CNIError(
          CNIErrorCode.pluginNotAvailable,
          `nicpool allocator unreachable at ${socket}`,
          err instanceof Error ? err.message : String(err),
        );
      }
      const ready = (r.json as { ready?: unknown; message?: unknown } | undefined)?.ready === true;
      if (r.status !== 200 || !ready) {
        const msg = (r.json as { message?: unknown } | undefined)?.message;
        throw new CNIError(
          CNIErrorCode.pluginNotAvailable,
          typeof msg === 'string' && msg !== '' ? msg : 'nicpool allocator is not ready',
        );
      }
      return NOTHING;
    }
    case 'GC': {
      const validAttachments = [...validAttachmentsOf(conf).items];
      const body: GCRequest = { validAttachments };
      const r = await request(client, socket, 'POST', Paths.gc, body, 'GC', wait);
      if (r.status !== 200) throw fromReply('GC', r);
      return NOTHING;
    }
    default:
      throw new CNIError(CNIErrorCode.invalidEnv, `unknown CNI_COMMAND ${JSON.stringify(command)}`);
  }
}

export async function run(input: RunInput): Promise<RunOutput> {
  return runPlugin(
    input.env,
    input.stdin,
    (command, version, conf) => dispatch(input, command, version, conf),
    { code: CNIErrorCode.internal, msg: 'nicpool shim internal error' },
  );
}
