/**
 * A `Map` that holds at most `max` entries: setting a key it does not hold when full first
 * forgets the entry set longest ago (insertion order; re-setting a held key keeps its place).
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}
