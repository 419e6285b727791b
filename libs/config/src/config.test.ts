import { describe, expect, it } from '@jest/globals';
import Type from 'typebox';
import { loadConfig } from './index.ts';

const schema = Type.Object({
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
  nodeName: Type.String({ minLength: 1 }),
  debug: Type.Boolean({ default: false }),
});
const vars = { port: 'APP_PORT', nodeName: 'NODE_NAME', debug: 'APP_DEBUG' } as const;

describe('loadConfig', () => {
  it('converts, defaults and validates', () => {
    expect(loadConfig(schema, { NODE_NAME: 'node1', APP_DEBUG: 'true' }, vars)).toEqual({
      ok: true,
      value: { port: 8080, nodeName: 'node1', debug: true },
    });
  });
  it('names the variable and the rule', () => {
    const r = loadConfig(schema, { APP_PORT: '99999' }, vars);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toEqual(['missing NODE_NAME', 'APP_PORT="99999": must be <= 65535']);
  });
  it('refuses a non-number', () => {
    const r = loadConfig(schema, { APP_PORT: 'eighty', NODE_NAME: 'n' }, vars);
    expect(r.ok).toBe(false);
  });
});
