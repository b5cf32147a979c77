import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { defineProjection } from '../src/core/projection.js';
import { projector } from '../src/core/projector.js';
import { sqliteEventStore, sqliteReadStore } from '../src/stores/sqlite/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tworooms-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('smoke', () => {
  it('appends, projects, waits', async () => {
    const store = sqliteEventStore({ path: join(dir, 'w.db') });
    const read = sqliteReadStore({ path: join(dir, 'r.db') });
    const counter = defineProjection<{ type: 'Added'; data: { n: number } }, Database.Database>({
      name: 'counter',
      version: 1,
      handles: ['Added'],
      setup: (db) =>
        db.exec('CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, total INTEGER)'),
      apply: (events, db) => {
        for (const e of events)
          db.prepare(
            'INSERT INTO counter (id, total) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET total = total + excluded.total',
          ).run(e.data.n);
      },
    });
    const p = projector({ log: store.log, store: read, projections: [counter] });
    await p.start();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.append(`s-${i % 5}`, [{ type: 'Added', data: { n: 1 } }]),
      ),
    );
    let last = 0n;
    for (const r of results) if (r.lastPosition > last) last = r.lastPosition;
    expect(last).toBe(50n);
    expect(await p.waitFor(last, ['counter'], 2000)).toEqual({ reached: true });
    expect(read.db.prepare('SELECT total FROM counter').pluck().get()).toBe(50);
    await p.stop();
    await store.close();
    await read.close();
  });
});
