import { run } from './run.ts';
const out = await run({ env: process.env, stdin: await new Response(process.stdin).text() });
process.stdout.write(out.stdout, () => process.exit(out.exitCode));
