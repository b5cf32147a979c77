import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
