/**
 * A watch-fed map that also takes the controller's own writes (write-through) and never
 * steps back to an older resourceVersion when a watch event that predates the write
 * arrives late. Without this, a reconcile right after a write could plan from the old
 * object and hand out an address twice.
 */
function rv(o: unknown): bigint | undefined {
  const text = (o as { metadata?: { resourceVersion?: string } } | undefined)?.metadata
    ?.resourceVersion;
  // resourceVersions are opaque; etcd-backed ones are integers, which is what we compare.
  return text !== undefined && /^[0-9]+$/.test(text) ? BigInt(text) : undefined;
}

export class VersionedMap<V> extends Map<string, V> {
  /** resourceVersion at which a key was deleted: a later-arriving older write must not revive it. */
  readonly #deleted = new Map<string, bigint>();

  override set(key: string, value: V): this {
    const next = rv(value);
    const have = rv(this.get(key));
    if (have !== undefined && next !== undefined && next < have) return this;
    const gone = this.#deleted.get(key);
    if (gone !== undefined && next !== undefined) {
      if (next <= gone) return this;
      this.#deleted.delete(key);
    }
    return super.set(key, value);
  }

  /** Records a watch's delete event, whose object carries the deletion's resourceVersion. */
  deleted(key: string, object: unknown): void {
    super.delete(key);
    const at = rv(object);
    // Bounded, oldest first: clearing them all at once would let a late answer revive any
    // recently deleted object (review #12). A Map iterates in insertion order.
    this.#deleted.delete(key);
    if (at !== undefined) this.#deleted.set(key, at);
    while (this.#deleted.size > MAX_DELETED)
      this.#deleted.delete(this.#deleted.keys().next().value!);
  }
}

/**
 * A VersionedMap that also groups its values by `groupOf` (e.g. auto-pools by their
 * workload), kept in step with every accepted write, watch event and deletion, so a
 * reconcile finds its few values without scanning them all.
 */
export class GroupedMap<V> extends VersionedMap<V> {
  readonly #groups = new Map<string, Map<string, V>>();
  readonly #groupOf: (v: V) => string | undefined;

  constructor(groupOf: (v: V) => string | undefined) {
    super();
    this.#groupOf = groupOf;
  }

  override set(key: string, value: V): this {
    const before = this.get(key);
    super.set(key, value);
    this.#regroup(key, before, this.get(key));
    return this;
  }

  override delete(key: string): boolean {
    const before = this.get(key);
    const had = super.delete(key);
    this.#regroup(key, before, undefined);
    return had;
  }

  override deleted(key: string, object: unknown): void {
    const before = this.get(key);
    super.deleted(key, object);
    this.#regroup(key, before, this.get(key));
  }

  override clear(): void {
    super.clear();
    this.#groups.clear();
  }

  /** The values of one group (a fresh array). */
  group(name: string): V[] {
    return [...(this.#groups.get(name)?.values() ?? [])];
  }

  #regroup(key: string, before: V | undefined, after: V | undefined): void {
    if (before === after) return;
    const from = before === undefined ? undefined : this.#groupOf(before);
    if (from !== undefined) {
      const g = this.#groups.get(from);
      g?.delete(key);
      if (g?.size === 0) this.#groups.delete(from);
    }
    const to = after === undefined ? undefined : this.#groupOf(after);
    if (to !== undefined && after !== undefined) {
      let g = this.#groups.get(to);
      if (g === undefined) this.#groups.set(to, (g = new Map<string, V>()));
      g.set(key, after);
    }
  }
}

/** How many deletions a VersionedMap remembers (a late answer arrives within seconds). */
const MAX_DELETED = 10_000;

/**
 * Values remembered for a while after an event (the grace period of a pod seen deleted),
 * bounded in time and count. Entries sit in insertion order, which is time order (a key
 * set again moves to the end), so expiring is amortized O(1) per event: only entries at
 * the old end are ever looked at, never the whole hour.
 */
export class Tombstones<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(ttlMs: number, max: number) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  set(key: string, value: V, now: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, at: now });
    for (const [k, e] of this.#entries) {
      if (now - e.at <= this.#ttlMs && this.#entries.size <= this.#max) break;
      this.#entries.delete(k);
    }
  }

  get(key: string, now: number): V | undefined {
    const e = this.#entries.get(key);
    return e === undefined || now - e.at > this.#ttlMs ? undefined : e.value;
  }

  get size(): number {
    return this.#entries.size;
  }
}
