import type pg from 'pg';
import { renameTables, type TableNames } from '../../core/table-names.js';

/**
 * The client `client` seen with `names`: `query` rewrites its SQL text (a string or a query
 * config's `text`), everything else is the client itself. A blue/green copy's projection code
 * runs through it unchanged.
 */
export function renamedClient(client: pg.PoolClient, names: TableNames): pg.PoolClient {
  const rewrite = renameTables(names);
  const query = (config: unknown, ...rest: unknown[]) => {
    const renamed =
      typeof config === 'string'
        ? rewrite(config)
        : config && typeof config === 'object' && 'text' in config
          ? { ...(config as { text: string }), text: rewrite((config as { text: string }).text) }
          : config;
    return (client.query as (...args: unknown[]) => unknown)(renamed, ...rest);
  };
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') return query;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
