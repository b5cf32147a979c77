// The two pure pieces of blue/green rebuilds and verify: renaming a projection's SQL for a copy,
// and pairing the rows two copies disagree on.
import { describe, expect, it } from 'vitest';
import { diffRows, renamedSql, renameTables } from '../../src/core/index.js';

describe('renameTables', () => {
  const copy = renameTables({
    tables: ['rm_orders', 'rm_orders_daily', 'search', 'search_ids'],
    tableSuffix: '__g2',
    indexSuffix: '__g2',
  });
  const live = renameTables({
    tables: ['rm_orders', 'rm_orders_daily'],
    tableSuffix: '',
    indexSuffix: '__g2',
  });

  it('renames declared tables, and the indexes they prefix, never other names', () => {
    expect(
      copy(
        'CREATE INDEX IF NOT EXISTS rm_orders_by_time ON rm_orders (created_at); UPDATE rm_orders_daily SET n = rm_orders_daily.n + 1; SELECT * FROM rm_ordersx, xrm_orders, my_rm_orders',
      ),
    ).toBe(
      'CREATE INDEX IF NOT EXISTS rm_orders_by_time__g2 ON rm_orders__g2 (created_at); UPDATE rm_orders_daily__g2 SET n = rm_orders_daily__g2.n + 1; SELECT * FROM rm_ordersx, xrm_orders, my_rm_orders',
    );
    expect(
      copy(
        'SELECT id FROM search WHERE search MATCH ? ORDER BY bm25(search); DELETE FROM search_ids',
      ),
    ).toBe(
      'SELECT id FROM search__g2 WHERE search__g2 MATCH ? ORDER BY bm25(search__g2); DELETE FROM search_ids__g2',
    );
  });

  it('gives the live copy its generation’s index names and keeps its table names', () => {
    expect(live('CREATE INDEX IF NOT EXISTS rm_orders_by_time ON rm_orders (t)')).toBe(
      'CREATE INDEX IF NOT EXISTS rm_orders_by_time__g2 ON rm_orders (t)',
    );
  });

  it('refuses a table name that is not a plain identifier', () => {
    expect(() => renameTables({ tables: ['a;b'], tableSuffix: '_x', indexSuffix: '_x' })).toThrow(
      /Invalid read-model table name/,
    );
  });
});

describe('diffRows', () => {
  const row = (id: string, price: number) => ({ id, price });

  it('counts a changed, a missing and an extra row once each, by key', () => {
    const live = [row('a', 1), row('b', 2), row('c', 3), row('c', 3)];
    const rebuilt = [row('a', 1), row('b', 20), row('c', 3), row('d', 4)];
    const diff = diffRows('t', live, rebuilt, undefined);
    expect(diff).toEqual([
      { table: 't', key: { id: 'b' }, live: row('b', 2), rebuilt: row('b', 20) },
      { table: 't', key: { id: 'c' }, live: row('c', 3) },
      { table: 't', key: { id: 'd' }, rebuilt: row('d', 4) },
    ]);
  });

  it('pairs by a composite key and sees equal sets in any order as equal', () => {
    const a = [
      { product_id: 'p', warehouse: 'n', units: 1 },
      { product_id: 'p', warehouse: 's', units: 2 },
    ];
    expect(diffRows('stock', a, [...a].reverse(), ['product_id', 'warehouse'])).toEqual([]);
    const b = [a[0]!, { ...a[1]!, units: 3 }];
    expect(diffRows('stock', a, b, ['product_id', 'warehouse'])).toHaveLength(1);
  });
});

describe('renamedSql', () => {
  it('rewrites every statement a Sql handle runs', async () => {
    const seen: string[] = [];
    const sql = {
      dialect: 'postgres' as const,
      run: async (text: string) => {
        seen.push(text);
        return { changes: 0 };
      },
      get: async <T>(text: string) => {
        seen.push(text);
        return undefined as T | undefined;
      },
      all: async <T>(text: string) => {
        seen.push(text);
        return [] as T[];
      },
      exec: async (text: string) => {
        seen.push(text);
      },
    };
    const copy = renamedSql(sql, {
      tables: ['rm_carts'],
      tableSuffix: '__g1',
      indexSuffix: '__g1',
    });
    await copy.run('DELETE FROM rm_carts');
    await copy.get('SELECT 1 FROM rm_carts');
    await copy.all('SELECT * FROM rm_carts');
    await copy.exec('CREATE INDEX rm_carts_by_time ON rm_carts (t)');
    expect(copy.dialect).toBe('postgres');
    expect(seen).toEqual([
      'DELETE FROM rm_carts__g1',
      'SELECT 1 FROM rm_carts__g1',
      'SELECT * FROM rm_carts__g1',
      'CREATE INDEX rm_carts_by_time__g1 ON rm_carts__g1 (t)',
    ]);
  });
});
