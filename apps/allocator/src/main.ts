import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeConfigErrors } from '@nicpool/config';
import { buildApp } from './app.ts';
import { readAllocatorConfig } from './config.ts';

const config = readAllocatorConfig(process.env);
if (!config.ok) {
  console.error(describeConfigErrors('nicpool-allocator', config.error));
  process.exit(2);
}
const { socketPath } = config.value;
const app = buildApp(config.value);
mkdirSync(dirname(socketPath), { recursive: true });
// A socket file left by a killed predecessor would make listen fail with EADDRINUSE.
rmSync(socketPath, { force: true });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
await app.listen({ path: socketPath });
chmodSync(socketPath, 0o600);
