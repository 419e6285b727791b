/**
 * What ADD and CHECK change or expect, from what the namespaces hold (veth.md A1–A17, D2):
 * pure functions from the observed state to `ip -batch` lines, so every rule of the spec is
 * unit-tested without a kernel. exec.ts observes and applies; run.ts orders the steps.
 */
import { CNIError, CNIErrorCode, type CNIResult } from '@nicpool/cni';
import { formatIP, parseCIDR, parseIP, type IPFamily } from '@nicpool/ip';
import type { VethConf } from './conf.ts';
import type { Link, LinkAddress, Route, Rule } from './state.ts';

/** The pod-side link every NIC's routes to the node go through. */
export const POD_LINK = 'veth0';
export const MTU = 1500;
/** Marks the node-side link with the NIC that made it, so a repeated ADD of that NIC is known. */
export const FIRST_ALIAS = 'nicpool:first=';
/** Node links whose addresses are not the node's (A3). */
const NOT_NODE_LINKS =
  /^(?:lo|veth.*|docker.*|cni.*|flannel.*|cali.*|kube-.*|tunl.*|vxlan.*|genev.*|nodelocaldns)$/;

/** One address of the NIC, from prevResult. */
export interface NICAddress {
  readonly family: IPFamily;
  readonly ip: string;
  readonly prefix: number;
  readonly gateway: string | undefined;
}

export interface NodeView {
  readonly links: readonly Link[];
  readonly addresses: readonly LinkAddress[];
  /** A4: the preferred source of the node's route to the NIC's first address, per family. */
  readonly via: Readonly<Partial<Record<IPFamily, string>>>;
}

export interface PodView {
  readonly links: readonly Link[];
  readonly rules: readonly Rule[];
  readonly routes: readonly Route[];
}

export interface AddContext {
  readonly conf: VethConf;
  readonly ifName: string;
  readonly containerID: string;
  /** A process in the node's netns, where the host end goes (`netns <pid>`). */
  readonly pid: number;
  readonly nic: readonly NICAddress[];
  readonly node: NodeView;
  readonly pod: PodView;
  /** A random locally administered unicast MAC. */
  readonly mac: () => string;
}

export interface AddPlan {
  readonly first: boolean;
  readonly table: string;
  readonly hostLink: string;
  /** The pod's batch creates veth0 and the node end (the node's batch must wait for it). */
  readonly createsLink: boolean;
  /** A2: a node link of this name exists without its pod end: delete it before the pod batch. */
  readonly removeStaleHostLink: boolean;
  /** `ip -batch` lines for the pod's netns. */
  readonly pod: readonly string[];
  /** The pod's IPv6 rules, for `ip -6 -batch` after `pod` (iproute2 reads rules as IPv4). */
  readonly pod6: readonly string[];
  /** A15: the pod needs IPv6 enabled before its batch. */
  readonly podIPv6: boolean;
  /** A14: every `net.ipv4.conf.*.rp_filter` in the pod after its batch; undefined: untouched. */
  readonly podRpFilter: 0 | 1 | 2 | undefined;
  /** `ip -batch` lines for the node's netns. */
  readonly node: readonly string[];
  /** A14: the host link's rp_filter, when enabled. */
  readonly nodeRpFilter: 0 | 1 | 2 | undefined;
}

/** HV: `veth` + the first 11 characters of the container ID (15, the kernel's limit). */
export const hostLinkName = (containerID: string): string => `veth${containerID.slice(0, 11)}`;

/** The NIC's addresses in prevResult: those on the interface named IF, else all of them. */
export function nicAddresses(result: CNIResult, ifName: string): NICAddress[] {
  const ifaces = result.interfaces ?? [];
  const ips = result.ips ?? [];
  const mine = ips.some((ip) => ip.interface !== undefined)
    ? ips.filter((ip) => ip.interface !== undefined && ifaces[ip.interface]?.name === ifName)
    : ips;
  // Each value goes into an `ip -batch` line: only what parses as an address gets there.
  return mine.map((ip) => {
    const cidr = parseCIDR(ip.address);
    if (!cidr.ok)
      throw new CNIError(
        CNIErrorCode.invalidNetconf,
        `prevResult: ${JSON.stringify(ip.address)} is not an address with its prefix length`,
      );
    const gw = ip.gateway === undefined ? undefined : parseIP(ip.gateway);
    if (gw !== undefined && (!gw.ok || gw.value.family !== cidr.value.family))
      throw new CNIError(
        CNIErrorCode.invalidNetconf,
        `prevResult: gateway ${JSON.stringify(ip.gateway)} of ${ip.address} is not an address of its family`,
      );
    return {
      family: cidr.value.family,
      ip: formatIP(cidr.value.family, cidr.value.address),
      prefix: cidr.value.prefix,
      gateway: gw === undefined ? undefined : formatIP(gw.value.family, gw.value.value),
    };
  });
}

const hostLen = (f: IPFamily): number => (f === 4 ? 32 : 128);
/** `10.6.168.123/32` and `10.6.168.123` are the same host. */
const host = (x: string): string => x.replace(/\/(?:32|128)$/, '');
const families = (nic: readonly NICAddress[]): Set<IPFamily> => new Set(nic.map((a) => a.family));
const isMulticast = (a: LinkAddress): boolean =>
  a.family === 4 ? /^2(?:2[4-9]|3\d)\./.test(a.local) : /^ff/i.test(a.local);

/** A3: the node's addresses in the NIC's families, in link order, each once. */
export function nodeIPs(
  node: NodeView,
  fams: ReadonlySet<IPFamily>,
): { family: IPFamily; ip: string }[] {
  const out: { family: IPFamily; ip: string }[] = [];
  const add = (family: IPFamily, ip: string): void => {
    if (!out.some((o) => o.ip === ip)) out.push({ family, ip });
  };
  for (const a of node.addresses)
    if (
      fams.has(a.family) &&
      !NOT_NODE_LINKS.test(a.ifname) &&
      a.scope !== 'link' &&
      a.scope !== 'host' &&
      !isMulticast(a)
    )
      add(a.family, a.local);
  // The via must be reachable in T: it has its /32 even when its link is one A3 skips.
  for (const f of fams) {
    const via = node.via[f];
    if (via !== undefined) add(f, via);
  }
  return out;
}

/**
 * A1: the first NIC finds no veth0; a repeated ADD of that NIC finds its mark on the node
 * end; without a mark (a link made before it), a NIC not named net<N> is taken as the first.
 */
function isFirstNIC(podEnd: Link | undefined, hostEnd: Link | undefined, ifName: string): boolean {
  return (
    podEnd === undefined ||
    hostEnd?.ifalias === `${FIRST_ALIAS}${ifName}` ||
    (hostEnd?.ifalias?.startsWith(FIRST_ALIAS) !== true && !/^net\d+$/.test(ifName))
  );
}

/** A7: main for the first NIC, 100 + N − 1 for `net<N>`. */
function tableFor(first: boolean, ifName: string): { table: string; n: number } {
  if (first) return { table: 'main', n: 0 };
  const m = /^net([1-9]\d{0,3})$/.exec(ifName);
  if (m === null)
    throw new CNIError(
      CNIErrorCode.invalidNetconf,
      `${ifName} is not the pod's first NIC chained to veth (${POD_LINK} exists) and is not named net<N>: ` +
        'veth gives net<N> routing table 100 + N − 1; name the NIC net<N> in the pod annotation',
    );
  const n = Number(m[1]);
  return { table: String(100 + n - 1), n };
}

/** A16: prefix + the 4 bytes of the first IPv4 address (else the last 4 of IPv6). */
export function hardwareMAC(prefix: string, nic: readonly NICAddress[]): string | undefined {
  const a = nic.find((x) => x.family === 4) ?? nic[0];
  if (a === undefined) return undefined;
  const parsed = parseIP(a.ip);
  if (!parsed.ok) return undefined;
  const v = parsed.value.value & 0xffffffffn;
  const bytes = [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString(16).padStart(2, '0'));
  return `${prefix}:${bytes.join(':')}`;
}

interface Wanted {
  readonly family: IPFamily;
  readonly priority: number;
  readonly from: string;
  readonly to: string | undefined;
}

/** A9, A11, A13: the `to` and `from` rules of net<N>'s addresses at their fixed priorities. */
function wantedRules(nic: readonly NICAddress[], n: number, moveRoutes: boolean): Wanted[] {
  const to = 32765 - 2 * (n - 1);
  return nic.flatMap((a) => [
    { family: a.family, priority: to, from: 'all', to: `${a.ip}/${a.prefix}` },
    ...(moveRoutes
      ? [
          {
            family: a.family,
            priority: to - 1,
            from: `${a.ip}/${hostLen(a.family)}`,
            to: undefined,
          },
        ]
      : []),
  ]);
}

const sameRule = (r: Rule, w: Wanted, table: string): boolean =>
  r.family === w.family &&
  r.priority === w.priority &&
  host(r.from) === host(w.from) &&
  (r.to === undefined ? undefined : host(r.to)) === (w.to === undefined ? undefined : host(w.to)) &&
  r.table === table;

/** `from all` is the default, and left out: iproute2 reads it as IPv4 and refuses a v6 `to`. */
const ruleLine = (
  verb: 'add' | 'del',
  r: { priority: number; from: string; to: string | undefined },
  table: string,
): string =>
  `rule ${verb} priority ${r.priority}${r.from === 'all' ? '' : ` from ${r.from}`}${
    r.to === undefined ? '' : ` to ${r.to}`
  } lookup ${table}`;

/** A8: routes to the node's addresses, then to the CIDRs through the via, in table T. */
function nodeRoutes(ctx: AddContext, table: string): { dst: string; line: string }[] {
  const fams = families(ctx.nic);
  const ips = nodeIPs(ctx.node, fams);
  const out = ips.map((n) => ({
    dst: n.ip,
    line: `route replace ${n.ip}/${hostLen(n.family)} dev ${POD_LINK} scope link table ${table}`,
  }));
  for (const c of ctx.conf.cidrs) {
    if (!fams.has(c.family)) continue;
    const via = ctx.node.via[c.family];
    out.push({
      dst: c.cidr,
      line: `route replace ${c.cidr}${via === undefined ? '' : ` via ${via}`} dev ${POD_LINK} table ${table}`,
    });
  }
  return out;
}

/** A route's destination for a batch line: `default` alone would be read as IPv4. */
const dstOf = (r: Route): string => (r.dst === 'default' && r.family === 6 ? '::/0' : r.dst);

/** A11: how to re-create a route of the main table in T. */
function routeSpec(r: Route): string {
  return [
    dstOf(r),
    ...(r.gateway === undefined ? [] : ['via', r.gateway]),
    'dev',
    r.dev ?? '',
    ...(r.protocol === undefined ? [] : ['proto', r.protocol]),
    ...(r.scope === undefined ? [] : ['scope', r.scope]),
    ...(r.prefsrc === undefined ? [] : ['src', r.prefsrc]),
    ...(r.metric === undefined ? [] : ['metric', r.metric]),
  ].join(' ');
}

export function planAdd(ctx: AddContext): AddPlan {
  const { conf, ifName } = ctx;
  const hostLink = hostLinkName(ctx.containerID);
  const hostEnd = ctx.node.links.find((l) => l.ifname === hostLink);
  const podEnd = ctx.pod.links.find((l) => l.ifname === POD_LINK);
  const hwMAC =
    conf.hardwarePrefix === undefined ? undefined : hardwareMAC(conf.hardwarePrefix, ctx.nic);
  const hw = hwMAC === undefined ? [] : [`link set dev ${ifName} address ${hwMAC}`];
  if (conf.onlyHardware)
    return {
      first: false,
      table: 'main',
      hostLink,
      createsLink: false,
      removeStaleHostLink: false,
      pod: hw,
      pod6: [],
      podIPv6: false,
      podRpFilter: undefined,
      node: [],
      nodeRpFilter: undefined,
    };
  const first = isFirstNIC(podEnd, hostEnd, ifName);
  const { table, n } = tableFor(first, ifName);
  const created = podEnd === undefined;
  const podMAC = podEnd?.address ?? ctx.mac();
  const hostMAC = created ? ctx.mac() : (hostEnd?.address ?? '');
  const fams = families(ctx.nic);
  const pod: string[] = [...hw];
  const pod6: string[] = [];
  if (created)
    pod.push(
      `link add ${POD_LINK} address ${podMAC} mtu ${MTU} txqueuelen 0 type veth peer name ${hostLink} address ${hostMAC} mtu ${MTU} txqueuelen 0 netns ${ctx.pid}`,
      `link set ${POD_LINK} up`,
    );
  // A5: the node's addresses answer from the node end without ARP/ND.
  if (hostMAC !== '')
    for (const n of nodeIPs(ctx.node, fams))
      pod.push(`neigh replace ${n.ip} lladdr ${hostMAC} dev ${POD_LINK} nud permanent`);
  pod.push(...nodeRoutes(ctx, table).map((r) => r.line));
  if (table !== 'main') {
    const wanted = wantedRules(ctx.nic, n, conf.moveRoutes);
    const priorities = new Set(wanted.map((w) => w.priority));
    // A rule at our priority into T for another address is a former ADD's: it would send
    // that address's traffic to this NIC's table.
    const rules = (f: IPFamily): string[] => (f === 4 ? pod : pod6);
    for (const r of ctx.pod.rules)
      if (
        priorities.has(r.priority) &&
        r.table === table &&
        !wanted.some((w) => sameRule(r, w, table))
      )
        rules(r.family).push(ruleLine('del', r, table));
    for (const w of wanted)
      if (!ctx.pod.rules.some((r) => sameRule(r, w, table)))
        rules(w.family).push(ruleLine('add', w, table));
    const inT = ctx.pod.routes.filter((r) => r.table === table);
    const moving = conf.moveRoutes
      ? ctx.pod.routes.filter(
          (r) =>
            r.table === 'main' &&
            r.type === 'unicast' &&
            r.dev === ifName &&
            fams.has(r.family) &&
            r.dst !== 'fe80::/64',
        )
      : [];
    // Into T first, out of main after: a failure half-way leaves the route in one of them.
    for (const r of moving) pod.push(`route replace ${routeSpec(r)} table ${table}`);
    // A12: nicpool's IPAM gives net<N> its gateway and no default route. Not when routes
    // stay in main: a default in T would catch the NIC's own subnet, which T then lacks,
    // and send it through the gateway (without one, T misses and main answers directly).
    for (const f of conf.moveRoutes ? fams : []) {
      const gw = ctx.nic.find((a) => a.family === f && a.gateway !== undefined)?.gateway;
      const hasDefault = [...inT, ...moving].some(
        (r) => r.family === f && r.dst === 'default' && r.dev === ifName,
      );
      if (gw !== undefined && !hasDefault)
        pod.push(`route replace default via ${gw} dev ${ifName} table ${table}`);
    }
    for (const r of moving)
      pod.push(
        `route del ${dstOf(r)}${r.gateway === undefined ? '' : ` via ${r.gateway}`} dev ${ifName} table main`,
      );
  }
  // A6, A10: the node reaches each of the NIC's addresses through the node end.
  // Up and marked on every ADD of the first NIC: a retry after a failed node batch finds
  // the pair made but the node end still down.
  const node: string[] = first
    ? [`link set ${hostLink} up`, `link set ${hostLink} alias ${FIRST_ALIAS}${ifName}`]
    : [];
  for (const a of ctx.nic) {
    const via = ctx.node.via[a.family];
    node.push(
      `neigh replace ${a.ip} lladdr ${podMAC} dev ${hostLink} nud permanent`,
      `route replace ${a.ip}/${hostLen(a.family)} dev ${hostLink}${via === undefined ? '' : ` src ${via}`}`,
    );
  }
  return {
    first,
    table,
    hostLink,
    createsLink: created,
    removeStaleHostLink: created && hostEnd !== undefined,
    pod,
    pod6,
    podIPv6: fams.has(6),
    podRpFilter: conf.rpFilter.value,
    node,
    nodeRpFilter: conf.rpFilter.enabled ? conf.rpFilter.value : undefined,
  };
}

/** D2: what CHECK finds missing, one phrase each; empty when everything is in place. */
export function planCheck(ctx: AddContext & { readonly nodeRoutes: readonly Route[] }): string[] {
  const missing: string[] = [];
  const hostLink = hostLinkName(ctx.containerID);
  const podEnd = ctx.pod.links.find((l) => l.ifname === POD_LINK);
  if (podEnd === undefined) return [`${POD_LINK} in the pod`];
  const hostEnd = ctx.node.links.find((l) => l.ifname === hostLink);
  if (hostEnd === undefined) return [`${hostLink} on the node`];
  if (ctx.conf.onlyHardware) return [];
  const { table, n } = tableFor(isFirstNIC(podEnd, hostEnd, ctx.ifName), ctx.ifName);
  for (const r of nodeRoutes(ctx, table))
    if (
      !ctx.pod.routes.some(
        (x) => x.table === table && host(x.dst) === host(r.dst) && x.dev === POD_LINK,
      )
    )
      missing.push(`route ${r.dst} dev ${POD_LINK} in table ${table}`);
  if (table !== 'main')
    for (const w of wantedRules(ctx.nic, n, ctx.conf.moveRoutes))
      if (!ctx.pod.rules.some((r) => sameRule(r, w, table)))
        missing.push(`rule ${ruleLine('add', w, table).slice(9)}`);
  for (const a of ctx.nic)
    if (!ctx.nodeRoutes.some((r) => host(r.dst) === a.ip && r.dev === hostLink))
      missing.push(`route ${a.ip} dev ${hostLink} on the node`);
  return missing;
}

/**
 * GC (CNI 1.1): the node ends this plugin made (they carry its mark) whose container is not
 * among the runtime's valid attachments. Links of other plugins are never touched.
 */
export function planGC(links: readonly Link[], validContainerIDs: readonly string[]): string[] {
  const keep = new Set(validContainerIDs.map(hostLinkName));
  return links
    .filter((l) => l.ifalias?.startsWith(FIRST_ALIAS) === true && !keep.has(l.ifname))
    .map((l) => l.ifname);
}
