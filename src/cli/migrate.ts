import type { Config } from '../config.js';
import { mapReadStore } from '../core/index.js';
import { openWriteStore } from '../main.js';
import { shopProjections } from '../shop/query-handlers.js';
import { SqliteReadStore, sqliteFullText, sqliteSql } from '../stores/sqlite/index.js';

export async function migrateCommand(config: Config): Promise<void> {
  const store = await openWriteStore(config);
  const read = new SqliteReadStore({ path: config.readDb });
  await mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText })).setup(
    shopProjections(),
  );
  await store.close();
  await read.close();
  console.log(`migrated: ${config.writeDb} and ${config.readDb}`);
}
