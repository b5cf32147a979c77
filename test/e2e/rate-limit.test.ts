// End to end over real HTTP: TWOROOMS_RATE_LIMIT=5 answers 429 RATE_LIMITED with Retry-After
// after 5 requests in a minute, and the refused request changes nothing. Both read modes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES, startShop, type TestShop } from './harness.js';
import { expectCommand, expectError, expectNoServerErrors, expectQuery } from './helpers.js';

describe.each(MODES)('rate limiting (%s, %s)', (mode, stack) => {
  let t: TestShop;

  beforeAll(async () => {
    t = await startShop(mode, { TWOROOMS_RATE_LIMIT: '5' }, stack);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('after 5 requests in a minute: 429 RATE_LIMITED with Retry-After, and nothing is stored', async () => {
    const allowed = [
      await t.request('GET', '/api/categories'),
      await t.request('GET', '/health'),
      await t.request('POST', '/api/categories', { body: { name: 'One' }, token: t.adminToken }),
      await t.request('GET', '/api/catalog'),
      await t.read('/api/categories'), // with the token: the new category is there
    ];
    expect(allowed.map((r) => r.status)).toEqual([200, 200, 201, 200, 200]);
    expect(allowed.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual([
      '4',
      '3',
      '2',
      '1',
      '0',
    ]);
    for (const r of allowed) expect(r.headers.get('x-ratelimit-limit')).toBe('5');
    expectCommand(allowed[2]!, 201);
    expect(expectQuery(allowed[4]!).items).toEqual([
      { id: allowed[2]!.body.id, name: 'One', productCount: 0 },
    ]);

    const head = await t.shop.store.headPosition();
    const refused = [
      await t.request('POST', '/api/categories', { body: { name: 'Two' }, token: t.adminToken }),
      await t.request('GET', '/api/categories'),
      await t.request('POST', '/api/customers', { body: { email: 'r@example.com', name: 'R' } }),
      await t.request('GET', '/metrics'),
    ];
    for (const r of refused) {
      expectError(r, 429, 'RATE_LIMITED');
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(r.body).toEqual({
        error: {
          code: 'RATE_LIMITED',
          message: `Too many requests; retry in ${retryAfter} s.`,
        },
      });
      expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(r.headers.get('x-consistency-token')).toBeNull();
    }
    // Nothing the refused requests asked for happened.
    expect(await t.shop.store.headPosition()).toBe(head);
    expect(head).toBe(BigInt(allowed[2]!.body.position));
  });

  it('answered no 5xx and no stack trace', () => {
    expectNoServerErrors(t);
  });
});
