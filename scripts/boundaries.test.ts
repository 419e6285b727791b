import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
// @ts-expect-error: plain JS config module without types
import { boundaries } from '../eslint.boundaries.js';

// Proves the import-direction rule of eslint.config.js fails the build on a wrong arrow.
const eslint = new ESLint({
  cwd: new URL('..', import.meta.url).pathname,
  overrideConfigFile: true,
  overrideConfig: [
    { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
    ...(boundaries as []),
  ],
});

async function problems(filePath: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return (r?.messages ?? []).map((m) => `${m.ruleId ?? ''}: ${m.message}`);
}

describe('import direction', () => {
  it.each([
    ['libs/annotations/src/x.ts', "import { buildApp } from '@nicpool/webhook';"],
    ['libs/ip/src/x.ts', "import { run } from '../../../apps/cni-shim/src/run.ts';"],
    ['libs/ip/src/x.ts', "import { ok } from '../../result/src/index.ts';"],
    ['apps/webhook/src/x.ts', "import { buildApp } from '@nicpool/allocator';"],
    ['apps/allocator/src/x.ts', "import { run } from '../../cni-shim/src/run.ts';"],
  ])('%s: %s is an error', async (file, code) => {
    const p = await problems(file, code);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^no-restricted-imports: /);
  });

  it.each([
    ['apps/webhook/src/x.ts', "import { parseIPPools } from '@nicpool/annotations';"],
    ['apps/webhook/src/x.ts', "import { buildApp } from './app.ts';"],
    ['libs/annotations/src/x.ts', "import { RangeSet } from '@nicpool/ip';"],
  ])('%s: %s is allowed', async (file, code) => {
    expect(await problems(file, code)).toEqual([]);
  });
});
