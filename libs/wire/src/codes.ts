/**
 * The plain-value half of the allocator ↔ shim contract: routes, the default socket and the
 * error codes. No schema library here, so the CNI shim bundles it at no start-up cost.
 */
export const Paths = {
  healthy: '/v1/ipam/healthy',
  ip: '/v1/ipam/ip',
  check: '/v1/nicpool/check',
  status: '/v1/nicpool/status',
  gc: '/v1/nicpool/gc',
} as const;

/** Default socket path (overridable by netconf `ipam_unix_socket_path`). */
export const DEFAULT_SOCKET_PATH = '/var/run/spidernet/spiderpool.sock';

/** Stable allocator error codes (the shim maps them to CNI codes in one table). */
export const AllocatorErrorCode = {
  badRequest: 'BAD_REQUEST',
  podNotFound: 'POD_NOT_FOUND',
  podUIDMismatch: 'POD_UID_MISMATCH',
  invalidAnnotation: 'INVALID_ANNOTATION',
  noPool: 'NO_POOL',
  noAvailablePool: 'NO_AVAILABLE_POOL',
  ipUsedOut: 'IP_USED_OUT',
  poolFull: 'POOL_RECORD_LIMIT',
  notSupported: 'NOT_SUPPORTED',
  retriesExhausted: 'RETRIES_EXHAUSTED',
  apiUnavailable: 'API_UNAVAILABLE',
  notReady: 'NOT_READY',
  /** The pod's SpiderSubnet auto-pool is not there (or not grown) yet; the controller makes it. */
  autoPoolPending: 'AUTO_POOL_PENDING',
  notFound: 'NOT_FOUND',
  internal: 'INTERNAL',
} as const;
export type AllocatorErrorCode = (typeof AllocatorErrorCode)[keyof typeof AllocatorErrorCode];
