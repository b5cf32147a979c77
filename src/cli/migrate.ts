import type { Config } from '../config.js';
import { setupReadModels } from '../core/index.js';
import { openReadSide, openWriteSide } from '../main.js';
import { shopProjections } from '../shop/query-handlers.js';

/** Creates or upgrades both databases (SQLite files or PostgreSQL), then closes them. */
export async function migrateCommand(config: Config): Promise<void> {
  const write = await openWriteSide(config);
  try {
    const read = await openReadSide(config);
    try {
      await setupReadModels(read.store, shopProjections());
    } finally {
      await read.close();
    }
  } finally {
    await write.close();
  }
  console.log(`migrated: ${redact(config.writeDb)} and ${redact(config.readDb)}`);
}

/** A database location fit to print: a URL's password is hidden. */
export function redact(location: string): string {
  return location.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:…@');
}
