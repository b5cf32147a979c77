// The writer thread (TWOROOMS_WRITE_THREAD): commands run on a thread of their own with the
// write connection, and come back as they would from the event loop — results with their
// positions, the shop's errors with code, category and details, idempotency honoured, every
// commit announced (the projector's wake-up), nothing lost when it closes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type CommandMetadata, isTworoomsError } from '../src/core/index.js';
import { openWriteStore } from '../src/main.js';
import { batched } from '../src/main-threads.js';
import { startWriterThread, type WriterThread } from '../src/main-writer.js';
import { ADMIN } from '../src/shop/commands.js';

describe('writer thread', () => {
  let dir: string;
  let path: string;
  let writer: WriterThread | undefined;
  const heads: bigint[] = [];
  const admin: CommandMetadata = { actor: ADMIN };
  const ann: CommandMetadata = { actor: 'cu-ann' };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tworooms-writer-'));
    const config = loadConfig({ TWOROOMS_DATA_DIR: dir });
    path = config.writeDb;
    // The API process migrates the write DB before it starts the thread.
    await (await openWriteStore(config)).close();
    writer = await startWriterThread({ path, synchronous: 'full' });
    heads.length = 0;
    writer.onAppended((head) => heads.push(head));
    await writer.dispatch(
      { type: 'CreateCategory', data: { categoryId: 'c1', name: 'Tea' } },
      admin,
    );
    await writer.dispatch(
      {
        type: 'AddProduct',
        data: {
          productId: 'p1',
          sku: 'TEA-1',
          name: 'Sencha',
          description: 'A green tea',
          categoryId: 'c1',
          priceCents: 1000,
        },
      },
      admin,
    );
    await writer.dispatch(
      {
        type: 'RegisterCustomer',
        data: {
          customerId: 'cu-ann',
          email: 'ann@example.com',
          name: 'Ann',
          tokenHash: 'a'.repeat(64),
        },
      },
      {},
    );
    await writer.dispatch(
      { type: 'SetStockLevel', data: { productId: 'p1', warehouse: 'north', quantity: 5 } },
      admin,
    );
  });

  afterEach(async () => {
    await writer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const order = (orderId: string, quantity: number) => ({
    type: 'PlaceOrder',
    data: { orderId, items: [{ productId: 'p1', quantity }] },
  });

  it('runs commands off this thread and answers their results, positions and commits', async () => {
    const r = await writer!.dispatch(order('o1', 2), { ...ann, idempotencyKey: 'k1' });
    expect(r).toEqual({ orderId: 'o1', totalCents: 2000, position: expect.any(BigInt) });
    // Every commit was announced, the last one at the order's position.
    expect(heads.at(-1)).toBe(r.position);
    expect(heads).toEqual([...heads].sort((a, b) => (a < b ? -1 : 1)));
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT id FROM orders').all()).toEqual([{ id: 'o1' }]);
      expect(db.prepare('SELECT max(position) AS p FROM events').get()).toEqual({
        p: Number(r.position),
      });
    } finally {
      db.close();
    }
  });

  it('answers each of many commands sent in one turn with its own result or error', async () => {
    // 5 units in stock: sent together (one message to the thread, one group commit, answers
    // crossing back together), exactly five one-unit orders are placed and the rest refused.
    const sent = Array.from({ length: 8 }, (_, i) =>
      writer!
        .dispatch(order(`o${i}`, 1), { ...ann, idempotencyKey: `k${i}` })
        .then((r) => ({ ok: String((r as unknown as { orderId: string }).orderId) }))
        .catch((e: unknown) => ({ refused: (e as { code?: string }).code })),
    );
    const answers = await Promise.all(sent);
    const placed = answers.flatMap((a) => ('ok' in a ? [a.ok] : []));
    expect(placed).toHaveLength(5);
    expect(answers.filter((a) => 'refused' in a)).toEqual(
      Array(3).fill({ refused: 'OUT_OF_STOCK' }),
    );
    const db = new Database(path, { readonly: true });
    try {
      const ids = (db.prepare('SELECT id FROM orders ORDER BY id').all() as { id: string }[]).map(
        (r) => r.id,
      );
      expect(ids).toEqual([...placed].sort());
    } finally {
      db.close();
    }
  });

  it("answers the shop's errors with their code, category and details", async () => {
    const refused = await writer!
      .dispatch(order('o1', 9), { ...ann, idempotencyKey: 'k1' })
      .catch((e: unknown) => e);
    expect(isTworoomsError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: 'OUT_OF_STOCK', category: 'conflict' });
    expect((refused as { details: unknown }).details).toBeDefined();
    // An order needs an idempotency key: the middleware on the thread says so.
    await expect(writer!.dispatch(order('o2', 1), ann)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('honours idempotency keys: a replay answers the first result and makes no second order', async () => {
    const first = await writer!.dispatch(order('o1', 2), { ...ann, idempotencyKey: 'k1' });
    const again = await writer!.dispatch(order('o1', 2), { ...ann, idempotencyKey: 'k1' });
    expect(again).toEqual(first);
    await expect(
      writer!.dispatch(order('o2', 1), { ...ann, idempotencyKey: 'k1' }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // Racing orders for 5 units (2 taken): exactly one more of 3 fits, no oversell.
    const racing = await Promise.allSettled(
      ['a', 'b', 'c', 'd'].map((k) =>
        writer!.dispatch(order(`o-${k}`, 3), { ...ann, idempotencyKey: `race-${k}` }),
      ),
    );
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('closes after the commands already sent have committed, and refuses later ones', async () => {
    const sent = Array.from({ length: 20 }, (_, i) =>
      writer!.dispatch(
        { type: 'CreateCategory', data: { categoryId: `c-${i}`, name: `Category ${i}` } },
        admin,
      ),
    );
    await writer!.close();
    const results = await Promise.all(sent);
    expect(results).toHaveLength(20);
    await expect(
      writer!.dispatch(
        { type: 'CreateCategory', data: { categoryId: 'late', name: 'Late' } },
        admin,
      ),
    ).rejects.toThrow(/closed/);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM categories').get()).toEqual({ n: 21 });
    } finally {
      db.close();
    }
    writer = undefined;
  });
});

describe('batched', () => {
  it('posts the messages queued before the flush together, in order, once per flush', () => {
    const posts: number[][] = [];
    const flushes: (() => void)[] = [];
    const send = batched<number>(
      (m) => posts.push(m),
      (f) => flushes.push(f),
    );
    send(1);
    send(2);
    send(3);
    expect(flushes).toHaveLength(1); // one flush scheduled for all three
    expect(posts).toEqual([]);
    flushes[0]!();
    send(4);
    expect(flushes).toHaveLength(2);
    flushes[1]!();
    expect(posts).toEqual([[1, 2, 3], [4]]);
  });
});
