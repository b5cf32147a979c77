import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { defineProjection, projector, type QueryHandler, queryBus } from '../src/core/index.js';
import { memoryReadStore } from '../src/stores/memory/index.js';
import { sqliteEventStore, sqliteReadStore } from '../src/stores/sqlite/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tworooms-q-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Named = { type: 'Named'; data: { id: string; name: string } };
const names = defineProjection<Named, Database.Database>({
  name: 'names',
  version: 1,
  handles: ['Named'],
  setup: (db) =>
    db.exec('CREATE TABLE IF NOT EXISTS names (id TEXT PRIMARY KEY, name TEXT NOT NULL)'),
  apply(events, db) {
    const upsert = db.prepare(
      'INSERT INTO names (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name',
    );
    for (const e of events) upsert.run(e.data.id, e.data.name);
  },
});

const nameOf: QueryHandler<
  { type: 'NameOf'; data: { id: string } },
  string | null,
  Database.Database
> = {
  projections: ['names'],
  handle: (q, db) =>
    (db.prepare('SELECT name FROM names WHERE id = ?').pluck().get(q.data.id) as string) ?? null,
};
const sneakyWrite: QueryHandler<
  { type: 'Sneaky'; data: Record<string, never> },
  number,
  Database.Database
> = {
  projections: [],
  handle: (_q, db) => db.prepare("INSERT INTO names (id, name) VALUES ('x', 'y')").run().changes,
};

describe('query bus', () => {
  it('answers from the read model, waits for a consistency token, marks stale answers', async () => {
    const log = sqliteEventStore({ path: join(dir, 'w.db') });
    const read = sqliteReadStore({ path: join(dir, 'r.db') });
    const proj = projector({ log, store: read, projections: [names] });
    await proj.start();
    const queries = queryBus(
      { NameOf: nameOf, Sneaky: sneakyWrite },
      { db: read.readOnly(), progress: proj },
    );

    const { lastPosition } = await log.append('n-1', [
      { type: 'Named', data: { id: '1', name: 'ada' } },
    ]);
    const fresh = await queries.ask({ type: 'NameOf', data: { id: '1' } }, { after: lastPosition });
    expect(fresh).toEqual({ value: 'ada', stale: false, position: lastPosition });

    // With the projector stopped, a newer token cannot be reached: the bounded wait answers stale.
    await proj.stop();
    const second = await log.append('n-1', [{ type: 'Named', data: { id: '1', name: 'grace' } }]);
    const started = performance.now();
    const stale = await queries.ask(
      { type: 'NameOf', data: { id: '1' } },
      { after: second.lastPosition, waitMs: 50 },
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(stale).toEqual({ value: 'ada', stale: true, position: lastPosition });

    // ...and once the projector runs again, the same query is fresh.
    const proj2 = projector({ log, store: read, projections: [names] });
    const queries2 = queryBus({ NameOf: nameOf }, { db: read.readOnly(), progress: proj2 });
    await proj2.start();
    const after = await queries2.ask(
      { type: 'NameOf', data: { id: '1' } },
      { after: second.lastPosition },
    );
    expect(after).toEqual({ value: 'grace', stale: false, position: second.lastPosition });
    await proj2.stop();

    await expect(queries.ask({ type: 'Nope', data: {} } as never)).rejects.toMatchObject({
      code: 'UNKNOWN_QUERY',
    });
    await log.close();
    await read.close();
  });

  it('a query handler cannot write: its SQLite handle is read-only', async () => {
    const read = sqliteReadStore({ path: join(dir, 'ro.db') });
    await read.setup([names]);
    const queries = queryBus({ Sneaky: sneakyWrite }, { db: read.readOnly() });
    await expect(queries.ask({ type: 'Sneaky', data: {} })).rejects.toThrow(/readonly|read-only/i);
    expect(read.db.prepare('SELECT count(*) FROM names').pluck().get()).toBe(0);
    await read.close();
  });

  it('a level-1 query handler cannot write either: its write-DB handle is read-only', async () => {
    const store = sqliteEventStore({ path: join(dir, 'w-ro.db') });
    store.db.exec('CREATE TABLE names (id TEXT PRIMARY KEY, name TEXT NOT NULL)');
    const readOnly = store.readOnly();
    const queries = queryBus({ Sneaky: sneakyWrite }, { db: readOnly });
    await expect(queries.ask({ type: 'Sneaky', data: {} })).rejects.toThrow(/readonly|read-only/i);
    expect(store.db.prepare('SELECT count(*) FROM names').pluck().get()).toBe(0);
    readOnly.close();
    await store.close();
  });

  it('a query handler cannot write: the memory handle is read-only too', async () => {
    const store = memoryReadStore();
    const queries = queryBus(
      {
        Sneaky: {
          projections: [],
          handle: (
            _q: { type: 'Sneaky'; data: Record<string, never> },
            db: ReturnType<typeof store.readOnly>,
          ) => db.set('t', 'k', 1),
        },
      },
      { db: store.readOnly() },
    );
    await expect(queries.ask({ type: 'Sneaky', data: {} })).rejects.toMatchObject({
      code: 'READ_ONLY',
    });
    expect(store.tables.get('t', 'k')).toBeUndefined();
  });
});
