// Projection lag on PostgreSQL: how long after a command's commit its event is in the read DB.
import type pg from 'pg';
import { defineProjection, Projector, type RecordedEvent } from '../src/core/index.js';
import { PostgresEventStore, PostgresReadStore } from '../src/stores/postgres/index.js';
import { median } from './lib.js';
import { withDatabase } from './pg.js';
import { counterCommands } from './workloads.js';

export interface LagFigures {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Commands per second actually completed during the measured part of the load. */
  readonly commandsPerS: number;
}

/** The n-th percentile (0..100) of `xs`, nearest rank. */
const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};

/** Every counter's latest total, upserted in one statement per batch. */
const counters = defineProjection<
  RecordedEvent & { data: { counter: string; total: number } },
  pg.PoolClient
>({
  name: 'bench_counters',
  version: 1,
  handles: ['Incremented'],
  setup: (db) =>
    db.query('CREATE TABLE IF NOT EXISTS bench_counters (id text PRIMARY KEY, total int NOT NULL)'),
  reset: (db) => db.query('DELETE FROM bench_counters'),
  apply: async (events, db) => {
    const latest = new Map(events.map((e) => [e.data.counter, e.data.total]));
    await db.query(
      `INSERT INTO bench_counters (id, total) SELECT * FROM unnest($1::text[], $2::int[])
       ON CONFLICT (id) DO UPDATE SET total = excluded.total`,
      [[...latest.keys()], [...latest.values()]],
    );
  },
});

/**
 * What the lag is measured on: a command path and a projector, each set up on fresh databases.
 * `command(i)` answers with the position of the event it recorded (after its commit);
 * `onProjected` is called with the positions of events whose read-model transaction committed.
 */
export interface LagRig {
  command(i: number): Promise<bigint>;
  onProjected(listener: (positions: readonly bigint[]) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A steady load of `perSecond` commands (load → decide → append, open loop: each started on
 * schedule, whatever the others are doing) for `seconds`, with a projector writing a read model
 * into a second database. The projector has its own `PostgresEventStore` on the write DB, as a
 * `tworooms project` process would: it learns of commits only through LISTEN/NOTIFY.
 */
export function projectionLag(perSecond: number, seconds: number): Promise<LagFigures> {
  return withDatabase((writeUrl) =>
    withDatabase(async (readUrl) => {
      const writer = await PostgresEventStore.open({ connectionString: writeUrl });
      const watcher = await PostgresEventStore.open({ connectionString: writeUrl, poolSize: 2 });
      const readStore = await PostgresReadStore.open({ connectionString: readUrl });
      const listeners: Array<(positions: readonly bigint[]) => void> = [];
      const projector = new Projector({
        log: watcher,
        store: readStore,
        projections: [counters as never],
        onApplied: (_name, events) => {
          const positions = events.map((e) => e.position);
          for (const l of listeners) l(positions);
        },
      });
      const command = counterCommands(writer, 1000);
      try {
        return await measureLag(
          {
            command: async (i) => (await command(i)).position,
            onProjected: (l) => listeners.push(l),
            start: () => projector.start(),
            stop: () => projector.stop(),
          },
          perSecond,
          seconds,
        );
      } finally {
        await Promise.all([writer.close(), watcher.close(), readStore.close()]);
      }
    }),
  );
}

/**
 * Runs the steady load on `rig` and measures the lag of each event from the moment its command
 * was answered (just after its COMMIT) to the moment the read-model transaction that applied it
 * committed; an event projected before its command's answer arrived counts as 0. The first
 * second is a warm-up, left out.
 */
export async function measureLag(
  rig: LagRig,
  perSecond: number,
  seconds: number,
): Promise<LagFigures> {
  const answered = new Map<bigint, number>();
  const lags: number[] = [];
  let warm = false;
  let projected = 0n;
  rig.onProjected((positions) => {
    const now = performance.now();
    for (const p of positions) {
      const at = answered.get(p);
      if (at === undefined)
        answered.set(p, -now); // projected first: lag 0
      else if (at >= 0) {
        answered.delete(p);
        if (warm) lags.push(now - at);
      }
      if (p > projected) projected = p;
    }
  });
  await rig.start();
  try {
    let last = 0n;
    const answer = (position: bigint) => {
      last = position > last ? position : last;
      const now = performance.now();
      const seen = answered.get(position);
      if (seen === undefined) answered.set(position, now);
      else {
        answered.delete(position);
        if (warm) lags.push(0);
      }
    };
    const start = performance.now();
    const total = perSecond * seconds;
    let sent = 0;
    let measuredFrom = 0;
    let doneAtWarm = 0;
    let done = 0;
    const pending = new Set<Promise<void>>();
    while (sent < total) {
      const elapsed = performance.now() - start;
      if (!warm && elapsed >= 1000) {
        warm = true;
        measuredFrom = performance.now();
        doneAtWarm = done;
      }
      const due = Math.min(total, Math.floor((elapsed / 1000) * perSecond) + 1);
      for (; sent < due; sent++) {
        const p = rig.command(sent).then((position) => {
          done++;
          answer(position);
        });
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(pending);
    const measuredFor = performance.now() - measuredFrom;
    const deadline = performance.now() + 30_000;
    while (projected < last) {
      if (performance.now() > deadline) throw new Error('the projector did not catch up');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return {
      p50: round(median(lags)),
      p99: round(percentile(lags, 99)),
      max: round(Math.max(...lags)),
      commandsPerS: Math.round(((done - doneAtWarm) / measuredFor) * 1000),
    };
  } finally {
    await rig.stop();
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
