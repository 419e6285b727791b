import { CNIError, CNIErrorCode } from './errors.ts';

export type CNIEnv = Readonly<Record<string, string | undefined>>;

/** `CNI_ARGS`: `K=V;K=V`. */
export function parseCNIArgs(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of (text ?? '').split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new CNIError(
        CNIErrorCode.invalidEnv,
        `CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE`,
      );
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** The named variables, each present and non-empty, or one error naming every missing one. */
export function requireEnv<N extends string>(env: CNIEnv, ...names: N[]): Record<N, string> {
  const out: Partial<Record<N, string>> = {};
  const missing = names.filter((n) => {
    const v = env[n];
    if (v === undefined || v === '') return true;
    out[n] = v;
    return false;
  });
  if (missing.length > 0)
    throw new CNIError(
      CNIErrorCode.invalidEnv,
      `missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    );
  return out as Record<N, string>;
}
