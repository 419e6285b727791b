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
  /** The CNI spec's "generic" code for a failure with no code of its own. */
  generic: 999,
} as const;

/** A failure a plugin reports as a CNI error object on stdout, with a non-zero exit. */
export class CNIError extends Error {
  readonly code: number;
  readonly details: string | undefined;
  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.code = code;
    this.details = details;
  }
}

/** What the plugin prints and its exit code. */
export interface RunOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

/** A success: the value as one line of JSON. */
export function output(value: unknown): RunOutput {
  return { stdout: `${JSON.stringify(value)}\n`, exitCode: 0 };
}

/** A success that prints nothing (DEL, CHECK, STATUS, GC). */
export const NOTHING: RunOutput = { stdout: '', exitCode: 0 };

/** The CNI error object for `e`, in the netconf's version. */
export function errorOutput(cniVersion: string, e: CNIError): RunOutput {
  const body = {
    cniVersion,
    code: e.code,
    msg: e.message,
    ...(e.details === undefined ? {} : { details: e.details }),
  };
  return { stdout: `${JSON.stringify(body)}\n`, exitCode: 1 };
}
