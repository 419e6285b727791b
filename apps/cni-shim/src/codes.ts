import { AllocatorErrorCode as A } from '@nicpool/wire/codes';

/** CNI error codes (CNI spec "Error" + nicpool's own from 100). */
export const CNIErrorCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidNetconf: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  noPool: 100,
  poolExhausted: 101,
  podNotFound: 102,
  internal: 199,
} as const;

/** The one table from allocator error codes to CNI codes (cni.md, "Errors"). */
export const ALLOCATOR_TO_CNI: Readonly<Record<string, number>> = {
  [A.badRequest]: CNIErrorCode.invalidNetconf,
  [A.invalidAnnotation]: CNIErrorCode.invalidNetconf,
  [A.notSupported]: CNIErrorCode.invalidNetconf,
  [A.noPool]: CNIErrorCode.noPool,
  [A.noAvailablePool]: CNIErrorCode.noPool,
  [A.ipUsedOut]: CNIErrorCode.poolExhausted,
  [A.poolFull]: CNIErrorCode.poolExhausted,
  [A.podNotFound]: CNIErrorCode.podNotFound,
  [A.podUIDMismatch]: CNIErrorCode.podNotFound,
  [A.notFound]: CNIErrorCode.unknownContainer,
  [A.retriesExhausted]: CNIErrorCode.tryAgainLater,
  [A.apiUnavailable]: CNIErrorCode.tryAgainLater,
  [A.notReady]: CNIErrorCode.tryAgainLater,
  [A.autoPoolPending]: CNIErrorCode.tryAgainLater,
  [A.internal]: CNIErrorCode.internal,
};
