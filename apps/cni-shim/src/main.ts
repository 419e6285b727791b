import { readFileSync } from 'node:fs';
import { socketClient } from './client.ts';
import { run } from './run.ts';

// No top-level await: the single-executable build runs this as CommonJS. stdin is read
// synchronously: `new Response(process.stdin)` would load the fetch stack (~30 ms per exec).
function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return ''; // closed or absent stdin: run() reports the missing netconf
  }
}

void (async (): Promise<void> => {
  const out = await run({ env: process.env, stdin: readStdin(), client: socketClient(60_000) });
  process.stdout.write(out.stdout, () => process.exit(out.exitCode));
})();
