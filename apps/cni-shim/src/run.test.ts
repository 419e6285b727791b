import { describe, expect, it } from '@jest/globals';
import { run, SUPPORTED_VERSIONS } from './run.ts';

describe('shim run()', () => {
  it('answers VERSION with every supported version', async () => {
    const out = await run({ env: { CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"0.3.1"}' });
    expect(out.exitCode).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: [...SUPPORTED_VERSIONS],
    });
  });

  it('missing CNI_COMMAND → code 4, in the netconf version', async () => {
    const out = await run({ env: {}, stdin: '{"cniVersion":"0.3.1"}' });
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual({
      cniVersion: '0.3.1',
      code: 4,
      msg: 'nicpool: CNI_COMMAND is not set',
    });
  });

  it('says plainly that ADD is not in this build rather than pretending', async () => {
    const out = await run({ env: { CNI_COMMAND: 'ADD' }, stdin: '{"cniVersion":"1.0.0"}' });
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({
      code: 4,
      msg: 'nicpool: CNI_COMMAND=ADD is not supported by this build of the shim',
    });
  });

  it('unknown command → code 4', async () => {
    const out = await run({ env: { CNI_COMMAND: 'FOO' }, stdin: '' });
    expect(JSON.parse(out.stdout)).toMatchObject({
      code: 4,
      msg: 'nicpool: unknown CNI_COMMAND "FOO"',
    });
  });
});
