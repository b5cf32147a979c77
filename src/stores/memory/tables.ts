import { coreError } from '../../core/errors.js';

type Undo = () => void;

/**
 * In-memory tables for the memory stores: `table -> key -> row`. Writes inside a transaction
 * are journaled so a throw rolls them back, like a database would.
 */
export class MemoryTables {
  private readonly tables = new Map<string, Map<string, unknown>>();
  private journal: Undo[] | undefined;
  private readOnly = false;
  /** Set on a renamed view: maps the names a projection uses to the copy's. */
  private rename: ((name: string) => string) | undefined;

  private table(name: string): Map<string, unknown> {
    const real = this.rename ? this.rename(name) : name;
    let t = this.tables.get(real);
    if (!t) {
      t = new Map();
      this.tables.set(real, t);
    }
    return t;
  }

  private existing(name: string): Map<string, unknown> | undefined {
    return this.tables.get(this.rename ? this.rename(name) : name);
  }

  get<T>(table: string, key: string): T | undefined {
    return this.existing(table)?.get(key) as T | undefined;
  }

  rows<T>(table: string): T[] {
    return [...(this.existing(table)?.values() ?? [])] as T[];
  }

  set<T>(table: string, key: string, row: T): void {
    this.guard();
    const t = this.table(table);
    const had = t.has(key);
    const before = t.get(key);
    t.set(key, row);
    this.journal?.push(() => (had ? t.set(key, before) : t.delete(key)));
  }

  delete(table: string, key: string): void {
    this.guard();
    const t = this.existing(table);
    if (!t?.has(key)) return;
    const before = t.get(key);
    t.delete(key);
    this.journal?.push(() => t.set(key, before));
  }

  clear(table: string): void {
    for (const key of [...(this.existing(table)?.keys() ?? [])]) this.delete(table, key);
  }

  /** The same tables seen with other names (a blue/green copy's); see `renameTables`. */
  renamed(rename: (name: string) => string): MemoryTables {
    const view = Object.create(this) as MemoryTables;
    view.rename = rename;
    return view;
  }

  /** Table names (plain, not renamed). */
  names(): string[] {
    return [...this.tables.keys()];
  }

  /** Renames a table (journaled). */
  renameTable(from: string, to: string): void {
    this.guard();
    const t = this.tables.get(from);
    if (!t) throw new Error(`No table ${from}`);
    if (this.tables.has(to)) throw new Error(`Table ${to} exists`);
    this.tables.delete(from);
    this.tables.set(to, t);
    this.journal?.push(() => {
      this.tables.delete(to);
      this.tables.set(from, t);
    });
  }

  /** Drops a table if it exists (journaled). */
  dropTable(name: string): void {
    this.guard();
    const t = this.tables.get(name);
    if (!t) return;
    this.tables.delete(name);
    this.journal?.push(() => this.tables.set(name, t));
  }

  private guard(): void {
    if (this.readOnly)
      throw coreError('READ_ONLY', 'This handle is read-only: a query cannot write.');
  }

  /** A view of the same tables that refuses every write (what query handlers get). */
  readOnlyView(): MemoryTables {
    const view = Object.create(this) as MemoryTables;
    view.readOnly = true;
    return view;
  }

  /** Runs `fn` with journaling; a throw undoes its writes. Nested calls act as savepoints. */
  async atomically<T>(fn: () => Promise<T> | T): Promise<T> {
    const outer = this.journal;
    const journal: Undo[] = [];
    this.journal = journal;
    try {
      const result = await fn();
      if (outer) outer.push(...journal);
      return result;
    } catch (error) {
      for (let i = journal.length - 1; i >= 0; i--) journal[i]?.();
      throw error;
    } finally {
      this.journal = outer;
    }
  }
}
