import { AllocatorErrorCode as Code, type AllocatorErrorCode, type ErrorBody } from '@nicpool/wire';

/**
 * The allocator's error registry: each code once, with its HTTP status and whether a retry
 * can help. 4xx: bad input or a state the admin must fix; 503: transient; 500: a defect.
 */
export const ERRORS: Readonly<
  Record<AllocatorErrorCode, { readonly status: number; readonly retryable: boolean }>
> = {
  [Code.badRequest]: { status: 400, retryable: false },
  [Code.podNotFound]: { status: 404, retryable: true },
  [Code.podUIDMismatch]: { status: 409, retryable: false },
  [Code.invalidAnnotation]: { status: 422, retryable: false },
  [Code.noPool]: { status: 422, retryable: false },
  [Code.noAvailablePool]: { status: 422, retryable: false },
  [Code.ipUsedOut]: { status: 422, retryable: false },
  [Code.poolFull]: { status: 422, retryable: false },
  [Code.notSupported]: { status: 422, retryable: false },
  [Code.notFound]: { status: 404, retryable: false },
  [Code.retriesExhausted]: { status: 503, retryable: true },
  [Code.apiUnavailable]: { status: 503, retryable: true },
  [Code.notReady]: { status: 503, retryable: true },
  [Code.autoPoolPending]: { status: 503, retryable: true },
  [Code.internal]: { status: 500, retryable: false },
};

export class AllocatorError extends Error {
  readonly code: AllocatorErrorCode;
  constructor(code: AllocatorErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AllocatorError';
    this.code = code;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, retryable: ERRORS[this.code].retryable };
  }
}
