import type { Config } from '../config.js';
import { mapReadStore, setupReadModels } from '../core/index.js';
import { openWriteStore } from '../main.js';
import { shopProjections } from '../shop/query-handlers.js';
import { SqliteReadStore, sqliteFullText, sqliteSql } from '../stores/sqlite/index.js';

export async function migrateCommand(config: Config): Promise<void> {
  const store = await openWriteStore(config);
  const read = new SqliteReadStore({ path: config.readDb });
  await setupReadModels(
    mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText })),
    shopProjections(),
  );
  await store.close();
  await read.close();
  console.log(`migrated: ${config.writeDb} and ${config.readDb}`);
}
