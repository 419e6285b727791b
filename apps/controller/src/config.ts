import Type, { type Static } from 'typebox';
import { loadConfig, type Env } from '@nicpool/config';
import type { Result } from '@nicpool/result';

export const ControllerConfig = Type.Object({
  host: Type.String({ default: '0.0.0.0' }),
  port: Type.Integer({
    minimum: 1,
    maximum: 65535,
    default: 5721,
    description: 'Health and metrics port.',
  }),
  logLevel: Type.Union(
    [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
    { default: 'info' },
  ),
});
export type ControllerConfig = Static<typeof ControllerConfig>;

export function readControllerConfig(env: Env): Result<ControllerConfig, string[]> {
  return loadConfig(ControllerConfig, env, {
    host: 'NICPOOL_CONTROLLER_HOST',
    port: 'NICPOOL_CONTROLLER_PORT',
    logLevel: 'NICPOOL_LOG_LEVEL',
  });
}
