import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/core/bounded-map.js';

describe('BoundedMap', () => {
  it('forgets the entry set longest ago when a new key comes past its size', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('c', 3);
    expect([...m.entries()]).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('re-setting a held key forgets nothing and keeps its place', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 10);
    expect([...m.entries()]).toEqual([
      ['a', 10],
      ['b', 2],
    ]);
    m.set('c', 3);
    expect([...m.keys()]).toEqual(['b', 'c']);
  });
});
