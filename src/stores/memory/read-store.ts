import type { Event } from '../../core/messages.js';
import { Mutex } from '../../core/mutex.js';
import type { Checkpoint, Projection, ReadStore, ReadTx } from '../../core/projection.js';
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

  transact<T>(fn: (tx: ReadTx<MemoryTables>) => Promise<T> | T): Promise<T> {
    return this.mutex.run(() =>
      this.tables.atomically(() =>
        fn({
          db: this.tables,
          saveCheckpoint: async (c) => this.tables.set('$checkpoints', c.name, c),
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
