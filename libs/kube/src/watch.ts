import {
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { apiStatus } from './errors.ts';

/**
 * One page request of a list: spread it into a client-node list call
 * (`core.listPodForAllNamespaces({ ...page })`). A list function that ignores it returns
 * the whole collection in one answer, which still works (one page, no `continue`).
 */
export interface ListPage {
  readonly limit: number;
  readonly _continue?: string;
}

export interface WatchSpec<V> {
  /** For logs: "pools", "namespaces", … */
  readonly what: string;
  /** Collection path, e.g. `/apis/spiderpool.spidernet.io/v2beta1/spiderippools`. */
  readonly path: string;
  /** The list call, with the same selectors as the watch; pass `page` on to paginate. */
  readonly list: (page: ListPage) => Promise<KubernetesListObject<KubernetesObject>>;
  readonly into: Map<string, V>;
  readonly map: (o: KubernetesObject) => V;
  readonly key: (o: KubernetesObject) => string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Called after every change to `into` (e.g. to drop a derived snapshot). */
  readonly onChange?: () => void;
  /** Called after each event with the object as received (e.g. to queue a reconcile). */
  readonly onEvent?: (type: 'add' | 'update' | 'delete', o: KubernetesObject) => void;
}

export interface Watching {
  /**
   * True once the initial list has been applied, and false again while the watch has been
   * down (disconnected, or waiting for a relist after 410 Gone) for longer than the grace:
   * readiness must not stay green on a cache nobody feeds.
   */
  synced(): boolean;
  stop(): Promise<void>;
}

/** A watch event as the API server sends it (`BOOKMARK` and `ERROR` included). */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Query of one watch request. */
export interface WatchRequest {
  readonly resourceVersion: string;
  readonly allowWatchBookmarks: true;
  /** Server-side timeout: the server ends the watch cleanly and we resume from the last version. */
  readonly timeoutSeconds: number;
}

/**
 * How watchInto reaches the API server: one list page, one watch request. The default
 * uses the spec's `list` and client-node's `Watch`; tests pass a fake.
 */
export interface WatchTransport {
  list(page: ListPage): Promise<KubernetesListObject<KubernetesObject>>;
  /**
   * Opens a watch; `onEvent` gets each event, `done` is called once when it ends (with
   * the error, or null/undefined on a clean close). Resolves once the request is under way.
   */
  watch(
    request: WatchRequest,
    onEvent: (type: string, object: KubernetesObject) => void,
    done: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
}

export interface WatchOptions {
  readonly transport?: WatchTransport;
  /** Items per list page (default 500, like client-go's informers). */
  readonly pageSize?: number;
  /** How long the watch may be down before `synced()` turns false (default 30 s). */
  readonly disconnectGraceMs?: number;
  /** First retry delay after a failure, doubled up to 5 s (default 1 s). */
  readonly retryBaseMs?: number;
  /**
   * A watch silent this long is presumed dead and reopened (default 90 s). The API server
   * sends a bookmark about once a minute, so a healthy quiet watch is never cut.
   */
  readonly idleTimeoutMs?: number;
  readonly now?: () => number;
}

/** `metadata.namespace/metadata.name` (namespaced) or `/name` (cluster-scoped). */
export const objectKey = (o: KubernetesObject): string =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

// client-go caps at 30 s; 5 s keeps a component that started before its CRDs (or the API
// server) ready within seconds of them, still 5x fewer calls than the old fixed 1 s.
const MAX_RETRY_MS = 5_000;

/** What the loop remembers of each object: enough to skip unchanged relist items and to report deletions. */
interface Seen {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly resourceVersion: string;
}

/** Is `value`'s resourceVersion before `at`? (etcd's are integers; anything else: unknown, false.) */
function olderThan(value: unknown, at: string): boolean {
  const rv = (value as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata
    ?.resourceVersion;
  if (typeof rv !== 'string' || !/^[0-9]+$/.test(rv) || !/^[0-9]+$/.test(at)) return false;
  return BigInt(rv) < BigInt(at);
}

/**
 * The next page's token. Typed client lists (pods, workloads) are deserialized with the
 * field renamed `_continue`; custom-object lists are plain JSON and keep `continue`.
 */
function continueOf(page: KubernetesListObject<KubernetesObject>): string | undefined {
  const meta = page.metadata as { _continue?: unknown; continue?: unknown } | undefined;
  const token = meta?._continue ?? meta?.continue;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/** client-node's idle timeout: a watch nobody wrote to; reopen at once, it is no failure. */
const isIdleCut = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'TimeoutError';

/** Statuses that mean "your resourceVersion (or continue token) is too old: list again". */
const isGone = (e: unknown): boolean =>
  apiStatus(e) === 410 ||
  (typeof e === 'object' && e !== null && (e as { statusCode?: unknown }).statusCode === 410);

function defaultTransport<V>(
  kc: KubeConfig,
  spec: WatchSpec<V>,
  idleTimeoutMs: number,
): WatchTransport {
  const watcher = new Watch(kc);
  // client-node's default cuts a watch after 30 s without data: every quiet collection
  // reconnected twice a minute. Bookmarks keep a healthy watch talking, so the idle cut
  // can wait longer. The field is private in 2.0.x (pinned); watch.test.ts fails if it
  // goes away in an upgrade.
  (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = idleTimeoutMs;
  return {
    list: spec.list,
    watch: async (request, onEvent, done) =>
      watcher.watch(
        spec.path,
        {
          ...request,
          ...(spec.labelSelector === undefined ? {} : { labelSelector: spec.labelSelector }),
          ...(spec.fieldSelector === undefined ? {} : { fieldSelector: spec.fieldSelector }),
        },
        (type: string, object: KubernetesObject) => onEvent(type, object),
        done,
      ),
  };
}

/**
 * Keeps `into` equal to the watched collection: a paginated list, then a watch from the
 * list's resourceVersion with bookmarks, resumed from the last version seen after every
 * close, and a fresh list only after 410 Gone. The loop keeps no copy of the objects
 * (only name, namespace and resourceVersion of each), so memory is what `map` keeps.
 * The one watch loop the apps use; nothing else opens watches.
 */
export function watchInto<V>(
  kc: KubeConfig,
  spec: WatchSpec<V>,
  log: (msg: string, err?: unknown) => void,
  options: WatchOptions = {},
): Watching {
  const pageSize = options.pageSize ?? 500;
  const graceMs = options.disconnectGraceMs ?? 30_000;
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const now = options.now ?? Date.now;
  const transport =
    options.transport ?? defaultTransport(kc, spec, options.idleTimeoutMs ?? 90_000);
  const seen = new Map<string, Seen>();
  let resourceVersion = '';
  let listed = false;
  // The cache is fed (a list just applied, or a watch open) or has been unfed since `downSince`.
  let up = false;
  let downSince = 0;
  let stopped = false;
  let failures = 0;
  let current: { abort(): void } | undefined;
  let wake: (() => void) | undefined;

  const goDown = (): void => {
    if (up) downSince = now();
    up = false;
  };
  const changed = (type: 'add' | 'update' | 'delete', o: KubernetesObject): void => {
    spec.onChange?.();
    spec.onEvent?.(type, o);
  };
  const apply = (type: 'add' | 'update', o: KubernetesObject): void => {
    const key = spec.key(o);
    const rv = o.metadata?.resourceVersion ?? '';
    const before = seen.get(key);
    // A relist repeats what the watch already delivered: no event for an unchanged object.
    if (before !== undefined && rv !== '' && before.resourceVersion === rv) return;
    seen.set(key, {
      name: o.metadata?.name ?? '',
      namespace: o.metadata?.namespace,
      resourceVersion: rv,
    });
    spec.into.set(key, spec.map(o));
    changed(before === undefined && type === 'add' ? 'add' : 'update', o);
  };
  const remove = (o: KubernetesObject): void => {
    const key = spec.key(o);
    seen.delete(key);
    spec.into.delete(key);
    changed('delete', o);
  };
  /** A deletion seen only as absence from a relist: the last value we hold, at the list's version. */
  const absent = (key: string, at: string): KubernetesObject | undefined => {
    const s = seen.get(key);
    const prev: unknown = spec.into.get(key);
    const meta =
      typeof prev === 'object' && prev !== null && 'metadata' in prev
        ? (prev as KubernetesObject)
        : undefined;
    const name = s?.name ?? meta?.metadata?.name;
    if (name === undefined) return undefined;
    const namespace = s?.namespace ?? meta?.metadata?.namespace;
    return {
      ...meta,
      metadata: {
        ...meta?.metadata,
        name,
        ...(namespace === undefined ? {} : { namespace }),
        ...(at === '' ? {} : { resourceVersion: at }),
      },
    };
  };

  const relist = async (): Promise<void> => {
    const inList = new Set<string>();
    let token: string | undefined;
    let at = '';
    // Page by page: only one page of whole objects is ever in memory.
    do {
      const page = await transport.list({
        limit: pageSize,
        ...(token === undefined ? {} : { _continue: token }),
      });
      if (stopped) return;
      at = page.metadata?.resourceVersion ?? at;
      for (const o of page.items) {
        inList.add(spec.key(o));
        apply('add', o);
      }
      token = continueOf(page);
    } while (token !== undefined);
    for (const key of [...spec.into.keys()]) {
      // A value written through after the list's snapshot is newer than the list: keep it.
      if (inList.has(key) || (!seen.has(key) && !olderThan(spec.into.get(key), at))) continue;
      const o = absent(key, at);
      if (o === undefined) {
        seen.delete(key);
        spec.into.delete(key);
        spec.onChange?.();
      } else remove(o);
    }
    resourceVersion = at;
    listed = true;
    up = true;
  };

  /** One watch request, resolved when it ends: clean close, 410 Gone, or another error. */
  const watchOnce = async (): Promise<{ error?: unknown; gone?: boolean; events: number }> => {
    let events = 0;
    let gone = false;
    let endedWith: { err: unknown } | undefined;
    let finish: (err: unknown) => void = () => undefined;
    const ended = new Promise<unknown>((resolve) => {
      finish = (err) => {
        if (endedWith !== undefined) return;
        endedWith = { err: err ?? undefined };
        resolve(err ?? undefined);
      };
    });
    const onEvent = (type: string, o: KubernetesObject): void => {
      if (stopped) return;
      events++;
      failures = 0;
      switch (type as WatchEventType) {
        case 'ADDED':
          apply('add', o);
          break;
        case 'MODIFIED':
          apply('update', o);
          break;
        case 'DELETED':
          remove(o);
          break;
        case 'BOOKMARK':
          // Nothing changed, but we resume from here: no replay, no 410 after a quiet hour.
          break;
        case 'ERROR':
          if ((o as { code?: unknown }).code === 410) gone = true;
          else log(`watch of ${spec.what} reported an error`, o);
          return;
      }
      const rv = o.metadata?.resourceVersion;
      if (rv !== undefined && rv !== '') resourceVersion = rv;
    };
    try {
      current = await transport.watch(
        {
          resourceVersion,
          allowWatchBookmarks: true,
          // Spread over 5–10 min like client-go, so replicas do not reconnect in step.
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        },
        onEvent,
        finish,
      );
    } catch (e) {
      finish(e);
    }
    // The request is under way and has not ended: the cache is fed again.
    if (endedWith === undefined && !stopped) up = true;
    const error = await ended;
    current = undefined;
    if (gone || isGone(error)) return { gone: true, events };
    return error === undefined ? { events } : { error, events };
  };

  const sleep = async (ms: number): Promise<void> => {
    if (stopped) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    wake = undefined;
  };
  const backoff = (): number =>
    Math.min(retryBaseMs * 2 ** Math.max(failures - 1, 0), MAX_RETRY_MS);

  const run = async (): Promise<void> => {
    let needList = true;
    while (!stopped) {
      if (needList) {
        try {
          await relist();
          needList = false;
        } catch (e) {
          if (stopped) return;
          failures++;
          // The API server may not be reachable yet: keep trying; readiness stays false.
          const ms = backoff();
          log(`listing ${spec.what} failed; retrying in ${Math.round(ms / 1000)}s`, e);
          await sleep(ms);
          continue;
        }
        if (stopped) return;
      }
      const started = now();
      const end = await watchOnce();
      if (stopped) return;
      goDown();
      if (end.gone === true) {
        // Our resourceVersion was compacted away: only a fresh list can tell what changed.
        log(`watch of ${spec.what} expired (410 Gone); listing again`);
        needList = true;
        // A fresh list's version expiring again at once must not spin (list, 410, list, …).
        if (end.events === 0) {
          failures++;
          await sleep(backoff());
        }
        continue;
      }
      if (end.error !== undefined && !isIdleCut(end.error)) {
        failures++;
        const ms = backoff();
        log(`watch of ${spec.what} failed; restarting in ${Math.round(ms / 1000)}s`, end.error);
        await sleep(ms);
      } else if (end.error === undefined && end.events === 0 && now() - started < 1000) {
        // A watch that closes at once, again and again, must not spin.
        failures++;
        await sleep(backoff());
      }
    }
  };
  void run();
  return {
    synced: () => listed && (up || now() - downSince <= graceMs),
    stop: (): Promise<void> => {
      // A list in flight is not awaited (it may be slow); its answer is dropped.
      stopped = true;
      current?.abort();
      wake?.();
      return Promise.resolve();
    },
  };
}
