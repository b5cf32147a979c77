import { PostgresEventStore } from '../src/stores/postgres/index.js';
import { createTestDatabase, postgresReachable } from '../src/stores/postgres/test-db.js';
import { eventLogConformance } from './conformance/event-log-suite.js';

if (await postgresReachable()) {
  eventLogConformance(
    'postgres',
    async () => {
      const db = await createTestDatabase('tworooms_log');
      try {
        const store = await PostgresEventStore.open({ connectionString: db.url, poolSize: 4 });
        return {
          store,
          cleanup: async () => {
            try {
              await store.close();
            } finally {
              await db.drop();
            }
          },
        };
      } catch (error) {
        await db.drop();
        throw error;
      }
    },
    { gaplessPositions: false },
  );
}
