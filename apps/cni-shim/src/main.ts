import { startupSnapshot } from 'node:v8';
import { readStdin } from '@nicpool/cni';
import { socketClient } from './client.ts';
import { run } from './run.ts';

// CommonJS in the single executable: no top-level await. Waiting 5 s for a restarting
// allocator stays well inside the client's 60 s and the runtime's CNI timeout.
function main(): void {
  const input = { env: process.env, stdin: readStdin(), client: socketClient(60_000) };
  void run({ ...input, waitForAllocatorMs: 5_000 }).then((o) =>
    process.stdout.write(o.stdout, () => process.exit(o.exitCode)),
  );
}

// The single executable starts from a V8 startup snapshot taken once this module has loaded
// (scripts/build-shim.ts): each exec runs main() with nothing left to compile or load.
// Everything that depends on the exec (environment, stdin) is read inside main().
if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(main);
else main();
