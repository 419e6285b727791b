import type { Operation } from 'fast-json-patch';

/** The outcome of one admission decision, before it becomes an AdmissionReview response. */
export interface Decision {
  readonly allowed: boolean;
  /** Why it was denied: one problem per line, each naming the field or annotation. */
  readonly reason?: string;
  readonly warnings: readonly string[];
  /** RFC 6902 operations (mutating webhook only), computed by diffing. */
  readonly patch?: readonly Operation[];
}
