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
  override set(key: string, value: V): this {
    const have = rv(this.get(key));
    const next = rv(value);
    if (have !== undefined && next !== undefined && next < have) return this;
    return super.set(key, value);
  }
}
