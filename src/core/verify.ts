import { coreError } from './errors.js';
import type { EventLog } from './event-log.js';
import type { Event } from './messages.js';
import type { Projection, ReadStore } from './projection.js';
import { declaredTables, namesOf, TableCopy } from './table-copy.js';

/** One key whose rows differ: the live row and the rebuilt one (undefined where missing). */
export interface RowDifference {
  readonly table: string;
  readonly key: Record<string, unknown>;
  readonly live?: Record<string, unknown>;
  readonly rebuilt?: Record<string, unknown>;
}

export interface VerifyReport {
  readonly projection: string;
  /** The log position both copies were compared at. */
  readonly position: bigint;
  /** Rows compared per table (live copy). */
  readonly rows: Record<string, number>;
  /** Keys whose rows differ, over all tables. */
  readonly differing: number;
  /** A few of them. */
  readonly examples: readonly RowDifference[];
}

export interface VerifyOptions<H> {
  readonly log: EventLog;
  readonly store: ReadStore<H>;
  readonly projection: Projection<Event, H>;
  readonly batchSize?: number;
  /** Examples kept (default 5). */
  readonly examples?: number;
  /** Told the scratch copy's position and the live one's as it builds. */
  readonly onProgress?: (position: bigint, target: bigint, events: number) => void;
}

const canonical = (v: unknown) =>
  JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

/**
 * Compares two sets of rows as multisets, pairing what is left over by key: the number of keys
 * whose rows differ (a changed row counts once, a missing or extra row once).
 */
export function diffRows(
  table: string,
  live: readonly Record<string, unknown>[],
  rebuilt: readonly Record<string, unknown>[],
  key: readonly string[] | undefined,
): RowDifference[] {
  const counts = new Map<string, { n: number; row: Record<string, unknown> }>();
  for (const row of live) {
    const c = canonical(row);
    const entry = counts.get(c);
    if (entry) entry.n++;
    else counts.set(c, { n: 1, row });
  }
  const extra: Record<string, unknown>[] = [];
  for (const row of rebuilt) {
    const entry = counts.get(canonical(row));
    if (entry && entry.n > 0) entry.n--;
    else extra.push(row);
  }
  const keyOf = (row: Record<string, unknown>) => {
    const columns = key ?? Object.keys(row).slice(0, 1);
    return Object.fromEntries(columns.map((c) => [c, row[c]]));
  };
  const byKey = new Map<string, RowDifference>();
  const add = (row: Record<string, unknown>, side: 'live' | 'rebuilt') => {
    const k = keyOf(row);
    const id = canonical(k);
    const d = byKey.get(id) ?? { table, key: k };
    byKey.set(id, { ...d, [side]: row });
  };
  for (const { n, row } of counts.values()) for (let i = 0; i < n; i++) add(row, 'live');
  for (const row of extra) add(row, 'rebuilt');
  return [...byKey.values()];
}

let scratchCounter = 0;

/**
 * Rebuilds a projection into a scratch copy and compares it with the live copy row by row, both
 * at one log position: the scratch copy chases the live checkpoint, then the last events and the
 * comparison run in one read-DB transaction, in which the live copy cannot move. The scratch
 * copy is dropped afterwards. Works beside a running projector (same process or another).
 */
export async function verifyProjection<H>(options: VerifyOptions<H>): Promise<VerifyReport> {
  const { store, projection } = options;
  const tables = declaredTables(projection as Projection<Event, unknown>);
  if (tables.length === 0)
    throw coreError('VALIDATION_FAILED', `Projection ${projection.name} declares no tables.`);
  const live = () =>
    store.transact(async (tx) => {
      if (!tx.tables) throw coreError('VALIDATION_FAILED', 'This read store cannot verify.');
      const c = await tx.tables.checkpoint(projection.name);
      if (!c)
        throw coreError('NOT_FOUND', `Projection ${projection.name} has not run yet.`, {
          name: projection.name,
        });
      return c;
    });
  const first = await live();
  const suffix = `__v${Date.now() % 1_000_000_000}${scratchCounter++}`;
  const names = namesOf(projection as Projection<Event, unknown>, suffix, suffix);
  const batchSize = options.batchSize ?? 2000;
  const copy = new TableCopy({
    log: options.log,
    store,
    projection,
    names,
    generation: 0,
    batchSize,
    skipped: new Set((first.skipped ?? []).map((k) => k.position)),
  });
  try {
    // Other scratch copies are left alone: another verify of this projection may be running (a
    // crash's leftovers go when the projector next starts).
    await copy.create([]);
    // Chase the live copy until the gap is small enough for the final transaction.
    let target = first.position;
    for (let round = 0; round < 20; round++) {
      await copy.catchUp(target);
      options.onProgress?.(copy.position, target, copy.events);
      target = (await live()).position;
      if (target - copy.position <= BigInt(batchSize)) break;
    }
    return await store.transact(
      async (tx) => {
        const ops = tx.tables;
        const current = ops && (await ops.checkpoint(projection.name));
        if (!ops || !current) throw new Error('The live checkpoint vanished');
        const position = await copy.applyRemaining(tx, current.position);
        await copy.finishBuild(tx);
        options.onProgress?.(position, current.position, copy.events);
        const existing = new Set(await ops.list());
        const rows: Record<string, number> = {};
        const differences: RowDifference[] = [];
        for (const t of tables) {
          if (t.internal) continue;
          if (!existing.has(t.name + suffix)) {
            // A declared table this store's setup does not create has no copy, nor a live one.
            if (!existing.has(t.name)) continue;
            throw coreError(
              'CONCURRENCY_CONFLICT',
              `The scratch copy of ${t.name} vanished while verify ran (a projector starting drops leftover copies): run verify again.`,
            );
          }
          const a = existing.has(t.name) ? await ops.rows(t.name) : [];
          rows[t.name] = a.length;
          differences.push(...diffRows(t.name, a, await ops.rows(t.name + suffix), t.key));
        }
        return {
          projection: projection.name,
          position,
          rows,
          differing: differences.length,
          examples: differences.slice(0, options.examples ?? 5),
        };
      },
      { names },
    );
  } finally {
    await copy.drop(); // this verify's copy only
  }
}
