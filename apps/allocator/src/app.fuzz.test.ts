// Property-based fuzzing of the allocator's socket API through fastify inject() with the
// in-memory store (issue #12 item 5c). `make test` runs a fixed-seed sample.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isDeepStrictEqual } from 'node:util';
import fc, { type Arbitrary } from 'fast-check';
import type { FastifyInstance } from 'fastify';
import {
  anyTree,
  CASE_BUDGET_MS,
  FUZZ_TEST_TIMEOUT_MS,
  fuzzParams,
  jsonText,
  nameish,
  prototypePollution,
  type JsonTree,
} from '@nicpool/testing';
import { checkSnapshot, formatFinding, Kind } from '@nicpool/invariants';
import { AllocatorErrorCode, Paths } from '@nicpool/wire';
import { buildApp } from './app.ts';
import { readAllocatorConfig } from './config.ts';
import { MemoryStore } from './memory-store.ts';
import { createMetrics } from './metrics.ts';
import { AllocatorService } from './service.ts';
import { socketPools, TUTORIAL_IPPOOLS, TUTORIAL_MULTUS } from '../test/fixtures.ts';

const POD = 'ippool-test-app-1';

/** The tutorial's two pools and one pod, fresh for every case. */
function reset(store: MemoryStore): void {
  store.poolsByName.clear();
  store.endpoints.clear();
  store.podsByKey.clear();
  for (const p of socketPools()) store.addPool(p);
  store.podsByKey.set(`default/${POD}`, {
    metadata: {
      name: POD,
      namespace: 'default',
      uid: 'uid-1',
      annotations: { ...TUTORIAL_MULTUS, 'ipam.spidernet.io/ippools': TUTORIAL_IPPOOLS },
    },
    spec: { nodeName: 'node1' },
    status: { phase: 'Pending' },
  });
}

/** What the store records: pools (spec and status) and endpoints. */
function recorded(store: MemoryStore): unknown {
  return {
    pools: [...store.poolsByName.values()].map((p) => ({ spec: p.spec, status: p.status })),
    endpoints: [...store.endpoints.entries()].map(([k, e]) => [k, e.status]),
  };
}

const str = (good: string): Arbitrary<JsonTree> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(good) },
    { weight: 3, arbitrary: nameish },
    { weight: 1, arbitrary: fc.nat(300).map((n) => 'a'.repeat(n)) },
    { weight: 1, arbitrary: anyTree },
  );

const field = fc.oneof(
  fc.tuple(fc.constant('containerID'), str('c1')),
  fc.tuple(fc.constant('ifName'), str('eth0')),
  fc.tuple(fc.constant('netNamespace'), str('/var/run/netns/x')),
  fc.tuple(fc.constant('podNamespace'), str('default')),
  fc.tuple(fc.constant('podName'), str(POD)),
  fc.tuple(fc.constant('podUID'), str('uid-1')),
  fc.tuple(
    fc.constantFrom('defaultIPv4IPPool', 'defaultIPv6IPPool'),
    fc.oneof(
      fc.array(nameish, { maxLength: 3 }).map((arr): JsonTree => ({ arr })),
      anyTree,
    ),
  ),
  fc.tuple(fc.constant('cleanGateway'), fc.oneof(fc.boolean(), anyTree)),
  fc.tuple(
    fc.constant('validAttachments'),
    fc.oneof(
      fc
        .array(
          fc.record({ containerID: nameish, ifname: nameish }).map((a): JsonTree => ({
            obj: [
              ['containerID', a.containerID],
              ['ifname', a.ifname],
            ],
          })),
          { maxLength: 3 },
        )
        .map((arr): JsonTree => ({ arr })),
      anyTree,
    ),
  ),
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'extra'), anyTree),
);

/** Lets commits queued with setImmediate, and what they await, finish. */
const settle = async (): Promise<void> => {
  for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
};

const REQUIRED = ['containerID', 'ifName', 'netNamespace', 'podNamespace', 'podName', 'podUID'];

/** A body: mostly one of the API's shapes with some fields dropped or wrong. */
const body: Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(REQUIRED) },
          { weight: 1, arbitrary: fc.subarray([...REQUIRED]) },
        ),
        fc.array(field, { maxLength: 4 }),
      )
      .map(([keep, extra]) => {
        const good: Record<string, string> = {
          containerID: 'c1',
          ifName: 'eth0',
          netNamespace: '/var/run/netns/x',
          podNamespace: 'default',
          podName: POD,
          podUID: 'uid-1',
        };
        return jsonText({ obj: [...keep.map((k): [string, JsonTree] => [k, good[k]!]), ...extra] });
      }),
  },
  { weight: 1, arbitrary: anyTree.map(jsonText) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  // Near and over the 64 KiB body limit.
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 60 * 1024, max: 70 * 1024 })
      .map(
        (n) =>
          `{"containerID":"c1","ifName":"eth0","podNamespace":"default","podName":"${POD}","podUID":"uid-1","netNamespace":"${'x'.repeat(n)}"}`,
      ),
  },
);

const ROUTES = [
  ['POST', Paths.ip],
  ['DELETE', Paths.ip],
  ['POST', Paths.check],
  ['POST', Paths.gc],
  ['GET', Paths.status],
  ['PUT', Paths.ip],
] as const;

const request = fc.record({
  // ADD most often: it is the request that allocates.
  route: fc.oneof(
    { weight: 3, arbitrary: fc.constant(ROUTES[0]) },
    { weight: 4, arbitrary: fc.constantFrom(...ROUTES) },
  ),
  body,
  contentType: fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json; charset=latin1', '') },
  ),
});

// A 400 says which field or what about the body (schema messages name the JSON path).
const NAMES_FIELD =
  /\/[A-Za-z]+|property '[^']+'|body|JSON|content-type|Content-Type|Unexpected|media type/i;

describe('allocator socket API fuzzing', () => {
  let app: FastifyInstance;
  let store: MemoryStore;

  /**
   * A fresh store and service per case: fast-check gives up on a case past its time budget
   * without stopping it, and work it left running must not land in the next case's store.
   * The one app forwards to whichever service is current.
   */
  const fresh = (): void => {
    store = new MemoryStore();
    service = new AllocatorService(
      store,
      {
        nodeName: 'node1',
        retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
        maxRecordsPerPool: 5000,
        autoPoolWaitMs: 0,
      },
      createMetrics(false),
    );
    reset(store);
  };
  let service: AllocatorService;

  beforeAll(async () => {
    const config = readAllocatorConfig({
      NODE_NAME: 'node1',
      NICPOOL_SOCKET_PATH: '/nonexistent/fuzz.sock',
      NICPOOL_LOG_LEVEL: 'error',
    });
    if (!config.ok) throw new Error(config.error.join('; '));
    fresh();
    const current: Pick<AllocatorService, 'add' | 'del' | 'check' | 'gc'> = {
      add: (r) => service.add(r),
      del: (r) => service.del(r),
      check: (r) => service.check(r),
      gc: () => service.gc(),
    };
    // The app calls these four only; the class's private fields make a cast necessary.
    app = buildApp(config.value, { service: current as AllocatorService, ready: () => true });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it(
    'every 4xx carries a code and names the field, changes nothing recorded; no 5xx',
    async () => {
      const seen = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 3 }), async (requests) => {
          fresh();
          for (const { route, body: payload, contentType } of requests) {
            const before = recorded(store);
            const r = await app.inject({
              method: route[0],
              url: route[1],
              ...(route[0] === 'GET' ? {} : { payload }),
              headers: contentType === '' ? {} : { 'content-type': contentType },
            });
            const tag = `${r.statusCode} ${/"code":"([A-Z_]+)"/.exec(r.body)?.[1] ?? ''}`;
            seen.set(tag, (seen.get(tag) ?? 0) + 1);
            const what = `${route[0]} ${route[1]} ${payload.slice(0, 200)} → ${r.statusCode} ${r.body.slice(0, 300)}`;
            if (r.statusCode >= 500) throw new Error(`5xx: ${what}`);
            if (r.statusCode >= 400) {
              const b = r.json<{ code?: unknown; message?: unknown }>();
              if (typeof b.code !== 'string' || typeof b.message !== 'string' || b.message === '')
                throw new Error(`4xx without code and message: ${what}`);
              if (b.code === AllocatorErrorCode.badRequest && !NAMES_FIELD.test(b.message))
                throw new Error(`400 does not name the field: ${what}`);
              if (!isDeepStrictEqual(recorded(store), before))
                throw new Error(`a rejected request changed recorded state: ${what}`);
            }
          }
          const polluted = prototypePollution();
          if (polluted.length > 0) throw new Error(`prototype polluted: ${polluted.join(', ')}`);
        }),
        fuzzParams('allocator/socket-api', 12_000),
      );
      // Where the requests went: proof the fuzzer reaches past schema validation.
      console.info(
        `allocator/socket-api answers: ${[...seen]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k}×${n}`)
          .join(', ')}`,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'pod lifecycles (create, ADD, DEL, re-create, delete, CHECK, GC) in any order keep the invariants: no address twice, counts, records inside the pool, records ⇔ endpoints',
    async () => {
      // Which invariants must hold after every request, whatever the pods do. Records of a
      // deleted pod without DEL (record-pod-gone) are the controller's GC's to release.
      const always: ReadonlySet<string> = new Set([
        Kind.addressHeldTwice,
        Kind.recordTwiceInPool,
        Kind.nicHoldsTwo,
        Kind.allocatedCount,
        Kind.totalCount,
        Kind.recordOutsideIPs,
        Kind.recordExcluded,
        Kind.recordReserved,
        Kind.recordEndpointMismatch,
        Kind.endpointWithoutRecord,
        Kind.recordWithoutEndpoint,
      ]);
      const PODS = 8; // more than the 5 addresses of each pool: exhaustion happens
      const pod = fc.nat(PODS - 1);
      const uid = fc.oneof(
        { weight: 6, arbitrary: fc.constant('current' as const) },
        { weight: 1, arbitrary: fc.constantFrom('stale' as const, 'none' as const) },
      );
      const nic = fc.constantFrom('eth0', 'net1');
      const step = fc.oneof(
        { weight: 3, arbitrary: fc.record({ op: fc.constant('create' as const), pod }) },
        { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), pod }) },
        { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), pod, nic, uid }) },
        { weight: 2, arbitrary: fc.record({ op: fc.constant('del' as const), pod, nic, uid }) },
        { weight: 1, arbitrary: fc.record({ op: fc.constant('check' as const), pod, nic, uid }) },
        {
          weight: 1,
          arbitrary: fc.record({ op: fc.constant('gc' as const), pod: fc.constant(0) }),
        },
      );
      const seen = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
          fresh();
          store.podsByKey.clear();
          const gen = new Map<number, number>();
          const uidOf = (i: number): string => `u${i}-${gen.get(i) ?? 0}`;
          const log: string[] = [];
          // Every pod exists at the start; `create` re-creates it (a new UID, same name).
          const all = Array.from({ length: PODS }, (_, i) => ({ op: 'create' as const, pod: i }));
          for (const s of [...all, ...steps]) {
            const name = `p${s.pod}`;
            let status = 0;
            if (s.op === 'create') {
              gen.set(s.pod, (gen.get(s.pod) ?? 0) + 1);
              store.podsByKey.set(`default/${name}`, {
                metadata: {
                  name,
                  namespace: 'default',
                  uid: uidOf(s.pod),
                  annotations: {
                    ...TUTORIAL_MULTUS,
                    'ipam.spidernet.io/ippools': TUTORIAL_IPPOOLS,
                  },
                },
                spec: { nodeName: 'node1' },
                status: { phase: 'Pending' },
              });
            } else if (s.op === 'delete') store.podsByKey.delete(`default/${name}`);
            else if (s.op === 'gc') {
              const live = [...store.podsByKey.values()].map((p) => ({
                containerID: `c-${p.metadata.uid}`,
                ifname: 'eth0',
              }));
              status = (
                await app.inject({
                  method: 'POST',
                  url: Paths.gc,
                  payload: { validAttachments: live },
                })
              ).statusCode;
            } else {
              const uid =
                s.uid === 'current' ? uidOf(s.pod) : s.uid === 'stale' ? `${uidOf(s.pod)}-old` : '';
              const r = await app.inject({
                method: s.op === 'del' ? 'DELETE' : 'POST',
                url: s.op === 'check' ? Paths.check : Paths.ip,
                payload: {
                  containerID: `c-${uid}`,
                  ifName: s.nic,
                  netNamespace: '/var/run/netns/x',
                  podNamespace: 'default',
                  podName: name,
                  podUID: uid,
                },
              });
              status = r.statusCode;
              const tag = `${s.op} ${r.statusCode} ${/"code":"([A-Z_]+)"/.exec(r.body)?.[1] ?? ''}`;
              seen.set(tag, (seen.get(tag) ?? 0) + 1);
              if (r.statusCode >= 500)
                throw new Error(`${tag}: ${r.body}\nsteps: ${log.join('; ')}`);
            }
            // A failed ADD may answer while another NIC's commit is still queued (reported);
            // let it land before judging, so it is judged with this request.
            if (s.op === 'add' && status !== 200) await settle();
            log.push(
              `${s.op} ${name}${'nic' in s ? ` ${s.nic} ${s.uid}` : ''}${status === 0 ? '' : ` → ${status}`}`,
            );
            const report = checkSnapshot({
              pools: [...store.poolsByName.values()],
              subnets: [],
              endpoints: [...store.endpoints.values()],
              reservedIPs: [],
              pods: [...store.podsByKey.values()].map((p) => ({
                namespace: 'default',
                name: p.metadata.name,
                uid: p.metadata.uid,
                finished: false,
              })),
              statefulSets: [],
            });
            // A record of a pod re-created or deleted without DEL waits for a late DEL or the
            // controller's GC; only findings about records of live pods count here.
            const live = new Set([...store.podsByKey.values()].map((p) => p.metadata.uid));
            const ofGonePod = (f: { message: string }): boolean => {
              const uid = /^record \S+ \(pod \S+ uid (\S+?)[,)]/.exec(f.message)?.[1];
              return uid !== undefined && !live.has(uid);
            };
            const broken = report.violations.filter(
              (f) =>
                always.has(f.kind) &&
                !(
                  (f.kind === Kind.recordEndpointMismatch ||
                    f.kind === Kind.recordWithoutEndpoint) &&
                  ofGonePod(f)
                ),
            );
            if (broken.length > 0)
              throw new Error(`${broken.map(formatFinding).join('\n')}\nafter: ${log.join('; ')}`);
          }
        }),
        // Up to 33 requests per case: a longer case budget than one request's.
        { ...fuzzParams('allocator/lifecycles', 3_000), timeout: 10 * CASE_BUDGET_MS },
      );
      console.info(
        `allocator/lifecycles answers: ${[...seen]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k}×${n}`)
          .join(', ')}`,
      );
    },
    FUZZ_TEST_TIMEOUT_MS,
  );

  it('an unknown route is answered with a code, like every other error (a fuzzing counterexample)', async () => {
    const r = await app.inject({ method: 'PUT', url: Paths.ip, payload: {} });
    expect(r.statusCode).toBe(404);
    expect(r.json<{ code?: unknown }>().code).toEqual(expect.any(String));
  });

  it('the property sees a real allocation (so the fuzzer reaches past validation)', async () => {
    reset(store);
    const r = await app.inject({
      method: 'POST',
      url: Paths.ip,
      payload: {
        containerID: 'c1',
        ifName: 'eth0',
        netNamespace: '/var/run/netns/x',
        podNamespace: 'default',
        podName: POD,
        podUID: 'uid-1',
      },
    });
    expect(r.statusCode).toBe(200);
    expect(store.endpoints.size).toBe(1);
  });
});
