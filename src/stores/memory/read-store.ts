import type { Event } from '../../core/messages.js';
import { Mutex } from '../../core/mutex.js';
import {
  type Checkpoint,
  CheckpointConflict,
  type Projection,
  type ReadStore,
  type ReadTables,
  type ReadTransactOptions,
  type ReadTx,
} from '../../core/projection.js';
import { isIdentity, renameTables } from '../../core/table-names.js';
import { MemoryTables } from './tables.js';

/** A read store in memory: read models as `MemoryTables`, checkpoints beside them, atomic batches. */
export class MemoryReadStore implements ReadStore<MemoryTables> {
  readonly tables = new MemoryTables();
  private readonly mutex = new Mutex();

  async setup(projections: readonly Projection<Event, MemoryTables>[]): Promise<void> {
    for (const p of projections) await p.setup?.(this.tables);
  }

  async loadCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>> {
    return new Map(this.tables.rows<Checkpoint>('$checkpoints').map((c) => [c.name, c]));
  }

  /** Blue/green table operations on the same journal as the rows (a throw undoes them). */
  private readonly ops: ReadTables = {
    list: async () => this.tables.names().filter((n) => n !== '$checkpoints'),
    rename: async (from, to) => this.tables.renameTable(from, to),
    drop: async (name) => this.tables.dropTable(name),
    rows: async (name) => this.tables.rows<Record<string, unknown>>(name),
    checkpoint: async (name) => this.tables.get<Checkpoint>('$checkpoints', name),
    deleteCheckpoint: async (name) => this.tables.delete('$checkpoints', name),
  };

  transact<T>(
    fn: (tx: ReadTx<MemoryTables>) => Promise<T> | T,
    options: ReadTransactOptions = {},
  ): Promise<T> {
    const { names } = options;
    const db = names && !isIdentity(names) ? this.tables.renamed(renameTables(names)) : this.tables;
    return this.mutex.run(() =>
      this.tables.atomically(() =>
        fn({
          db,
          tables: this.ops,
          saveCheckpoint: async (c, from) => {
            if (from !== undefined) {
              const stored = this.tables.get<Checkpoint>('$checkpoints', c.name);
              if ((stored?.position ?? 0n) !== from)
                throw new CheckpointConflict(c.name, from, stored?.position);
            }
            this.tables.set('$checkpoints', c.name, c);
          },
        }),
      ),
    );
  }

  /** What query handlers get: the same tables, refusing writes. */
  readOnly(): MemoryTables {
    return this.tables.readOnlyView();
  }

  async close(): Promise<void> {}
}

export const memoryReadStore = () => new MemoryReadStore();
