import { CNIErrorCode } from '@nicpool/cni';
import { AllocatorErrorCode as A } from '@nicpool/wire/codes';

export { CNIErrorCode };

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
