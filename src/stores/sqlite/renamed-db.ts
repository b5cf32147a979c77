import type Database from 'better-sqlite3';
import { renameTables, type TableNames } from '../../core/table-names.js';

const views = new WeakMap<Database.Database, WeakMap<TableNames, Database.Database>>();

/**
 * The connection `db` seen with `names`: `prepare` and `exec` rewrite their SQL, everything
 * else is the connection itself. One view per names object, so statement caches keyed by the
 * connection (`sqliteSql`) keep working across batches.
 */
export function renamedDb(db: Database.Database, names: TableNames): Database.Database {
  let byNames = views.get(db);
  if (!byNames) {
    byNames = new WeakMap();
    views.set(db, byNames);
  }
  const existing = byNames.get(names);
  if (existing) return existing;
  const rewrite = renameTables(names);
  const view = new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return (sql: string) => target.prepare(rewrite(sql));
      if (prop === 'exec') return (sql: string) => target.exec(rewrite(sql));
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  byNames.set(names, view);
  return view;
}
