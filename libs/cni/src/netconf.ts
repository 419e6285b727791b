import { CNIError, CNIErrorCode } from './errors.ts';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type Version = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST: Version = '1.1.0';

/** Versions whose results carry `version` per IP and have no CHECK (0.3.x) or GC/STATUS. */
export const isLegacy = (v: Version): boolean => v === '0.3.0' || v === '0.3.1' || v === '0.4.0';

/** CHECK exists from 0.4.0 on: before that, code 1. */
export function requireCheckVersion(v: Version): void {
  if (v === '0.3.0' || v === '0.3.1')
    throw new CNIError(
      CNIErrorCode.incompatibleVersion,
      `CHECK is not defined for cniVersion ${v}`,
    );
}

/** The netconf on stdin: a JSON object with a supported `cniVersion`. */
export function parseNetconf(stdin: string): {
  conf: Readonly<Record<string, unknown>>;
  version: Version;
} {
  let conf: unknown;
  try {
    conf = JSON.parse(stdin);
  } catch (e) {
    throw new CNIError(
      CNIErrorCode.decodeFailure,
      'cannot decode the network configuration on stdin',
      e instanceof Error ? e.message : String(e),
    );
  }
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) {
    throw new CNIError(
      CNIErrorCode.decodeFailure,
      'the network configuration on stdin is not a JSON object',
    );
  }
  const v = (conf as { cniVersion?: unknown }).cniVersion;
  if (typeof v !== 'string' || !(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CNIError(
      CNIErrorCode.incompatibleVersion,
      `unsupported cniVersion ${JSON.stringify(v)}`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  return { conf: conf as Record<string, unknown>, version: v as Version };
}
