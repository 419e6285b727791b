/**
 * The `veth` netconf (veth.md C1–C3): Spiderpool veth v0.1.4's fields and defaults, the
 * older aliases, and `prevResult`. Unknown fields are ignored, so `{"type":"veth"}` alone
 * is valid. Every refusal is CNI code 7 and names the field.
 */
import { CNIError, CNIErrorCode, parseResult, type CNIResult } from '@nicpool/cni';
import { formatCIDRNetwork, parseCIDR, type IPFamily } from '@nicpool/ip';

export interface RouteCIDR {
  readonly family: IPFamily;
  /** Canonical network, `10.96.0.0/12`. */
  readonly cidr: string;
}

export interface VethConf {
  /** cluster_cidr, then service_cidr, then additional_cidr (A8's order), without repeats. */
  readonly cidrs: readonly RouteCIDR[];
  readonly rpFilter: { readonly enabled: boolean; readonly value: 0 | 1 | 2 };
  readonly moveRoutes: boolean;
  /** Two bytes, `0a:1b`, or undefined. */
  readonly hardwarePrefix: string | undefined;
  readonly onlyHardware: boolean;
  readonly prevResult: CNIResult | undefined;
}

const bad = (msg: string): CNIError => new CNIError(CNIErrorCode.invalidNetconf, msg);

/** The CIDR list of `field` (or of its alias, for NADs written for older versions). */
function cidrList(
  conf: Readonly<Record<string, unknown>>,
  field: string,
  alias: string,
): RouteCIDR[] {
  const key = conf[field] !== undefined ? field : alias;
  const v = conf[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(`${key} must be a list of CIDRs, like ["10.96.0.0/12"]`);
  return v.map((item: unknown, i) => {
    if (typeof item !== 'string')
      throw bad(`${key}[${i}]: ${JSON.stringify(item)} is not a CIDR string (like "10.96.0.0/12")`);
    const c = parseCIDR(item);
    if (!c.ok) throw bad(`${key}[${i}]: ${c.error.message} (write it like "10.96.0.0/12")`);
    return { family: c.value.family, cidr: formatCIDRNetwork(c.value) };
  });
}

function bool(conf: Readonly<Record<string, unknown>>, field: string, dflt: boolean): boolean {
  const v = conf[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw bad(`${field} must be true or false`);
  return v;
}

function rpFilter(raw: unknown): VethConf['rpFilter'] {
  if (raw === undefined || raw === null) return { enabled: true, value: 0 };
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw bad('rp_filter must be an object like {"enabled": true, "value": 0}');
  const { enabled, value } = raw as { enabled?: unknown; value?: unknown };
  if (enabled !== undefined && typeof enabled !== 'boolean')
    throw bad('rp_filter.enabled must be true or false');
  if (value !== undefined && value !== 0 && value !== 1 && value !== 2)
    throw bad('rp_filter.value must be 0 (off), 1 (strict) or 2 (loose)');
  return { enabled: enabled ?? true, value: value ?? 0 };
}

/**
 * `move_routes`: true/false, or v0.1.4's numbers, where 2 is "never" and -1, 0, 1 move
 * (upstream tells "auto" and "always" apart only for NICs this plugin never sees).
 */
function moveRoutes(raw: unknown): boolean {
  if (raw === undefined || raw === null) return true;
  if (typeof raw === 'boolean') return raw;
  if (raw === -1 || raw === 0 || raw === 1 || raw === 2) return raw !== 2;
  throw bad('move_routes must be true, false, or one of -1, 0, 1, 2 (2: never move)');
}

const PREFIX = /^[0-9a-f]{2}:[0-9a-f]{2}$/;

function hardwarePrefix(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const text = typeof raw === 'string' ? raw.toLowerCase() : '';
  if (!PREFIX.test(text))
    throw bad(`hardware_prefix: ${JSON.stringify(raw)} is not two hex bytes like "0a:1b"`);
  // The first byte's low bit is the multicast bit: no interface may have such a MAC.
  if ((parseInt(text.slice(0, 2), 16) & 1) === 1)
    throw bad(`hardware_prefix: ${text} makes a multicast MAC (the first byte must be even)`);
  return text;
}

export function parseVethConf(conf: Readonly<Record<string, unknown>>): VethConf {
  const seen = new Set<string>();
  const cidrs = [
    ...cidrList(conf, 'cluster_cidr', 'overlay_hijack_subnet'),
    ...cidrList(conf, 'service_cidr', 'service_hijack_subnet'),
    ...cidrList(conf, 'additional_cidr', 'additional_hijack_subnet'),
  ].filter((c) => !seen.has(c.cidr) && seen.add(c.cidr) !== undefined);
  return {
    cidrs,
    rpFilter: rpFilter(conf['rp_filter']),
    moveRoutes: moveRoutes(conf['move_routes']),
    hardwarePrefix: hardwarePrefix(conf['hardware_prefix']),
    onlyHardware: bool(conf, 'only_hardware', false),
    prevResult: conf['prevResult'] === undefined ? undefined : parseResult(conf['prevResult']),
  };
}
