import { describe, expect, it } from 'vitest';
import { timeOrderedId, timeOrderedIds } from '../src/core/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string) => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('timeOrderedId', () => {
  it('is a canonical UUID with version 7, the variant bits and the current time in ms', () => {
    const before = Date.now();
    const id = timeOrderedId();
    const after = Date.now();
    expect(id).toMatch(UUID_V7);
    expect(msOf(id)).toBeGreaterThanOrEqual(before);
    expect(msOf(id)).toBeLessThanOrEqual(after + 1);
  });

  it('strictly increases, as strings, within a millisecond and across many', () => {
    const ids = Array.from({ length: 50_000 }, () => timeOrderedId());
    expect(ids.findIndex((id, i) => i > 0 && id <= ids[i - 1]!)).toBe(-1);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps increasing when the clock stands still or goes back, borrowing the next ms', () => {
    let clock = 1_700_000_000_000;
    const ids = timeOrderedIds({ now: () => clock });
    const made: string[] = [];
    for (let i = 0; i < 10_000; i++) made.push(ids.next()); // far more than 4,096 in one ms
    clock -= 5_000;
    for (let i = 0; i < 10; i++) made.push(ids.next());
    expect(made.findIndex((id, i) => i > 0 && id <= made[i - 1]!)).toBe(-1);
    for (const id of made) expect(id).toMatch(UUID_V7);
    expect(msOf(made[0]!)).toBe(1_700_000_000_000);
    expect(msOf(made.at(-1)!)).toBeGreaterThan(1_700_000_000_000);
    expect(msOf(made.at(-1)!)).toBeLessThan(1_700_000_000_010);
  });

  it('encodes the whole 48-bit timestamp', () => {
    const ids = timeOrderedIds({ now: () => 2 ** 48 - 1, random: (b) => b.fill(0xff) });
    const id = ids.next();
    expect(id).toMatch(UUID_V7);
    expect(id.slice(0, 13)).toBe('ffffffff-ffff');
    expect(id.slice(19)).toBe('bfff-ffffffffffff');
  });
});
