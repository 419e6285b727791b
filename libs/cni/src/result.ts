import { CNIError, CNIErrorCode } from './errors.ts';
import { isLegacy, type Version } from './netconf.ts';

export interface ResultInterface {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly sandbox?: string;
  readonly [extra: string]: unknown;
}

export interface ResultIP {
  /** CIDR: the address with its subnet's prefix length, `10.6.168.172/16`. */
  readonly address: string;
  readonly gateway?: string;
  /** Index into `interfaces`. */
  readonly interface?: number;
  /** Only before 1.0.0: "4" or "6". */
  readonly version?: string;
  readonly [extra: string]: unknown;
}

export interface ResultRoute {
  readonly dst: string;
  readonly gw?: string;
  readonly [extra: string]: unknown;
}

/** A CNI result in any supported version; fields this code does not know are kept as they came. */
export interface CNIResult {
  readonly cniVersion?: string;
  readonly interfaces?: readonly ResultInterface[];
  readonly ips?: readonly ResultIP[];
  readonly routes?: readonly ResultRoute[];
  readonly dns?: unknown;
  readonly [extra: string]: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(msg: string): never {
  throw new CNIError(CNIErrorCode.invalidNetconf, `prevResult: ${msg}`);
}

/**
 * A chained plugin's `prevResult`, checked for the fields a plugin reads (`ips[].address`,
 * `ips[].interface`, `interfaces[].name`); everything else passes through untouched.
 */
export function parseResult(raw: unknown): CNIResult {
  if (!isObject(raw)) fail('must be an object');
  const { interfaces, ips, routes } = raw;
  if (interfaces !== undefined) {
    if (!Array.isArray(interfaces)) fail('interfaces must be an array');
    interfaces.forEach((x: unknown, i) => {
      if (!isObject(x) || typeof x['name'] !== 'string')
        fail(`interfaces[${i}] must be an object with a name`);
    });
  }
  if (ips !== undefined) {
    if (!Array.isArray(ips)) fail('ips must be an array');
    ips.forEach((x: unknown, i) => {
      if (!isObject(x) || typeof x['address'] !== 'string' || !x['address'].includes('/'))
        fail(`ips[${i}].address must be an address with its prefix length`);
      const at = x['interface'];
      if (
        at !== undefined &&
        (!Number.isInteger(at) || (at as number) < 0 || (at as number) >= (interfaces?.length ?? 0))
      )
        fail(`ips[${i}].interface must be an index into interfaces`);
      if (x['gateway'] !== undefined && typeof x['gateway'] !== 'string')
        fail(`ips[${i}].gateway must be a string`);
    });
  }
  if (routes !== undefined && !Array.isArray(routes)) fail('routes must be an array');
  return raw;
}

/** `ip` family of an address (`10.6.168.172/16` → 4). */
export const familyOf = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4);

/**
 * `result` in version `to`: before 1.0.0 each IP carries `version` ("4"/"6", first, as the
 * reference plugins print it); from 1.0.0 it has none. Nothing else changes.
 */
export function convertResult(result: CNIResult, to: Version): CNIResult {
  const legacy = isLegacy(to);
  const { cniVersion: _, ...rest } = result;
  return {
    cniVersion: to,
    ...rest,
    ...(result.ips === undefined
      ? {}
      : {
          ips: result.ips.map(({ version: __, ...ip }) =>
            legacy ? { version: String(familyOf(ip.address)), ...ip } : ip,
          ),
        }),
  };
}
