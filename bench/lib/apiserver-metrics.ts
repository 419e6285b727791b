/**
 * API request accounting from kube-apiserver's own counter `apiserver_request_total`: read
 * it before and after a run, diff, and sum the requests that touched given resources. The
 * server counts every request it answered, retries and conflicts included, so a client
 * cannot under-report its own traffic.
 */
import { apiGet, type ClusterState } from '../../e2e/cluster/control-plane.ts';

/** One series of `apiserver_request_total`, summed over the labels not kept here. */
export interface RequestCount {
  /** As the metric names it: GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE, … */
  readonly verb: string;
  /** `''` for the core group. */
  readonly group: string;
  readonly resource: string;
  /** `status`, or `''`; for non-resource requests the path (`/healthz`). */
  readonly subresource: string;
  readonly code: string;
  readonly count: number;
}

/** Keyed by {@link countKey}: `verb resource[.group][/subresource] code`. */
export type Counts = ReadonlyMap<string, RequestCount>;

/** `PUT spiderippools.spiderpool.spidernet.io/status 409`; core resources have no group suffix. */
export function countKey(c: Omit<RequestCount, 'count'>): string {
  const resource = c.group === '' ? c.resource : `${c.resource}.${c.group}`;
  const sub =
    c.subresource === '' ? '' : c.subresource.startsWith('/') ? c.subresource : `/${c.subresource}`;
  return `${c.verb} ${resource}${sub} ${c.code}`;
}

/**
 * Parses the labels of one sample, `{a="x",b="y \"q\""}` in any order, with the text
 * format's escapes (`\\`, `\"`, `\n`). Returns the labels and the index after `}`, or
 * undefined on malformed input.
 */
function parseLabels(
  line: string,
  start: number,
): { labels: Map<string, string>; end: number } | undefined {
  const labels = new Map<string, string>();
  let i = start + 1;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') return undefined;
    const name = line.slice(i, eq).trim();
    let value = '';
    i = eq + 2;
    for (;;) {
      const ch = line[i];
      if (ch === undefined) return undefined;
      if (ch === '"') break;
      if (ch === '\\') {
        const next = line[i + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        i += 2;
      } else {
        value += ch;
        i++;
      }
    }
    labels.set(name, value);
    i++;
  }
}

const METRIC = 'apiserver_request_total';

/** Parses `apiserver_request_total` out of a Prometheus text exposition; other lines are skipped. */
export function parseRequestCounts(text: string): Counts {
  const out = new Map<string, RequestCount>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith(METRIC)) continue;
    const rest = line.slice(METRIC.length);
    let labels = new Map<string, string>();
    let tail: string;
    if (rest.startsWith('{')) {
      const parsed = parseLabels(rest, 0);
      if (parsed === undefined) continue;
      labels = parsed.labels;
      tail = rest.slice(parsed.end);
    } else if (rest.startsWith(' ')) {
      tail = rest;
    } else continue; // another metric sharing the prefix, e.g. apiserver_request_total_x
    // `value [timestamp]`
    const count = Number(tail.trim().split(/\s+/)[0]);
    if (!Number.isFinite(count)) continue;
    const series = {
      verb: labels.get('verb') ?? '',
      group: labels.get('group') ?? '',
      resource: labels.get('resource') ?? '',
      subresource: labels.get('subresource') ?? '',
      code: labels.get('code') ?? '',
    };
    const key = countKey(series);
    out.set(key, { ...series, count: (out.get(key)?.count ?? 0) + count });
  }
  return out;
}

/** The API server's request counters now (GET /metrics with the admin token). */
export async function requestCounts(cluster: ClusterState): Promise<Counts> {
  const r = await apiGet(cluster, '/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics: HTTP ${r.status}`);
  return parseRequestCounts(r.body);
}

/** Requests answered between two readings; series that did not move are left out. */
export function diffCounts(before: Counts, after: Counts): Counts {
  const out = new Map<string, RequestCount>();
  for (const [key, a] of after) {
    const n = a.count - (before.get(key)?.count ?? 0);
    if (n > 0) out.set(key, { ...a, count: n });
  }
  return out;
}

const WRITES = new Set([
  'POST',
  'CREATE',
  'PUT',
  'UPDATE',
  'PATCH',
  'APPLY',
  'DELETE',
  'DELETECOLLECTION',
]);
const READS = new Set(['GET', 'LIST', 'WATCH', 'WATCHLIST']);

export interface Summary {
  readonly reads: number;
  readonly writes: number;
  /** Answers with code 409, reads and writes. */
  readonly conflicts: number;
  /** Every key of the selected resources with its count. */
  readonly byKey: Readonly<Record<string, number>>;
}

/**
 * Sums the requests of `diff` that touched one of `resources` (a resource without `group`
 * matches it in any group), subresources included; an empty list selects every request,
 * non-resource paths and other clients' traffic included. Writes are the mutating verbs,
 * reads GET/LIST/WATCH; anything else (CONNECT) counts in `byKey` only.
 */
export function summarise(
  diff: Counts,
  resources: readonly { group?: string; resource: string }[],
): Summary {
  let reads = 0;
  let writes = 0;
  let conflicts = 0;
  const byKey: Record<string, number> = {};
  for (const [key, c] of diff) {
    const selected =
      resources.length === 0 ||
      resources.some((r) => r.resource === c.resource && (r.group ?? c.group) === c.group);
    if (!selected) continue;
    byKey[key] = c.count;
    if (WRITES.has(c.verb)) writes += c.count;
    else if (READS.has(c.verb)) reads += c.count;
    if (c.code === '409') conflicts += c.count;
  }
  return { reads, writes, conflicts, byKey };
}
