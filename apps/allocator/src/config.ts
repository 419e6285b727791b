import Type, { type Static } from 'typebox';
import { loadConfig, type Env } from '@nicpool/config';
import type { Result } from '@nicpool/result';

export const AllocatorConfig = Type.Object({
  socketPath: Type.String({ minLength: 1, default: '/var/run/spidernet/spiderpool.sock' }),
  nodeName: Type.String({
    minLength: 1,
    maxLength: 253,
    description: 'This node (downward API spec.nodeName).',
  }),
  logLevel: Type.Union(
    [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
    { default: 'info' },
  ),
});
export type AllocatorConfig = Static<typeof AllocatorConfig>;

export function readAllocatorConfig(env: Env): Result<AllocatorConfig, string[]> {
  return loadConfig(AllocatorConfig, env, {
    socketPath: 'NICPOOL_SOCKET_PATH',
    nodeName: 'NODE_NAME',
    logLevel: 'NICPOOL_LOG_LEVEL',
  });
}
