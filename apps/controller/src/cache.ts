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
    if (at !== undefined) this.#deleted.set(key, at);
    if (this.#deleted.size > 10_000) this.#deleted.clear();
  }
}
