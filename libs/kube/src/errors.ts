import { ApiException } from '@kubernetes/client-node';

/** HTTP status of a failed API call, or undefined for non-HTTP failures (network, TLS). */
export function apiStatus(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number') {
    // Fakes and other clients that carry the status the same way.
    return (e as { code: number }).code;
  }
  return undefined;
}

export const isConflict = (e: unknown): boolean => apiStatus(e) === 409;
export const isNotFound = (e: unknown): boolean => apiStatus(e) === 404;
