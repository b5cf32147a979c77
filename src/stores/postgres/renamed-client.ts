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
          ? renamedConfig(config as { text: string; name?: string }, rewrite, names)
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

/** A query config with its text rewritten, and its prepared statement's name kept apart. */
function renamedConfig(
  config: { text: string; name?: string },
  rewrite: (text: string) => string,
  names: TableNames,
) {
  return {
    ...config,
    text: rewrite(config.text),
    ...(config.name ? { name: `${config.name}${names.tableSuffix}${names.indexSuffix}` } : {}),
  };
}
