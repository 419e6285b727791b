/**
 * What the checker's I/O side (e2e/harness/invariants.ts) needs that can be tested without a
 * cluster: following list pages, and the little of a Pod the invariants look at.
 */
import type { PodView } from './snapshot.ts';

/** One page of a list as client-node returns it, typed (`_continue`) or raw JSON (`continue`). */
export interface ListPageResult<T> {
  readonly items: readonly T[];
  readonly metadata?: { readonly _continue?: string; readonly continue?: string };
}

/**
 * Every item of a paginated list: calls `page` with no token, then with each page's token
 * until a page has none. Typed lists (pods, StatefulSets) name the token `_continue`;
 * custom objects come back as the API server's JSON, where it is `continue` — reading only
 * one of them silently stops after the first page.
 */
export async function listAll<T>(
  page: (token: string | undefined) => Promise<ListPageResult<T>>,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const r = await page(token);
    out.push(...r.items);
    token = r.metadata?._continue || r.metadata?.continue || undefined;
  } while (token !== undefined);
  return out;
}

/** A timestamp as client-node gives it: a Date for typed kinds, a string in raw JSON. */
type Stamp = Date | string | undefined;

/** The fields of a Pod that {@link podView} reads (structurally a client-node V1Pod). */
export interface PodLike {
  readonly metadata?: {
    readonly namespace?: string;
    readonly name?: string;
    readonly uid?: string;
    readonly creationTimestamp?: Stamp;
    readonly deletionTimestamp?: Stamp;
  };
  readonly status?: {
    readonly phase?: string;
    readonly containerStatuses?: readonly {
      readonly state?: { readonly terminated?: { readonly finishedAt?: Stamp } };
    }[];
  };
}

const iso = (s: Stamp): string | undefined => {
  if (s === undefined) return undefined;
  const t = s instanceof Date ? s.getTime() : Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
};

/** What the invariants need of a Pod: identity, finished (Succeeded/Failed), and when things happened. */
export function podView(p: PodLike): PodView {
  const phase = p.status?.phase;
  const finishedAt = (p.status?.containerStatuses ?? [])
    .map((s) => iso(s.state?.terminated?.finishedAt))
    .filter((d): d is string => d !== undefined)
    .sort()
    .at(-1);
  const created = iso(p.metadata?.creationTimestamp);
  const deleted = iso(p.metadata?.deletionTimestamp);
  return {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    finished: phase === 'Succeeded' || phase === 'Failed',
    ...(created === undefined ? {} : { creationTimestamp: created }),
    ...(deleted === undefined ? {} : { deletionTimestamp: deleted }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
  };
}
