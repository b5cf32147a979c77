import { describe, expect, it } from 'vitest';
import { rememberCustomers } from '../src/http/auth.js';

describe('rememberCustomers', () => {
  it('asks once per found token, every time for an unknown one, and forgets the oldest past max', async () => {
    const owners = new Map([
      ['h1', 'c1'],
      ['h2', 'c2'],
      ['h3', 'c3'],
    ]);
    const asked: string[] = [];
    const lookup = rememberCustomers(async (hash) => {
      asked.push(hash);
      const customerId = owners.get(hash);
      return customerId ? { customerId } : undefined;
    }, 2);
    expect(await lookup('h1')).toEqual({ customerId: 'c1' });
    expect(await lookup('h1')).toEqual({ customerId: 'c1' });
    expect(asked).toEqual(['h1']);
    // Not found, then registered: found on the next ask (a miss is not remembered).
    expect(await lookup('h4')).toBeUndefined();
    owners.set('h4', 'c4');
    expect(await lookup('h4')).toEqual({ customerId: 'c4' });
    expect(asked).toEqual(['h1', 'h4', 'h4']);
    // At most 2 remembered: h2 makes h1 the oldest to go.
    await lookup('h2');
    await lookup('h1');
    expect(asked).toEqual(['h1', 'h4', 'h4', 'h2', 'h1']);
  });
});
