/**
 * The `veth` chained plugin (veth.md): ADD gives the pod a link to its node and the routes
 * and rules that send cluster traffic over it; DEL removes the node end; CHECK says what is
 * missing. Inputs are the netconf, prevResult and the kernel only (V4): no API, no socket.
 */
import {
  CNIError,
  CNIErrorCode,
  convertResult,
  NOTHING,
  output,
  requireCheckVersion,
  requireEnv,
  runPlugin,
  validAttachments,
  type CNIEnv,
  type CNIResult,
  type RunOutput,
  type Version,
} from '@nicpool/cni';
import type { IPFamily } from '@nicpool/ip';
import { parseVethConf, type VethConf } from './conf.ts';
import type { Kernel, Where } from './exec.ts';
import {
  hostLinkName,
  nicAddresses,
  planAdd,
  planCheck,
  planGC,
  type AddContext,
  type NICAddress,
  type NodeView,
  type PodView,
} from './plan.ts';
import {
  parseAddresses,
  parseLinks,
  parseRouteGet,
  parseRoutes,
  parseRules,
  type Route,
} from './state.ts';

export interface RunInput {
  readonly env: CNIEnv;
  readonly stdin: string;
  readonly kernel: Kernel;
  /** A random locally administered unicast MAC (injected so tests are deterministic). */
  readonly mac: () => string;
}

const NODE: Where = { netns: undefined };
/** Both go into `ip -batch` lines (the host link is named after the container ID). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** CNI_CONTAINERID and CNI_IFNAME as the CNI spec allows them, or code 4 naming the variable. */
function checkNames(e: Partial<Record<'CNI_CONTAINERID' | 'CNI_IFNAME', string>>): void {
  if (e.CNI_CONTAINERID !== undefined && !CONTAINER_ID.test(e.CNI_CONTAINERID))
    throw new CNIError(
      CNIErrorCode.invalidEnv,
      `CNI_CONTAINERID ${JSON.stringify(e.CNI_CONTAINERID)} is not letters, digits, "_", "." and "-"`,
    );
  if (e.CNI_IFNAME !== undefined && !IFNAME.test(e.CNI_IFNAME))
    throw new CNIError(
      CNIErrorCode.invalidEnv,
      `CNI_IFNAME ${JSON.stringify(e.CNI_IFNAME)} is not an interface name (1–15 letters, digits, "_", "." or "-")`,
    );
}
const SYSCTL = '/proc/sys/net/ipv4/conf';

/** A random locally administered (bit 1) unicast (bit 0 clear) MAC. */
export function randomMAC(bytes: Uint8Array): string {
  const b = [...bytes.slice(0, 6)];
  b[0] = ((b[0] ?? 0) & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function chained(conf: VethConf): CNIResult {
  if (conf.prevResult === undefined)
    throw new CNIError(
      CNIErrorCode.invalidNetconf,
      'veth must be called as a chained plugin: the netconf has no prevResult ' +
        '(list veth after the interface plugin, e.g. macvlan, in the NAD\'s "plugins")',
    );
  return conf.prevResult;
}

function nicOf(result: CNIResult, ifName: string): NICAddress[] {
  const nic = nicAddresses(result, ifName);
  if (nic.length === 0)
    throw new CNIError(
      CNIErrorCode.invalidNetconf,
      `prevResult has no address for ${ifName}: veth routes the NIC's addresses, so the plugin before it must assign some`,
    );
  return nic;
}

/** Both namespaces' state, read in parallel: one ip process each (two in a dual-stack pod). */
async function observe(
  kernel: Kernel,
  netns: string,
  nic: readonly NICAddress[],
): Promise<{ node: NodeView; pod: PodView }> {
  const firstOf = new Map<IPFamily, string>();
  for (const a of nic) if (!firstOf.has(a.family)) firstOf.set(a.family, a.ip);
  const gets = [...firstOf];
  const pod: Where = { netns };
  const [n, p4, p6] = await Promise.all([
    // `route get` last: a failed line (no route) must not disturb the dumps before it.
    kernel.query(NODE, ['link show', 'addr show', ...gets.map(([, ip]) => `route get ${ip}`)]),
    kernel.query(pod, ['link show', 'rule show', 'route show table all'], 4),
    firstOf.has(6) ? kernel.query(pod, ['rule show', 'route show table all'], 6) : undefined,
  ]);
  const via: Partial<Record<IPFamily, string>> = {};
  gets.forEach(([family, ip], i) => {
    const src = parseRouteGet(n.outputs[2 + i], ip);
    if (src !== undefined) via[family] = src;
  });
  return {
    node: { links: parseLinks(n.outputs[0]), addresses: parseAddresses(n.outputs[1]), via },
    pod: {
      links: parseLinks(p4.outputs[0]),
      rules: [...parseRules(p4.outputs[1], 4), ...parseRules(p6?.outputs[0], 6)],
      routes: [...parseRoutes(p4.outputs[2], 4), ...parseRoutes(p6?.outputs[1], 6)],
    },
  };
}

/**
 * What ADD and CHECK start from: the CNI names, the netconf, the NIC's addresses in
 * prevResult, and both namespaces as they are now.
 */
async function attachment(
  input: RunInput,
  raw: Readonly<Record<string, unknown>>,
): Promise<AddContext & { readonly netns: string; readonly prev: CNIResult }> {
  const e = requireEnv(input.env, 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME');
  checkNames(e);
  const conf = parseVethConf(raw);
  const prev = chained(conf);
  const nic = nicOf(prev, e.CNI_IFNAME);
  const view = await observe(input.kernel, e.CNI_NETNS, nic);
  return {
    conf,
    prev,
    netns: e.CNI_NETNS,
    ifName: e.CNI_IFNAME,
    containerID: e.CNI_CONTAINERID,
    pid: input.kernel.pid,
    nic,
    ...view,
    mac: input.mac,
  };
}

async function add(
  input: RunInput,
  version: Version,
  raw: Readonly<Record<string, unknown>>,
): Promise<RunOutput> {
  const { kernel } = input;
  const ctx = await attachment(input, raw);
  const plan = planAdd(ctx);
  if (plan.removeStaleHostLink) await kernel.apply(NODE, [`link del ${plan.hostLink}`]);
  const podSide = (): Promise<void> =>
    kernel.apply({ netns: ctx.netns }, plan.pod, {
      ipv6: plan.podIPv6,
      rpFilter: plan.podRpFilter,
      lines6: plan.pod6,
    });
  // The pod's batch makes the node end; once it exists, both sides are independent.
  if (plan.createsLink) {
    await podSide();
    await kernel.apply(NODE, plan.node);
  } else await Promise.all([podSide(), kernel.apply(NODE, plan.node)]);
  if (plan.nodeRpFilter !== undefined && plan.node.length > 0) {
    kernel.writeSysctl(`${SYSCTL}/${plan.hostLink}/rp_filter`, String(plan.nodeRpFilter));
    // The effective value is the larger of `all` and the link's: strict `all` would still
    // drop the pod's replies from addresses of other NICs. Loose keeps the check.
    if (kernel.readSysctl(`${SYSCTL}/all/rp_filter`) === '1') {
      kernel.writeSysctl(`${SYSCTL}/all/rp_filter`, '2');
      kernel.log(
        'net.ipv4.conf.all.rp_filter was 1 (strict), which drops replies of pods with several NICs; set it to 2 (loose)',
      );
    }
  }
  // A17: what the plugin before it printed, in the netconf's version.
  return output(convertResult(ctx.prev, version));
}

/**
 * Deletes a node end. Gone already (DEL of the pod's other NIC, a repeated DEL, a netns torn
 * down, a DEL racing GC) is done; any other failure is said on stderr and never fails the
 * call: a teardown must not be kept from finishing by a link it cannot remove.
 */
async function deleteHostLink(kernel: Kernel, link: string, what: string): Promise<void> {
  try {
    await kernel.apply(NODE, [`link del ${link}`]);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (!/Cannot find device|does not exist/.test(msg))
      kernel.log(`${what}: could not delete ${link}: ${msg}`);
  }
}

async function del(input: RunInput): Promise<RunOutput> {
  // DEL reads nothing of the netconf beyond its version: a NAD edited since ADD must never
  // keep a pod from being torn down.
  const e = requireEnv(input.env, 'CNI_CONTAINERID');
  checkNames(e);
  await deleteHostLink(input.kernel, hostLinkName(e.CNI_CONTAINERID), 'DEL');
  return NOTHING;
}

async function check(
  input: RunInput,
  version: Version,
  raw: Readonly<Record<string, unknown>>,
): Promise<RunOutput> {
  requireCheckVersion(version);
  const ctx = await attachment(input, raw);
  const { nic, node } = ctx;
  const hostLink = hostLinkName(ctx.containerID);
  let nodeRoutes: Route[] = [];
  if (node.links.some((l) => l.ifname === hostLink)) {
    const r = await input.kernel.query(NODE, [`route show dev ${hostLink}`], 4);
    nodeRoutes = parseRoutes(r.outputs[0], 4).map((x) => ({ ...x, dev: hostLink }));
    if (nic.some((a) => a.family === 6)) {
      const r6 = await input.kernel.query(NODE, [`route show dev ${hostLink}`], 6);
      nodeRoutes.push(...parseRoutes(r6.outputs[0], 6).map((x) => ({ ...x, dev: hostLink })));
    }
  }
  const missing = planCheck({ ...ctx, nodeRoutes });
  if (missing.length > 0)
    throw new CNIError(
      CNIErrorCode.generic,
      `veth CHECK of ${ctx.ifName}: missing ${missing.join('; ')}`,
    );
  return NOTHING;
}

/**
 * GC: delete the node ends of attachments the runtime no longer has. A malformed list is
 * refused whole: it would make GC delete what it must keep.
 */
async function gc(input: RunInput, raw: Readonly<Record<string, unknown>>): Promise<RunOutput> {
  const { key, items } = validAttachments(raw);
  // A link is kept by its container ID alone: an item without one would keep nothing.
  const ids = items.map((a, i) => {
    if (a.containerID === '')
      throw new CNIError(CNIErrorCode.invalidNetconf, `${key}[${i}] must have a containerID`);
    return a.containerID;
  });
  const r = await input.kernel.query(NODE, ['link show']);
  const stale = planGC(parseLinks(r.outputs[0]), ids);
  for (const link of stale) await deleteHostLink(input.kernel, link, 'GC');
  return NOTHING;
}

export function run(input: RunInput): Promise<RunOutput> {
  return runPlugin(
    input.env,
    input.stdin,
    (command, version, conf) => {
      switch (command) {
        case 'ADD':
          return add(input, version, conf);
        case 'DEL':
          return del(input);
        case 'CHECK':
          return check(input, version, conf);
        case 'GC':
          return gc(input, conf);
        case 'STATUS':
          // Nothing to wait for: no daemon, no API (V4). Ready whenever it can run.
          return Promise.resolve(NOTHING);
        default:
          throw new CNIError(
            CNIErrorCode.invalidEnv,
            `unknown CNI_COMMAND ${JSON.stringify(command)} (veth supports ADD, DEL, CHECK, GC, STATUS, VERSION)`,
          );
      }
    },
    { code: CNIErrorCode.generic, msg: 'veth internal error' },
  );
}
