// Property-based fuzzing of the webhook app with AdmissionReviews through inject()
// (issue #12 item 5d). `make test` runs a fixed-seed sample.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc, { type Arbitrary } from 'fast-check';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { FastifyInstance } from 'fastify';
import {
  annotationMap,
  anyTree,
  FUZZ_TEST_TIMEOUT_MS,
  fuzzParams,
  jsonText,
  nameish,
  prototypePollution,
  type JsonTree,
} from '@nicpool/testing';
import { buildApp, createMetrics } from './app.ts';
import { readWebhookConfig } from './config.ts';
import { MULTUS, snapshot } from '../test/fixtures.ts';

const BODY_LIMIT = 8 * 1024 * 1024;

const KINDS = [
  { group: '', version: 'v1', kind: 'Pod' },
  { group: 'apps', version: 'v1', kind: 'Deployment' },
  { group: 'apps', version: 'v1', kind: 'ReplicaSet' },
  { group: 'apps', version: 'v1', kind: 'StatefulSet' },
  { group: 'apps', version: 'v1', kind: 'DaemonSet' },
  { group: 'batch', version: 'v1', kind: 'Job' },
  { group: 'batch', version: 'v1', kind: 'CronJob' },
  { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind: 'SpiderIPPool' },
  { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind: 'SpiderSubnet' },
  { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind: 'SpiderReservedIP' },
  { group: '', version: 'v1', kind: 'Namespace' },
] as const;

/** Tree → value, through JSON text so duplicate and `__proto__` keys land as JSON.parse puts them. */
const value = (t: JsonTree): unknown => JSON.parse(jsonText(t));

const annotations: Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 6, arbitrary: annotationMap.map((a) => ({ ...MULTUS, ...a })) },
  { weight: 2, arbitrary: annotationMap },
);

// Line breaks included: a denial stays one problem a line whatever the values hold
// (decide-pool.ts quotes them, and escapes those the messages of @nicpool/ip keep raw).
const objectName = nameish;
const stringMap = fc.dictionary(objectName, objectName, { maxKeys: 3 });

/** Pod metadata: what the API server always sends (an object), with hostile annotations. */
const meta = fc.record(
  {
    name: objectName,
    namespace: fc.constantFrom('default', 'prod', 'other'),
    labels: stringMap,
    annotations,
    ownerReferences: fc.constantFrom(
      [],
      [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true }],
    ),
  },
  { requiredKeys: ['name', 'annotations'] },
);

// Pool CRDs reach the webhook after the API server's structural schema has checked the
// JSON types (fields are strings, arrays, booleans as declared); the values are hostile.
const ipList = fc.array(
  fc.oneof(
    fc.constantFrom(
      '10.6.168.170',
      '10.6.168.176-10.6.168.180',
      '10.6.0.1-10.6.255.254',
      '10.20.0.1',
      'fd00:6::10-fd00:6::20',
      'fd00:6::/64',
      '10.6.0.0/16',
      '10.6.168.180-10.6.168.176',
      'bogus',
      '',
    ),
    objectName,
  ),
  { maxLength: 3 },
);

/** Pool CRD specs: mostly plausible, values hostile, types as the CRD schema declares. */
const crdSpec = fc.record(
  {
    subnet: fc.oneof(
      fc.constantFrom(
        '10.6.0.1/16',
        '10.6.0.0/16',
        '10.20.0.0/24',
        'fd00:6::/64',
        '::/0',
        '0.0.0.0/0',
        'x',
      ),
      objectName,
    ),
    ips: ipList,
    excludeIPs: ipList,
    gateway: fc.oneof(fc.constantFrom('10.6.0.1', 'fd00:6::1', 'nope'), objectName),
    ipVersion: fc.constantFrom(4, 6),
    disable: fc.boolean(),
    default: fc.boolean(),
    namespaceName: fc.array(objectName, { maxLength: 2 }),
    multusName: fc.array(objectName, { maxLength: 2 }),
    podAffinity: fc.record({ matchLabels: stringMap }),
  },
  // `subnet` is required by the pool and subnet CRDs; see the tests below for without.
  { requiredKeys: ['subnet'] },
);

const crdObject = (kind: string): Arbitrary<unknown> =>
  fc.record({
    apiVersion: fc.constant('spiderpool.spidernet.io/v2beta1'),
    kind: fc.constant(kind),
    metadata: fc.record(
      {
        name: objectName,
        uid: nameish,
        labels: stringMap,
        finalizers: fc.constantFrom([], ['spiderpool.spidernet.io']),
        deletionTimestamp: fc.constant('2026-12-01T00:00:00Z'),
      },
      { requiredKeys: ['name'] },
    ),
    spec: crdSpec,
    status: fc.oneof(
      fc.constant(undefined),
      fc.record({
        allocatedIPs: fc.oneof(
          fc.constant('{"10.6.168.176":{"pod":"default/x","podUid":"u","interface":"eth0"}}'),
          nameish,
        ),
        allocatedIPCount: fc.integer(),
      }),
    ),
  });

/** The object of a request, shaped for its kind (pod metadata where the kind keeps it). */
const objectFor = (kind: string): Arbitrary<unknown> => {
  if (kind.startsWith('Spider')) return crdObject(kind);
  const template = meta.map((m) => ({ metadata: m, spec: { containers: [] } }));
  switch (kind) {
    case 'Pod':
      return meta.map((m) => ({ apiVersion: 'v1', kind, metadata: m, spec: {} }));
    case 'Namespace':
      // Default-pool annotations live on the namespace itself.
      return meta.map((m) => ({ apiVersion: 'v1', kind, metadata: m }));
    case 'CronJob':
      return template.map((t) => ({
        kind,
        metadata: { name: 'cj' },
        spec: { jobTemplate: { spec: { template: t, parallelism: 2 } } },
      }));
    default:
      return fc.tuple(template, fc.nat(10)).map(([t, replicas]) => ({
        kind,
        metadata: { name: 'w' },
        spec: { replicas, template: t },
      }));
  }
};

const review: Arbitrary<{ uid: string; body: unknown }> = fc
  .tuple(
    fc.constantFrom(...KINDS),
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('CREATE', 'UPDATE') },
      { weight: 1, arbitrary: fc.constantFrom('DELETE', 'CONNECT', 'create', '') },
    ),
    nameish.filter((u) => u !== ''),
    fc.boolean(),
    fc.constantFrom('', 'system:serviceaccount:nicpool-system:nicpool-controller', 'alice'),
  )
  .chain(([kind, operation, uid, withOld, username]) =>
    fc.tuple(objectFor(kind.kind), objectFor(kind.kind)).map(([object, oldObject]) => ({
      uid,
      body: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid,
          kind,
          operation,
          namespace: 'default',
          name: 'x',
          object,
          ...(withOld || operation === 'UPDATE' ? { oldObject } : {}),
          userInfo: { username },
        },
      },
    })),
  );

/** Bodies that are not AdmissionReviews (or barely). */
const notAReview: Arbitrary<unknown> = fc.oneof(
  anyTree.map(value),
  fc.constant({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
  fc.constant({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }),
  fc.record({
    apiVersion: fc.constant('admission.k8s.io/v1'),
    kind: fc.constant('AdmissionReview'),
    request: anyTree.map(value),
  }),
);

// A denial line names where: an annotation key, a Multus key or a field path of the object.
const NAMES_PATH =
  /ipam\.spidernet\.io\/|k8s\.v1\.cni\.cncf\.io\/|v1\.multus-cni\.io\/|(^|[\s(])(spec|metadata|status)(\.[A-Za-z]|:)|only its finalizers may change/;

/**
 * fastify refuses a body with a `__proto__` key, or a `constructor` holding `prototype`,
 * anywhere (prototype poisoning) with a 400; the API server never sends one (typed objects,
 * validated annotation keys).
 */
const poisoned = (text: string): boolean =>
  // Over-approximated: any `constructor` and `prototype` key in the same body.
  text.includes('"__proto__":') ||
  (text.includes('"constructor":') && text.includes('"prototype":'));

interface Reply {
  statusCode: number;
  body: string;
}

/** What is wrong with the answer to an AdmissionReview with this uid, or undefined. */
function reviewProblem(uid: string, r: Reply): string | undefined {
  if (r.statusCode !== 200) return `HTTP ${r.statusCode}`;
  const b = JSON.parse(r.body) as {
    apiVersion?: unknown;
    kind?: unknown;
    response?: {
      uid?: unknown;
      allowed?: unknown;
      status?: { code?: unknown; message?: unknown };
      warnings?: unknown;
      patch?: unknown;
      patchType?: unknown;
    };
  };
  if (b.apiVersion !== 'admission.k8s.io/v1' || b.kind !== 'AdmissionReview')
    return 'not an AdmissionReview';
  const res = b.response;
  if (res === undefined) return 'no response';
  if (res.uid !== uid) return `uid ${JSON.stringify(res.uid)} instead of ${JSON.stringify(uid)}`;
  if (typeof res.allowed !== 'boolean') return 'allowed is not a boolean';
  if (
    res.warnings !== undefined &&
    (!Array.isArray(res.warnings) || res.warnings.some((w) => typeof w !== 'string'))
  )
    return 'warnings are not strings';
  if (res.patch !== undefined) {
    if (res.patchType !== 'JSONPatch' || typeof res.patch !== 'string')
      return 'patch without JSONPatch type';
    if (!Array.isArray(JSON.parse(Buffer.from(res.patch, 'base64').toString())))
      return 'patch is not a JSON Patch';
  }
  if (!res.allowed) {
    const msg = res.status?.message;
    if (typeof msg !== 'string' || msg === '') return 'denial without a message';
    const unnamed = msg.split('\n').filter((l) => !NAMES_PATH.test(l));
    if (unnamed.length > 0) return `denial line names no path: ${unnamed[0]!.slice(0, 300)}`;
  }
  return undefined;
}

describe('webhook fuzzing', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nicpool-webhook-fuzz-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'k.pem',
        '-out',
        'c.pem',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const config = readWebhookConfig({
      NICPOOL_WEBHOOK_TLS_CERT: join(dir, 'c.pem'),
      NICPOOL_WEBHOOK_TLS_KEY: join(dir, 'k.pem'),
      NICPOOL_LOG_LEVEL: 'error',
      NICPOOL_WEBHOOK_CONTROLLER_USERS: 'system:serviceaccount:nicpool-system:nicpool-controller',
    });
    if (!config.ok) throw new Error(config.error.join('; '));
    // One snapshot for the whole run: the caches' memos key on the arrays, as in production.
    const snap = snapshot();
    app = buildApp(config.value, {
      tls: { cert: readFileSync(join(dir, 'c.pem')), key: readFileSync(join(dir, 'k.pem')) },
      metrics: createMetrics(false),
      snapshot: () => snap,
      ready: () => true,
    });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (url: string, payload: string): Promise<Reply> => {
    const r = await app.inject({
      method: 'POST',
      url,
      payload,
      headers: { 'content-type': 'application/json' },
    });
    return { statusCode: r.statusCode, body: r.body };
  };

  it(
    'AdmissionReviews of every kind: a well-formed response echoing the uid; denials name the path',
    async () => {
      const seen = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(
          review,
          fc.constantFrom('/validate', '/mutate'),
          async ({ uid, body }, url) => {
            const text = JSON.stringify(body);
            const r = await post(url, text);
            const p =
              poisoned(text) && r.statusCode === 400 && r.body.includes('not valid JSON')
                ? undefined
                : reviewProblem(uid, r);
            const verdict =
              r.statusCode === 200
                ? r.body.includes('"allowed":true')
                  ? 'allowed'
                  : 'denied'
                : `HTTP ${r.statusCode}`;
            seen.set(verdict, (seen.get(verdict) ?? 0) + 1);
            if (p !== undefined)
              throw new Error(
                `${p}\nrequest: ${text.slice(0, 600)}\nanswer: ${r.body.slice(0, 600)}`,
              );
            const polluted = prototypePollution();
            if (polluted.length > 0) throw new Error(`prototype polluted: ${polluted.join(', ')}`);
          },
        ),
        fuzzParams('webhook/admission-review', 12_000),
      );
      console.info(
        `webhook/admission-review verdicts: ${[...seen].map(([k, n]) => `${k}×${n}`).join(', ')}`,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'mutate is idempotent: a pool, subnet or reserved IP as patched needs no second patch',
    async () => {
      // The API server may call a mutating webhook again (reinvocationPolicy) and re-applies
      // what it answers; a patch that keeps changing its own result never settles.
      const crdKinds = KINDS.filter((k) => k.kind.startsWith('Spider'));
      const reviewOf = (kind: (typeof crdKinds)[number], object: unknown): string =>
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'm', kind, operation: 'CREATE', name: 'x', object },
        });
      const patchOf = (r: Reply): Operation[] | undefined => {
        const patch = (JSON.parse(r.body) as { response?: { patch?: string } }).response?.patch;
        return patch === undefined
          ? undefined
          : (JSON.parse(Buffer.from(patch, 'base64').toString()) as Operation[]);
      };
      let patched = 0;
      await fc.assert(
        fc.asyncProperty(
          fc
            .constantFrom(...crdKinds)
            .chain((kind) => objectFor(kind.kind).map((o) => ({ kind, o }))),
          async ({ kind, o }) => {
            const first = await post('/mutate', reviewOf(kind, o));
            const ops = first.statusCode === 200 ? patchOf(first) : undefined;
            if (ops === undefined) return;
            patched++;
            const next = fastJsonPatch.applyPatch(structuredClone(o), ops, true, false).newDocument;
            const second = await post('/mutate', reviewOf(kind, next));
            const again = patchOf(second);
            if (second.statusCode !== 200 || again !== undefined)
              throw new Error(
                `second mutate: HTTP ${second.statusCode} ${JSON.stringify(again)}\nobject: ${JSON.stringify(next).slice(0, 600)}\nfirst patch: ${JSON.stringify(ops)}`,
              );
          },
        ),
        fuzzParams('webhook/mutate-idempotent', 4_000),
      );
      console.info(`webhook/mutate-idempotent: ${patched} objects were patched`);
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'mutate sees pool CRDs before the schema check: any shape of spec, status and metadata fields gets an answer, never a 500',
    async () => {
      const crdKinds = KINDS.filter((k) => k.kind.startsWith('Spider'));
      const wrong = anyTree.map(value);
      const loose = fc.record(
        {
          apiVersion: fc.constant('spiderpool.spidernet.io/v2beta1'),
          metadata: fc.record(
            {
              name: objectName,
              labels: fc.oneof(stringMap, wrong),
              annotations: fc.oneof(stringMap, wrong),
              finalizers: fc.oneof(fc.constantFrom([], ['spiderpool.spidernet.io']), wrong),
              ownerReferences: wrong,
            },
            { requiredKeys: ['name'] },
          ),
          spec: fc.oneof(
            crdSpec,
            fc.dictionary(
              fc.constantFrom(
                'subnet',
                'ips',
                'excludeIPs',
                'gateway',
                'ipVersion',
                'vlan',
                'routes',
                'default',
                'disable',
                'namespaceName',
                'podAffinity',
                'nodeAffinity',
                'multusName',
              ),
              wrong,
              { maxKeys: 5 },
            ),
            wrong,
          ),
          status: wrong,
        },
        { requiredKeys: ['apiVersion', 'metadata'] },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...crdKinds),
          loose,
          fc.constantFrom('CREATE', 'UPDATE'),
          async (kind, o, operation) => {
            const body = JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              request: {
                uid: 'w',
                kind,
                operation,
                name: 'x',
                object: { ...o, kind: kind.kind },
                ...(operation === 'UPDATE' ? { oldObject: { ...o, kind: kind.kind } } : {}),
              },
            });
            const r = await post('/mutate', body);
            const p =
              poisoned(body) && r.statusCode === 400 && r.body.includes('not valid JSON')
                ? undefined
                : reviewProblem('w', r);
            if (p !== undefined)
              throw new Error(
                `${p}\nrequest: ${body.slice(0, 600)}\nanswer: ${r.body.slice(0, 400)}`,
              );
          },
        ),
        fuzzParams('webhook/mutate-any-shape', 4_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'bodies that are not AdmissionReviews: a clear 400, never a 5xx',
    async () => {
      await fc.assert(
        fc.asyncProperty(notAReview, fc.constantFrom('/validate', '/mutate'), async (body, url) => {
          const r = await post(url, JSON.stringify(body) ?? 'null');
          if (r.statusCode !== 400)
            throw new Error(`HTTP ${r.statusCode}: ${r.body.slice(0, 300)}`);
          const b = JSON.parse(r.body) as { message?: unknown };
          if (typeof b.message !== 'string' || !/body|JSON/i.test(b.message))
            throw new Error(`unclear 400: ${r.body}`);
        }),
        fuzzParams('webhook/not-a-review', 2_000),
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it('bodies near and over the size limit: an answer under it, 413 over it', async () => {
    const pad = (n: number): string =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'big',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          operation: 'CREATE',
          namespace: 'default',
          object: {
            metadata: {
              name: 'p',
              annotations: {
                'ipam.spidernet.io/ippool': '{"ipv4":["ippool-test-ens192"]}',
                big: 'x'.repeat(n),
              },
            },
          },
        },
      });
    const base = pad(0).length;
    const under = await post('/validate', pad(BODY_LIMIT - base - 16));
    expect(reviewProblem('big', under)).toBeUndefined();
    const over = await post('/validate', pad(BODY_LIMIT - base + 16));
    expect(over.statusCode).toBe(413);
  });

  // Counterexamples the fuzzing found in decide-pool.ts, fixed there (decide-pool.test.ts
  // sweeps every field mutation and validation read with every JSON type).
  const crdReview = (kind: string, spec: unknown, url = '/mutate'): Promise<Reply> =>
    post(
      url,
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'u1',
          kind: { group: 'spiderpool.spidernet.io', version: 'v2beta1', kind },
          operation: 'CREATE',
          object: {
            apiVersion: 'spiderpool.spidernet.io/v2beta1',
            kind,
            metadata: { name: 'p' },
            spec,
          },
        },
      }),
    );

  it('mutate: a SpiderIPPool without spec.subnet gets an answer, not a 500 (schema checks come after mutation)', async () => {
    expect(reviewProblem('u1', await crdReview('SpiderIPPool', {}))).toBeUndefined();
  });

  it('mutate: a SpiderIPPool whose spec.ips is not an array gets an answer, not a 500', async () => {
    expect(
      reviewProblem('u1', await crdReview('SpiderIPPool', { subnet: '10.6.0.0/16', ips: {} })),
    ).toBeUndefined();
  });

  it('validate: a value with a line break is quoted, so a one-problem denial is one line', async () => {
    const r = await crdReview(
      'SpiderSubnet',
      { subnet: '10.99.0.0/16', gateway: 'x\ny' },
      '/validate',
    );
    const msg = (JSON.parse(r.body) as { response?: { status?: { message?: string } } }).response
      ?.status?.message;
    expect(msg).toMatch(/gateway/);
    expect(msg).not.toMatch(/\n/);
  });
});

describe('the response check itself', () => {
  const answer = (response: object): Reply => ({
    statusCode: 200,
    body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }),
  });
  it('refuses a wrong uid, a 500 and a denial line that names no path', () => {
    expect(reviewProblem('u', answer({ uid: 'u', allowed: true }))).toBeUndefined();
    expect(reviewProblem('u', answer({ uid: 'v', allowed: true }))).toMatch(/uid/);
    expect(reviewProblem('u', { statusCode: 500, body: '{}' })).toBe('HTTP 500');
    const denied = (message: string): Reply =>
      answer({ uid: 'u', allowed: false, status: { code: 422, message } });
    expect(reviewProblem('u', denied('spec.ips[0]: "x" is not an IP address'))).toBeUndefined();
    expect(reviewProblem('u', denied('something is wrong'))).toMatch(/names no path/);
  });
});
