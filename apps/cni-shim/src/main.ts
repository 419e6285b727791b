import { socketClient } from './client.ts';
import { run } from './run.ts';

// No top-level await: the single-executable build runs this as CommonJS.
void (async (): Promise<void> => {
  const stdin = await new Response(process.stdin).text();
  const out = await run({ env: process.env, stdin, client: socketClient(60_000) });
  process.stdout.write(out.stdout, () => process.exit(out.exitCode));
})();
