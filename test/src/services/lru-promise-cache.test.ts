import { describe, expect, it } from 'vitest';
import { LruPromiseCache } from '../../../src/services/lru-promise-cache.ts';

describe('LruPromiseCache', () => {
  it('shares one promise per key, evicts the least recently used, forgets rejections', async () => {
    const cache = new LruPromiseCache<number>(2);
    let made = 0;
    const make = (v: number) => () => {
      made++;
      return Promise.resolve(v);
    };
    const a = cache.get('a', make(1));
    expect(cache.get('a', make(99))).toBe(a);
    cache.get('b', make(2));
    cache.get('a', make(99)); // a is now the most recently used
    cache.get('c', make(3)); // evicts b
    expect(await cache.get('b', make(20))).toBe(20);
    expect(await cache.get('a', make(99))).toBe(99); // a was evicted by b's return
    expect(made).toBe(5);
    const failing = cache.get('x', () => Promise.reject(new Error('no')));
    await expect(failing).rejects.toThrow('no');
    expect(await cache.get('x', make(7))).toBe(7);
  });
});
