import ipaddr from 'ipaddr.js';
import { err, ok, type Result } from '@nicpool/result';

/** IP family: 4 or 6. */
export type IPFamily = 4 | 6;

/** An address as a number of its family; IPv4 fits in 32 bits, IPv6 in 128. */
export interface Address {
  readonly family: IPFamily;
  readonly value: bigint;
}

/** A CIDR as written, plus its network. */
export interface Cidr {
  readonly family: IPFamily;
  /** The address part as written (host bits may be set: `10.6.0.1/16`). */
  readonly address: bigint;
  /** First address of the network (`10.6.0.0` for `10.6.0.1/16`). */
  readonly network: bigint;
  /** Last address of the network. */
  readonly last: bigint;
  readonly prefix: number;
  /** True when the written address has no host bits set. */
  readonly canonical: boolean;
}

/** Why a string is not an address, CIDR or range; the text is one line for an admin. */
export interface IPError {
  readonly code: 'INVALID_IP' | 'INVALID_CIDR' | 'INVALID_RANGE' | 'FAMILY_MISMATCH';
  readonly message: string;
}

export const BITS: Readonly<Record<IPFamily, number>> = { 4: 32, 6: 128 };

export function maxValue(family: IPFamily): bigint {
  return (1n << BigInt(BITS[family])) - 1n;
}

/**
 * Parses one address. IPv4 must be four decimal octets (no `10.1`, no octal or hex
 * shorthand); IPv6 may be in any RFC 4291 text form. A zone (`%eth0`) is refused.
 */
export function parseIP(text: string): Result<Address, IPError> {
  const s = text.trim();
  if (s !== text || s === '') {
    return err({ code: 'INVALID_IP', message: `"${text}" is not an IP address` });
  }
  const v4 = parseDottedQuad(s);
  if (v4 !== undefined) return ok({ family: 4, value: v4 });
  if (s.includes(':') && !s.includes('%') && ipaddr.IPv6.isValid(s)) {
    const bytes = ipaddr.IPv6.parse(s).toByteArray();
    return ok({ family: 6, value: bytesToBigInt(bytes) });
  }
  return err({ code: 'INVALID_IP', message: `"${text}" is not an IP address` });
}

/** Formats an address in its canonical text form (RFC 5952 for IPv6). */
export function formatIP(family: IPFamily, value: bigint): string {
  const bytes = bigIntToBytes(value, BITS[family] / 8);
  return ipaddr.fromByteArray(bytes).toString();
}

/** Dotted-quad IPv4 already in canonical form (no leading zeros, each part ≤ 255). */
const CANONICAL_V4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Returns the canonical text of an address, or undefined if it is not one. An IPv4 address
 * already canonical (what nicpool writes) is its own answer without a parse: a pool status
 * of 10 000 records is decoded on every version, and the parse was 15 % of an ADD there.
 */
export function canonicalIP(text: string): string | undefined {
  if (CANONICAL_V4.test(text)) return text;
  const r = parseIP(text);
  return r.ok ? formatIP(r.value.family, r.value.value) : undefined;
}

/**
 * Parses `addr/prefix`. Host bits may be set (the tutorial writes `10.6.0.1/16`); the
 * result carries both the written address and the network, and says whether it was
 * canonical, so callers decide whether host bits are acceptable where they use it.
 */
export function parseCIDR(text: string): Result<Cidr, IPError> {
  const slash = text.indexOf('/');
  const bad = (why: string): Result<Cidr, IPError> =>
    err({ code: 'INVALID_CIDR', message: `"${text}" is not a CIDR: ${why}` });
  if (slash < 0) return bad('missing "/prefix"');
  const addr = parseIP(text.slice(0, slash));
  if (!addr.ok) return bad('the address part is not an IP address');
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return bad('the prefix length is not a number');
  const prefix = Number(prefixText);
  const bits = BITS[addr.value.family];
  if (prefix > bits) return bad(`the prefix length must be at most ${bits}`);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = addr.value.value & ~hostMask & maxValue(addr.value.family);
  return ok({
    family: addr.value.family,
    address: addr.value.value,
    network,
    last: network | hostMask,
    prefix,
    canonical: network === addr.value.value,
  });
}

/** Formats the network of a CIDR canonically (`10.6.0.0/16`). */
export function formatCIDRNetwork(c: Cidr): string {
  return `${formatIP(c.family, c.network)}/${c.prefix}`;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Strict dotted-quad IPv4 (no leading zeros, no shorthand), without ipaddr.js: pools are
 * parsed on every admission and allocation, and this is the hot case.
 */
function parseDottedQuad(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return BigInt(v);
}

function bytesToBigInt(bytes: readonly number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigIntToBytes(value: bigint, length: number): number[] {
  const out = new Array<number>(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
