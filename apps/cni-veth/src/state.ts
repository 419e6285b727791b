/**
 * What `ip -json` tells the plugin about a network namespace: links, addresses, routes and
 * rules, reduced to the fields the plan reads. Pure: exec.ts runs the commands.
 */
import type { IPFamily } from '@nicpool/ip';

export interface Link {
  readonly ifindex: number;
  readonly ifname: string;
  /** MAC. */
  readonly address: string;
  readonly ifalias?: string;
}

export interface LinkAddress {
  readonly ifname: string;
  readonly family: IPFamily;
  readonly local: string;
  readonly scope: string;
}

export interface Route {
  readonly family: IPFamily;
  /** `default`, `10.7.0.0/16`, or a host address without a length (`10.6.168.123`). */
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
  readonly scope?: string;
  readonly prefsrc?: string;
  readonly metric?: string;
  /** `main` when ip printed no table. */
  readonly table: string;
  /** `unicast` when ip printed no type. */
  readonly type: string;
}

export interface Rule {
  readonly family: IPFamily;
  readonly priority: number;
  /** `all` or `<addr>[/len]` as the kernel keeps it, `to` likewise. */
  readonly from: string;
  readonly to: string | undefined;
  readonly table: string;
}

const arr = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as never) : [];
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function parseLinks(json: unknown): Link[] {
  return arr(json).flatMap((l) => {
    const ifname = str(l['ifname']);
    if (ifname === undefined || typeof l['ifindex'] !== 'number') return [];
    const ifalias = str(l['ifalias']);
    return [
      {
        ifindex: l['ifindex'],
        ifname,
        address: str(l['address']) ?? '',
        ...(ifalias === undefined ? {} : { ifalias }),
      },
    ];
  });
}

export function parseAddresses(json: unknown): LinkAddress[] {
  return arr(json).flatMap((l) =>
    arr(l['addr_info']).flatMap((a) => {
      const local = str(a['local']);
      const family = a['family'] === 'inet' ? 4 : a['family'] === 'inet6' ? 6 : undefined;
      if (local === undefined || family === undefined) return [];
      return [{ ifname: str(l['ifname']) ?? '', family, local, scope: str(a['scope']) ?? '' }];
    }),
  );
}

export function parseRoutes(json: unknown, family: IPFamily): Route[] {
  return arr(json).flatMap((r) => {
    const dst = str(r['dst']);
    if (dst === undefined) return [];
    const opt = (k: string): Record<string, string> => {
      const v = r[k];
      return typeof v === 'string' ? { [k]: v } : typeof v === 'number' ? { [k]: String(v) } : {};
    };
    return [
      {
        family,
        dst,
        ...opt('gateway'),
        ...opt('dev'),
        ...opt('protocol'),
        ...opt('scope'),
        ...opt('prefsrc'),
        ...opt('metric'),
        table: str(r['table']) ?? (typeof r['table'] === 'number' ? String(r['table']) : 'main'),
        type: str(r['type']) ?? 'unicast',
      },
    ];
  });
}

export function parseRules(json: unknown, family: IPFamily): Rule[] {
  return arr(json).flatMap((r) => {
    if (typeof r['priority'] !== 'number') return [];
    const withLen = (addr: unknown, len: unknown): string | undefined =>
      typeof addr !== 'string' ? undefined : typeof len === 'number' ? `${addr}/${len}` : addr;
    return [
      {
        family,
        priority: r['priority'],
        from: withLen(r['src'], r['srclen']) ?? 'all',
        to: withLen(r['dst'], r['dstlen']),
        table: str(r['table']) ?? (typeof r['table'] === 'number' ? String(r['table']) : ''),
      },
    ];
  });
}

/** The route `ip route get` chose, if it answered for `address`. */
export function parseRouteGet(json: unknown, address: string): string | undefined {
  const r = arr(json)[0];
  return r !== undefined && str(r['dst']) === address ? str(r['prefsrc']) : undefined;
}
