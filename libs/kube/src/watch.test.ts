import { describe, expect, it } from '@jest/globals';
import { Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { loadKubeConfig } from './index.ts';
import {
  objectKey,
  watchInto,
  type ListPage,
  type WatchRequest,
  type WatchTransport,
} from './watch.ts';

const kc = loadKubeConfig({
  kind: 'inline',
  yaml: `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
});

const pod = (name: string, rv: string): KubernetesObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});
type List = KubernetesListObject<KubernetesObject>;
const list = (items: KubernetesObject[], rv: string, next?: string): List => ({
  apiVersion: 'v1',
  kind: 'List',
  items,
  metadata: { resourceVersion: rv, ...(next === undefined ? {} : { _continue: next }) },
});

interface OpenWatch {
  readonly request: WatchRequest;
  send(type: string, o: KubernetesObject | Record<string, unknown>): void;
  end(err?: unknown): void;
}

/** An API server in a box: lists answered by `pages`, watches held open until the test ends them. */
class FakeApi implements WatchTransport {
  readonly lists: ListPage[] = [];
  readonly watches: OpenWatch[] = [];
  pages: (page: ListPage) => List = () => list([], '1');
  failWatch: unknown = undefined;

  async list(page: ListPage): Promise<List> {
    this.lists.push(page);
    return this.pages(page);
  }

  async watch(
    request: WatchRequest,
    onEvent: (type: string, object: KubernetesObject) => void,
    done: (err: unknown) => void,
  ): Promise<{ abort(): void }> {
    if (this.failWatch !== undefined) {
      done(this.failWatch);
      return { abort: () => undefined };
    }
    let ended = false;
    const end = (err?: unknown): void => {
      if (ended) return;
      ended = true;
      done(err ?? null);
    };
    this.watches.push({
      request,
      send: (type, o) => {
        if (!ended) onEvent(type, o);
      },
      end,
    });
    return { abort: () => end() };
  }
}

async function until(what: string, ok: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function start(
  api: FakeApi,
  opts: { graceMs?: number; now?: () => number; retryBaseMs?: number } = {},
) {
  const into = new Map<string, string>();
  const events: string[] = [];
  const w = watchInto(
    kc,
    {
      what: 'pods',
      path: '/api/v1/pods',
      list: async () => list([], '0'),
      into,
      map: (o) => o.metadata?.resourceVersion ?? '',
      key: objectKey,
      onEvent: (type, o) =>
        events.push(`${type} ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    },
    () => undefined,
    {
      transport: api,
      pageSize: 2,
      retryBaseMs: opts.retryBaseMs ?? 1,
      disconnectGraceMs: opts.graceMs ?? 30_000,
      ...(opts.now === undefined ? {} : { now: opts.now }),
    },
  );
  return { w, into, events };
}

describe('watchInto', () => {
  it('lists page by page, then watches from the list’s version with bookmarks', async () => {
    const api = new FakeApi();
    api.pages = (p) =>
      p._continue === undefined
        ? list([pod('a', '5'), pod('b', '6')], '10', 'tok1')
        : list([pod('c', '7')], '10');
    const { w, into } = start(api);
    await until('the watch', () => api.watches.length === 1);
    expect(api.lists).toEqual([{ limit: 2 }, { limit: 2, _continue: 'tok1' }]);
    expect([...into.keys()].sort()).toEqual(['ns/a', 'ns/b', 'ns/c']);
    expect(api.watches[0]!.request).toMatchObject({
      resourceVersion: '10',
      allowWatchBookmarks: true,
    });
    expect(w.synced()).toBe(true);
    await w.stop();
  });

  it('follows `continue` of plain-JSON (custom object) lists too', async () => {
    const api = new FakeApi();
    // CustomObjectsApi answers are not deserialized: the field is `continue`, not `_continue`.
    api.pages = (p) =>
      p._continue === undefined
        ? ({
            ...list([pod('a', '5')], '10'),
            metadata: { resourceVersion: '10', continue: 'tok' },
          } as List)
        : list([pod('b', '6')], '10');
    const { w, into } = start(api);
    await until('the watch', () => api.watches.length === 1);
    expect([...into.keys()].sort()).toEqual(['ns/a', 'ns/b']);
    await w.stop();
  });

  it('is not synced until the last page has been applied', async () => {
    const api = new FakeApi();
    let release: () => void = () => undefined;
    const second = new Promise<void>((r) => (release = r));
    const pages = api.pages;
    api.list = async (p: ListPage): Promise<List> => {
      api.lists.push(p);
      if (p._continue === undefined) return list([pod('a', '5')], '10', 'tok1');
      await second;
      return pages(p);
    };
    const { w, into } = start(api);
    await until('the first page', () => into.has('ns/a'));
    expect(w.synced()).toBe(false);
    release();
    await until('synced', () => w.synced());
    await w.stop();
  });

  it('resumes from a bookmark’s version after a clean close, without listing again', async () => {
    const api = new FakeApi();
    api.pages = () => list([pod('a', '5')], '10');
    const { w, into } = start(api);
    await until('the watch', () => api.watches.length === 1);
    api.watches[0]!.send('MODIFIED', pod('a', '12'));
    api.watches[0]!.send('BOOKMARK', { kind: 'Pod', metadata: { resourceVersion: '40' } });
    api.watches[0]!.end();
    await until('the second watch', () => api.watches.length === 2);
    expect(api.watches[1]!.request.resourceVersion).toBe('40');
    expect(api.lists).toHaveLength(1);
    expect(into.get('ns/a')).toBe('12');
    await w.stop();
  });

  it('lists again after 410 Gone, reporting what went away meanwhile and nothing unchanged', async () => {
    const api = new FakeApi();
    api.pages = () => list([pod('a', '5'), pod('b', '6')], '10');
    const { w, into, events } = start(api);
    await until('the watch', () => api.watches.length === 1);
    events.length = 0;
    // While we were away: b deleted, c created, a unchanged.
    api.pages = () => list([pod('a', '5'), pod('c', '20')], '30');
    api.watches[0]!.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    api.watches[0]!.end();
    await until('the second watch', () => api.watches.length === 2);
    expect(api.lists).toHaveLength(2);
    expect([...into.keys()].sort()).toEqual(['ns/a', 'ns/c']);
    expect(events.sort()).toEqual(['add c@20', 'delete b@30']);
    expect(api.watches[1]!.request.resourceVersion).toBe('30');
    await w.stop();
  });

  it('lists again when the watch request itself answers 410', async () => {
    const api = new FakeApi();
    api.pages = () => list([pod('a', '5')], '10');
    api.failWatch = Object.assign(new Error('Gone'), { statusCode: 410 });
    const { w } = start(api);
    await until('a second list', () => api.lists.length >= 2);
    await w.stop();
  });

  it('turns unsynced while disconnected longer than the grace, and synced again once fed', async () => {
    let clock = 1_000_000;
    const api = new FakeApi();
    api.pages = () => list([pod('a', '5')], '10');
    const { w } = start(api, { graceMs: 5000, now: () => clock });
    await until('the watch', () => api.watches.length === 1);
    expect(w.synced()).toBe(true);
    // The connection drops and every reconnect fails.
    api.failWatch = new Error('ECONNREFUSED');
    api.watches[0]!.end(new Error('socket hang up'));
    await new Promise((r) => setTimeout(r, 20));
    clock += 4000;
    expect(w.synced()).toBe(true); // a short blip is not an outage
    clock += 2000;
    expect(w.synced()).toBe(false);
    // The API server is back: the watch reopens from where it was.
    api.failWatch = undefined;
    await until('a new watch', () => api.watches.length === 2, 40_000);
    expect(api.watches[1]!.request.resourceVersion).toBe('10');
    expect(w.synced()).toBe(true);
    await w.stop();
  });

  it('reopens at once after client-node’s idle cut, but backs off after a failure', async () => {
    const api = new FakeApi();
    const { w } = start(api, { retryBaseMs: 10_000 });
    await until('the watch', () => api.watches.length === 1);
    api.watches[0]!.end(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
    await until('the reopened watch', () => api.watches.length === 2, 3000);
    api.watches[1]!.end(new Error('ECONNRESET'));
    await new Promise((r) => setTimeout(r, 200));
    expect(api.watches).toHaveLength(2);
    await w.stop();
  });

  it('stops feeding the map after stop()', async () => {
    const api = new FakeApi();
    const { w, into } = start(api);
    await until('the watch', () => api.watches.length === 1);
    const open = api.watches[0]!;
    await w.stop();
    open.send('ADDED', pod('late', '99'));
    expect(into.has('ns/late')).toBe(false);
  });

  it('can lengthen client-node’s idle cut (the private field it sets still exists)', () => {
    // watch.ts sets Watch#requestTimeoutMs (private in 2.0.x); an upgrade that renames it
    // would silently bring back the 30 s reconnects.
    expect(new Watch(kc)).toHaveProperty('requestTimeoutMs', 30_000);
  });
});
