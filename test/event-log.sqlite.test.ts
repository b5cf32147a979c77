import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../src/stores/sqlite/index.js';
import { eventLogConformance } from './conformance/event-log-suite.js';

eventLogConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-'));
  const store = new SqliteEventStore({ path: join(dir, 'write.db') });
  return {
    store,
    cleanup: async () => {
      try {
        await store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
});

describe('SqliteEventStore group commit', () => {
  it('transactions started by separate I/O callbacks of one turn share one commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-'));
    const store = new SqliteEventStore({ path: join(dir, 'write.db') });
    try {
      const commits: bigint[] = [];
      store.onAppended((head) => commits.push(head));
      // Ten requests handled in one turn of the event loop, each in its own callback (as HTTP
      // requests arriving together are), each appending in its own transaction.
      const done = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) =>
            new Promise<unknown>((resolve, reject) =>
              setImmediate(() =>
                store
                  .transact((tx) => tx.record(`s-${i}`, [{ type: 'Happened', data: { i } }]))
                  .then(resolve, reject),
              ),
            ),
        ),
      );
      expect(done).toHaveLength(10);
      expect(commits).toEqual([10n]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite event log: the write-ahead log', () => {
  it('is checkpointed as lone appends go on, so it never grows without bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-'));
    const path = join(dir, 'write.db');
    const store = new SqliteEventStore({ path, synchronous: 'normal' });
    try {
      const note = 'x'.repeat(2000);
      // ~5,000 pages of WAL frames: past the 4,000-page autocheckpoint threshold.
      for (let i = 0; i < 2500; i++)
        await store.append(`s-${i}`, [{ type: 'Noted', data: { note } }], {
          expectedVersion: 'no_stream',
        });
      const page = 4096;
      // A checkpoint copied the log into the database file and the WAL restarted from its start.
      expect(statSync(path).size).toBeGreaterThan(1000 * page);
      expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(4100 * page);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
