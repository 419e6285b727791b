import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { loadKubeConfig } from './index.ts';
import { objectKey, watchInto, type Watching } from './watch.ts';

// The real client-node transport (typed list call, Watch) against a fake API server over
// real HTTP: the query parameters the API server sees, pagination through the typed
// client, bookmarks, and 410 Gone on the watch request.

const pod = (name: string, rv: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

interface Seen {
  readonly watch: boolean;
  readonly query: URLSearchParams;
}

let server: Server | undefined;
let watching: Watching | undefined;
afterEach(async () => {
  await watching?.stop();
  await new Promise((r) => (server === undefined ? r(undefined) : server.close(r)));
  server?.closeAllConnections();
});

async function serve(
  handle: (req: IncomingMessage, res: ServerResponse, seen: Seen[]) => void,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ watch: url.searchParams.get('watch') === 'true', query: url.searchParams });
    handle(req, res, seen);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('watchInto over HTTP (client-node transport)', () => {
  it('pages through the typed client, watches with bookmarks, resumes from a bookmark, relists on 410', async () => {
    let watches = 0;
    let lists = 0;
    const { url, seen } = await serve((req, res, all) => {
      const q = all[all.length - 1]!.query;
      res.setHeader('Content-Type', 'application/json');
      if (!all[all.length - 1]!.watch) {
        lists++;
        const first = q.get('continue') === null;
        res.end(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'PodList',
            metadata: {
              resourceVersion: lists <= 2 ? '10' : '50',
              ...(first ? { continue: 't1' } : {}),
            },
            items: first ? [pod('a', '5')] : [pod('b', '6')],
          }),
        );
        return;
      }
      watches++;
      if (watches === 1) {
        res.write(`${JSON.stringify({ type: 'ADDED', object: pod('c', '11') })}\n`);
        res.write(
          `${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: '40' } } })}\n`,
        );
        res.end();
      } else if (watches === 2) {
        res.statusCode = 410;
        res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired' }));
      } else {
        // Held open until the test stops.
        res.write('');
      }
    });
    const kc = loadKubeConfig({
      kind: 'inline',
      yaml: `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    });
    const core = kc.makeApiClient(CoreV1Api);
    const into = new Map<string, string>();
    const logs: string[] = [];
    watching = watchInto(
      kc,
      {
        what: 'pods',
        path: '/api/v1/pods',
        list: async (page) => core.listPodForAllNamespaces(page),
        into,
        map: (o) => o.metadata?.resourceVersion ?? '',
        key: objectKey,
      },
      (msg, e) => logs.push(`${msg} ${String(e)}`),
      { retryBaseMs: 5 },
    );
    const deadline = Date.now() + 3000;
    while (watches < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const lines = seen.map((s) =>
      s.watch
        ? `watch rv=${s.query.get('resourceVersion')} bookmarks=${s.query.get('allowWatchBookmarks')} timeout=${Number(s.query.get('timeoutSeconds')) >= 300}`
        : `list limit=${s.query.get('limit')} continue=${s.query.get('continue')}`,
    );
    expect({ lines: lines.slice(0, 7), logs }).toEqual({
      logs: ['watch of pods expired (410 Gone); listing again undefined'],
      lines: [
        'list limit=500 continue=null',
        'list limit=500 continue=t1',
        'watch rv=10 bookmarks=true timeout=true',
        'watch rv=40 bookmarks=true timeout=true',
        'list limit=500 continue=null',
        'list limit=500 continue=t1',
        'watch rv=50 bookmarks=true timeout=true',
      ],
    });
    expect(watching.synced()).toBe(true);
    // c came from the watch and is missing from the relist: gone.
    expect([...into.keys()].sort()).toEqual(['ns/a', 'ns/b']);
  });
});
