/**
 * The CNI shim's logic, pure of process globals: Multus execs the shim with the CNI
 * environment and the netconf on stdin; `run` returns what to print and the exit code.
 * This build answers VERSION; the other verbs need the allocator's socket API and say so.
 */

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
const LATEST = '1.1.0';

/** CNI well-known error codes (CNI spec, "Error"). */
export const CNIErrorCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidNetconf: 7,
  tryAgainLater: 11,
} as const;

export interface RunInput {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
}

export interface RunOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

function cniError(cniVersion: string, code: number, msg: string, details?: string): RunOutput {
  return {
    stdout: `${JSON.stringify({ cniVersion, code, msg, ...(details === undefined ? {} : { details }) })}\n`,
    exitCode: 1,
  };
}

function netconfVersion(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && v !== '' ? v : LATEST;
  } catch {
    return LATEST;
  }
}

// Async by contract: the verbs that reach the allocator await its socket.
// eslint-disable-next-line @typescript-eslint/require-await
export async function run(input: RunInput): Promise<RunOutput> {
  const command = input.env['CNI_COMMAND'];
  const version = netconfVersion(input.stdin);
  switch (command) {
    case 'VERSION':
      return {
        stdout: `${JSON.stringify({ cniVersion: LATEST, supportedVersions: SUPPORTED_VERSIONS })}\n`,
        exitCode: 0,
      };
    case 'ADD':
    case 'DEL':
    case 'CHECK':
    case 'GC':
    case 'STATUS':
      return cniError(
        version,
        CNIErrorCode.invalidEnv,
        `nicpool: CNI_COMMAND=${command} is not supported by this build of the shim`,
      );
    case undefined:
    case '':
      return cniError(version, CNIErrorCode.invalidEnv, 'nicpool: CNI_COMMAND is not set');
    default:
      return cniError(
        version,
        CNIErrorCode.invalidEnv,
        `nicpool: unknown CNI_COMMAND ${JSON.stringify(command)}`,
      );
  }
}
