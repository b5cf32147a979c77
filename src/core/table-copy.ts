import { type EventLog, readAllData } from './event-log.js';
import type { Event, PositionedEvent, RecordedEvent } from './messages.js';
import type { Projection, ReadModelTable, ReadStore, ReadTx } from './projection.js';
import { renameTables, type TableNames } from './table-names.js';

/** Lets the event loop serve what waits (I/O, timers) before the next step. */
export const yieldToIo = () =>
  new Promise<void>((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );

/** A projection's declared tables, each with its key and whether verify compares it. */
export function declaredTables(projection: Projection<Event, unknown>): ReadModelTable[] {
  return (projection.tables ?? []).map((t) => (typeof t === 'string' ? { name: t } : t));
}

const namesCache = new WeakMap<object, Map<string, TableNames>>();

/** The (memoised) names of one copy of a projection's tables. */
export function namesOf(
  projection: Projection<Event, unknown>,
  tableSuffix: string,
  indexSuffix: string,
): TableNames {
  let byKey = namesCache.get(projection);
  if (!byKey) {
    byKey = new Map();
    namesCache.set(projection, byKey);
  }
  const key = `${tableSuffix}|${indexSuffix}`;
  let names = byKey.get(key);
  if (!names) {
    names = { tables: declaredTables(projection).map((t) => t.name), tableSuffix, indexSuffix };
    byKey.set(key, names);
  }
  return names;
}

/** Drops every table of `names`' tables that ends in `__<kind><digits>` (a copy left behind). */
export async function dropCopies(
  tx: ReadTx<unknown>,
  tables: readonly string[],
  kinds: readonly string[],
): Promise<void> {
  const ops = tx.tables;
  if (!ops || kinds.length === 0) return;
  const existing = await ops.list();
  for (const t of tables) {
    const leftover = new RegExp(`^${t}__(${kinds.join('|')})\\d+$`);
    for (const name of existing) if (leftover.test(name)) await ops.drop(name);
  }
}

export interface TableCopyOptions<H> {
  readonly log: EventLog;
  readonly store: ReadStore<H>;
  readonly projection: Projection<Event, H>;
  readonly names: TableNames;
  /** Where the copy's own checkpoint is kept (for progress seen by other processes), if anywhere. */
  readonly checkpointName?: string;
  readonly generation: number;
  readonly batchSize: number;
  /** Positions an operator skipped on the live copy: the copy skips them too. */
  readonly skipped: ReadonlySet<bigint>;
}

/**
 * A second copy of a projection's tables, built from position 0 through a handle that renames
 * them (`names`), while the live copy keeps serving. Blue/green rebuilds and verify use it.
 */
export class TableCopy<H> {
  position = 0n;
  /** Events applied so far (a rebuild's "events done"). */
  events = 0;
  readonly startedAt = Date.now();
  /** Statements creating the secondary indexes left out while the copy is built. */
  private deferred: string[] = [];
  /** `finishBuild` has run (or the projection has none): `apply` is no longer told `building`. */
  private finished: boolean;

  constructor(readonly options: TableCopyOptions<H>) {
    this.finished = !options.projection.finishBuild;
  }

  /** Drops whatever a crashed copy left under these names, creates the tables, saves position 0. */
  async create(leftoverKinds: readonly string[]): Promise<void> {
    const { store, projection, names } = this.options;
    await store.transact((tx) => dropCopies(tx, names.tables, leftoverKinds));
    await store.transact(
      async (tx) => {
        await projection.setup?.(tx.db);
        const ops = tx.tables;
        // Without `buildIndexes` the projection has not said which indexes apply reads: all stay.
        if (projection.buildIndexes && ops?.deferIndexes && ops.createIndexes) {
          const rename = renameTables(names);
          this.deferred = await ops.deferIndexes(
            names.tables.map((t) => t + names.tableSuffix),
            projection.buildIndexes.map(rename),
          );
        }
        await this.save(tx);
      },
      { names },
    );
  }

  /**
   * Creates the indexes left out while building (once caught up, before the switch): one per
   * transaction, the event loop served between them, so that queries and the live copy's batches
   * wait for one index build at a time rather than for all of them.
   */
  async buildIndexes(): Promise<void> {
    while (this.deferred.length > 0) {
      const statement = this.deferred[0]!;
      await this.options.store.transact(async (tx) => {
        await tx.tables?.createIndexes?.([statement]);
      });
      this.deferred = this.deferred.slice(1);
      await yieldToIo();
    }
  }

  /**
   * Runs the projection's `finishBuild` on the copy: in `tx` (opened with this copy's names), or
   * in a transaction of its own. Once it has run, `apply` keeps what it derived current.
   */
  async finishBuild(tx?: ReadTx<H>): Promise<void> {
    const { store, projection, names } = this.options;
    if (this.finished || !projection.finishBuild) return;
    if (tx) await projection.finishBuild(tx.db);
    else await store.transact((t) => projection.finishBuild?.(t.db), { names });
    this.finished = true;
  }

  /** Drops this copy's tables (those it has), and only this copy's. */
  async drop(): Promise<void> {
    const { store, names } = this.options;
    await store.transact(async (tx) => {
      const ops = tx.tables;
      if (!ops) return;
      const existing = new Set(await ops.list());
      for (const t of names.tables)
        if (existing.has(t + names.tableSuffix)) await ops.drop(t + names.tableSuffix);
    });
  }

  /** Applies batches, each in its own transaction, until the log (or `target`) is reached. */
  async catchUp(target?: bigint, stopped: () => boolean = () => false): Promise<void> {
    const { store, names } = this.options;
    while (!stopped() && (target === undefined || this.position < target)) {
      const more = await store.transact((tx) => this.applyBatch(tx, target), { names });
      if (!more) return;
      await yieldToIo();
    }
  }

  /** Inside `tx` (opened with this copy's names): everything up to `target` (default: the log's end). */
  async applyRemaining(tx: ReadTx<H>, target?: bigint): Promise<bigint> {
    while (await this.applyBatch(tx, target)) {}
    return this.position;
  }

  /** One batch into `tx`; false when there was nothing left to read. */
  private async applyBatch(tx: ReadTx<H>, target: bigint | undefined): Promise<boolean> {
    const { log, projection, batchSize, skipped } = this.options;
    if (target !== undefined && this.position >= target) return false;
    const range = { after: this.position, limit: batchSize, types: projection.handles };
    // A projection that reads only types and data gets the log's lean read.
    const read =
      projection.eventFields === 'data' ? await readAllData(log, range) : await log.readAll(range);
    let events: readonly PositionedEvent[] = read.events;
    let coveredTo = read.coveredTo;
    if (target !== undefined && coveredTo > target) {
      events = events.filter((e) => e.position <= target);
      coveredTo = target;
    }
    if (events.length === 0 && coveredTo <= this.position) return false;
    const applied = skipped.size ? events.filter((e) => !skipped.has(e.position)) : events;
    if (applied.length > 0) {
      const context = { building: !this.finished };
      if (projection.eventFields === 'data') await projection.apply(applied, tx.db, context);
      else await projection.apply(applied as readonly RecordedEvent[], tx.db, context); // readAll
    }
    const from = this.position;
    this.position = coveredTo;
    this.events += applied.length;
    await this.save(tx, from);
    return true;
  }

  /** Saves the copy's checkpoint; after `from` only if nobody else moved it (see ReadTx). */
  private async save(tx: ReadTx<H>, from?: bigint): Promise<void> {
    const { checkpointName, projection, generation } = this.options;
    if (!checkpointName) return;
    await tx.saveCheckpoint(
      {
        name: checkpointName,
        version: projection.version,
        position: this.position,
        status: 'running',
        generation,
      },
      from,
    );
  }
}
