import { socketClient } from './client.ts';
import { run } from './run.ts';
import { readStdin } from './stdin.ts';
// CommonJS in the single executable: no top-level await.
void run({ env: process.env, stdin: readStdin(), client: socketClient(60_000) }).then((o) =>
  process.stdout.write(o.stdout, () => process.exit(o.exitCode)),
);
