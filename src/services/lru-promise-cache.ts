/**
 * A small LRU map of promises: a key's value is made once and shared by everyone who asks while it is kept; a promise
 * that rejects is forgotten, so the next request tries again.
 */
export class LruPromiseCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(private readonly size: number) {}

  /** The kept promise for `key`, or `make()`'s, kept. */
  get(key: string, make: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key); // re-insert: most recently used last
      this.entries.set(key, hit);
      return hit;
    }
    const made = make();
    this.entries.set(key, made);
    made.catch(() => {
      if (this.entries.get(key) === made) this.entries.delete(key);
    });
    while (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
    return made;
  }
}
