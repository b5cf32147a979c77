import { coreError } from './errors.js';

/**
 * The subset of a SQL driver the shop's handlers, projections and queries need. Statements are
 * written once in the SQL that SQLite and PostgreSQL share, with `?` placeholders (the
 * PostgreSQL adapter numbers them); store-specific SQL (full-text search, the event log) stays
 * behind its store's port.
 */
export interface Sql {
  readonly dialect: 'sqlite' | 'postgres';
  run(sql: string, params?: readonly unknown[]): Promise<{ readonly changes: number }>;
  get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements without parameters (DDL). */
  exec(sql: string): Promise<void>;
}

/**
 * PostgreSQL cannot store U+0000 in text, so every `Sql` adapter refuses it alike: a parameter
 * holding it is bad input (VALIDATION_FAILED), on SQLite as on PostgreSQL, never a 500.
 */
export function refuseNul(params: readonly unknown[]): void {
  for (const p of params) {
    if (typeof p === 'string' && p.includes('\u0000')) {
      throw coreError('VALIDATION_FAILED', 'Text must not contain the NUL character (U+0000).');
    }
  }
}
