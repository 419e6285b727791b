// Property-based fuzzing of the shim's HTTP/1.1 response reader: any body, framing and
// split of the bytes as they arrive reads back the body; arbitrary bytes never break it.
// `make test` runs a fixed-seed sample.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FUZZ_TEST_TIMEOUT_MS, fuzzParams, withinBudget } from '@nicpool/testing';
import { parseResponse } from './client.ts';

const FRAMINGS = ['content-length', 'chunked', 'eof'] as const;

/** A response carrying `body`, framed as asked, with chunks cut at `cuts`. */
function response(
  status: number,
  body: string,
  framing: (typeof FRAMINGS)[number],
  cuts: number[],
  upper: boolean,
): Buffer {
  const bytes = Buffer.from(body);
  const h = (name: string): string => (upper ? name.toUpperCase() : name);
  const head = `HTTP/1.1 ${status} X\r\n${h('content-type')}: application/json\r\n`;
  if (framing === 'content-length')
    return Buffer.concat([
      Buffer.from(`${head}${h('content-length')}: ${bytes.length}\r\n\r\n`),
      bytes,
    ]);
  if (framing === 'eof') return Buffer.concat([Buffer.from(`${head}\r\n`), bytes]);
  const at = [...new Set([0, ...cuts.map((c) => c % (bytes.length + 1)), bytes.length])].sort(
    (a, b) => a - b,
  );
  const parts = [Buffer.from(`${head}${h('transfer-encoding')}: chunked\r\n\r\n`)];
  for (let i = 1; i < at.length; i++) {
    const chunk = bytes.subarray(at[i - 1], at[i]);
    if (chunk.length > 0)
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('parseResponse (fuzz)', () => {
  it(
    'reads back any body, whatever the framing and however the bytes arrive',
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
          fc.string({ unit: 'binary', maxLength: 400 }),
          fc.constantFrom(...FRAMINGS),
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.boolean(),
          fc.nat(),
          (status, body, framing, cuts, upper, split) => {
            const data = response(status, body, framing, cuts, upper);
            withinBudget('parseResponse', () => {
              // Any proper prefix either waits for more bytes or, for chunked, is complete only
              // once the last chunk is in; the whole reads back the body.
              const prefix = data.subarray(0, split % data.length);
              const early = parseResponse(prefix, false);
              if (early !== undefined) expect(early).toEqual({ status, body });
              const whole = parseResponse(data, framing === 'eof');
              expect(whole).toEqual({ status, body });
            });
          },
        ),
        fuzzParams('cni-shim/parseResponse', 20_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'answers, waits or throws an Error on arbitrary bytes',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            fc
              .tuple(
                fc.constantFrom('HTTP/1.1 200 OK\r\n', 'HTTP/1.0 100 C\r\n\r\n', 'HTTP/1.1 '),
                fc.string({ maxLength: 200 }),
              )
              .map(([a, b]) => Buffer.from(`${a}${b}`)),
          ),
          fc.boolean(),
          (bytes, ended) => {
            withinBudget('parseResponse', () => {
              try {
                const r = parseResponse(Buffer.from(bytes), ended);
                if (ended) expect(r).toBeDefined();
                if (r !== undefined) expect(typeof r.body).toBe('string');
              } catch (e) {
                expect(e).toBeInstanceOf(Error);
              }
            });
          },
        ),
        fuzzParams('cni-shim/parseResponse-any-bytes', 20_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );
});
