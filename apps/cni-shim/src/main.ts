import { socketClient } from './client.ts';
import { run } from './run.ts';
import { readStdin } from './stdin.ts';
// CommonJS in the single executable: no top-level await. Waiting 5 s for a restarting
// allocator stays well inside the client's 60 s and the runtime's CNI timeout.
const input = { env: process.env, stdin: readStdin(), client: socketClient(60_000) };
void run({ ...input, waitForAllocatorMs: 5_000 }).then((o) =>
  process.stdout.write(o.stdout, () => process.exit(o.exitCode)),
);
