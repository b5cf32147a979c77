import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isConcurrencyConflict, TworoomsError } from '../../src/core/errors.js';
import {
  type AppendResult,
  type EventLog,
  type EventLogReader,
  type ExpectedVersion,
  type ReadAllOptions,
  readAllData,
} from '../../src/core/event-log.js';
import { decodeJson } from '../../src/core/json.js';
import type { Event, MessageMetadata, RecordedEvent } from '../../src/core/messages.js';
import type { TransactOutcome, WriteStore } from '../../src/core/write-store.js';

/** What every store under test must be: the write side and the event log in one. */
export type ConformanceStore = WriteStore<unknown> & EventLog;

export interface ConformanceFixture {
  readonly store: ConformanceStore;
  cleanup(): Promise<void>;
}

export interface EventLogConformanceOptions {
  /**
   * Positions are 1, 2, 3… with no holes, even after rollbacks (memory, SQLite). A store whose
   * positions come from a sequence (PostgreSQL) may leave holes: pass `false` and the suite only
   * checks that positions are strictly increasing. Default `true`.
   */
  readonly gaplessPositions?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ev = (type: string, data: Record<string, unknown> = {}, metadata?: MessageMetadata): Event =>
  metadata === undefined ? { type, data } : { type, data, metadata };

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The rejection reason of `p`; fails the test if `p` resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await p;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got ${String(value)}`);
}

/** Asserts `p` rejects with a `CONCURRENCY_CONFLICT` TworoomsError (for `streamId`, at `actual`). */
async function expectConflict(
  p: Promise<unknown>,
  streamId: string,
  actual: bigint,
): Promise<void> {
  const error = await rejection(p);
  expect(error).toBeInstanceOf(TworoomsError);
  expect(error).toMatchObject({
    code: 'CONCURRENCY_CONFLICT',
    category: 'conflict',
    details: { streamId, actual: actual.toString() },
  });
}

const versionsOf = (events: readonly RecordedEvent[]) => events.map((e) => e.streamVersion);
const positionsOf = (events: readonly RecordedEvent[]) => events.map((e) => e.position);
const range = (from: bigint, to: bigint): bigint[] => {
  const out: bigint[] = [];
  for (let v = from; v <= to; v++) out.push(v);
  return out;
};

function expectStrictlyIncreasing(values: readonly bigint[]): void {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i]! > values[i - 1]!)) {
      throw new Error(`not strictly increasing at index ${i}: ${values[i - 1]} then ${values[i]}`);
    }
  }
}

/**
 * The conformance suite of the event log and the write store. Each test gets a fresh store from
 * `factory` and cleans it up afterwards.
 * @example eventLogConformance('memory', async () => { const store = new MemoryEventStore(); return { store, cleanup: () => store.close() }; });
 */
export function eventLogConformance(
  name: string,
  factory: () => Promise<{ store: WriteStore<unknown> & EventLog; cleanup(): Promise<void> }>,
  options: EventLogConformanceOptions = {},
): void {
  const gapless = options.gaplessPositions ?? true;

  describe(`event log conformance: ${name}`, () => {
    let fixture: ConformanceFixture | undefined;
    let store: ConformanceStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });

    afterEach(async () => {
      const f = fixture;
      fixture = undefined;
      await f?.cleanup();
    });

    /** The whole log, read in small batches by following `coveredTo`. */
    async function readEverything(limit = 7, types?: readonly string[]): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      let after = 0n;
      for (let rounds = 0; ; rounds++) {
        if (rounds > 100_000) throw new Error('readAll does not make progress');
        const page = await store.readAll(types ? { after, limit, types } : { after, limit });
        expect(page.events.length).toBeLessThanOrEqual(limit);
        expect(page.coveredTo).toBeGreaterThanOrEqual(after);
        for (const e of page.events) {
          expect(e.position).toBeGreaterThan(after);
          expect(e.position).toBeLessThanOrEqual(page.coveredTo);
        }
        out.push(...page.events);
        if (page.events.length === 0 && page.coveredTo === after) return out;
        after = page.coveredTo;
      }
    }

    async function head(): Promise<bigint> {
      return store.headPosition();
    }

    describe('expected versions', () => {
      it('no_stream succeeds on a new stream and conflicts on an existing one', async () => {
        const r = await store.append('nostream-1', [ev('Created', { n: 1 })], {
          expectedVersion: 'no_stream',
        });
        expect(r).toEqual({ streamVersion: 1n, firstPosition: 1n, lastPosition: 1n });

        await expectConflict(
          store.append('nostream-1', [ev('Created', { n: 2 })], { expectedVersion: 'no_stream' }),
          'nostream-1',
          1n,
        );
        expect(await head()).toBe(1n);
        const s = await store.readStream('nostream-1');
        expect(s.streamVersion).toBe(1n);
        expect(s.events.map((e) => e.data)).toEqual([{ n: 1 }]);
      });

      it('an exact version must match: right is ok, stale or ahead conflicts', async () => {
        const r1 = await store.append('exact', [ev('E', { n: 1 }), ev('E', { n: 2 })], {
          expectedVersion: 'no_stream',
        });
        expect(r1).toEqual({ streamVersion: 2n, firstPosition: 1n, lastPosition: 2n });
        const r2 = await store.append('exact', [ev('E', { n: 3 })], { expectedVersion: 2n });
        expect(r2).toEqual({ streamVersion: 3n, firstPosition: 3n, lastPosition: 3n });

        await expectConflict(
          store.append('exact', [ev('E', { n: 99 })], { expectedVersion: 2n }),
          'exact',
          3n,
        );
        await expectConflict(
          store.append('exact', [ev('E', { n: 99 })], { expectedVersion: 4n }),
          'exact',
          3n,
        );
        await expectConflict(
          store.append('exact', [ev('E', { n: 99 })], { expectedVersion: 0n }),
          'exact',
          3n,
        );
        // On a missing stream, 0n is the only right version.
        await expectConflict(
          store.append('exact-missing', [ev('E', { n: 99 })], { expectedVersion: 1n }),
          'exact-missing',
          0n,
        );
        const r3 = await store.append('exact-new', [ev('E', { n: 4 })], { expectedVersion: 0n });
        expect(r3).toEqual({ streamVersion: 1n, firstPosition: 4n, lastPosition: 4n });

        expect(await head()).toBe(4n);
        const s = await store.readStream('exact');
        expect(versionsOf(s.events)).toEqual([1n, 2n, 3n]);
        expect(s.events.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
        expect(await store.readStream('exact-missing')).toEqual({
          events: [],
          streamVersion: 0n,
          streamExists: false,
        });
      });

      it('stream_exists conflicts on a missing stream and succeeds on an existing one', async () => {
        await expectConflict(
          store.append('exists', [ev('E')], { expectedVersion: 'stream_exists' }),
          'exists',
          0n,
        );
        expect(await head()).toBe(0n);
        expect((await store.readStream('exists')).streamExists).toBe(false);

        await store.append('exists', [ev('E', { n: 1 })]);
        const r = await store.append('exists', [ev('E', { n: 2 })], {
          expectedVersion: 'stream_exists',
        });
        expect(r).toEqual({ streamVersion: 2n, firstPosition: 2n, lastPosition: 2n });
      });

      it('any (and no option at all) always succeeds', async () => {
        const cases: Array<ExpectedVersion | undefined> = ['any', 'any', undefined, undefined];
        let n = 0;
        for (const expectedVersion of cases) {
          n++;
          const r =
            expectedVersion === undefined
              ? await store.append('anything', [ev('E', { n })])
              : await store.append('anything', [ev('E', { n })], { expectedVersion });
          expect(r).toEqual({
            streamVersion: BigInt(n),
            firstPosition: BigInt(n),
            lastPosition: BigInt(n),
          });
        }
        const fresh = await store.append('anything-else', [ev('E')], { expectedVersion: 'any' });
        expect(fresh).toEqual({ streamVersion: 1n, firstPosition: 5n, lastPosition: 5n });
      });

      it('a conflicting append writes nothing', async () => {
        await store.append('c1', [ev('E', { n: 1 })]);
        await store.append('c2', [ev('E', { n: 2 })]);
        const before = await readEverything();
        const headBefore = await head();
        expect(headBefore).toBe(2n);

        const attempts: Array<[string, ExpectedVersion]> = [
          ['c1', 'no_stream'],
          ['c1', 0n],
          ['c1', 2n],
          ['c3', 'stream_exists'],
          ['c3', 1n],
        ];
        for (const [streamId, expectedVersion] of attempts) {
          const actual = streamId === 'c1' ? 1n : 0n;
          await expectConflict(
            store.append(streamId, [ev('Bad', { x: 1 }), ev('Bad', { x: 2 })], { expectedVersion }),
            streamId,
            actual,
          );
        }
        expect(await head()).toBe(headBefore);
        expect(await readEverything()).toEqual(before);
        const c1 = await store.readStream('c1');
        expect(c1.streamVersion).toBe(1n);
        expect(c1.events.map((e) => e.type)).toEqual(['E']);
        expect(await store.readStream('c3')).toEqual({
          events: [],
          streamVersion: 0n,
          streamExists: false,
        });
        // The log still accepts the right version afterwards, at the next position.
        const ok = await store.append('c1', [ev('E', { n: 3 })], { expectedVersion: 1n });
        expect(ok).toEqual({ streamVersion: 2n, firstPosition: 3n, lastPosition: 3n });
      });

      it('several events in one append get contiguous versions and positions', async () => {
        await store.append('other', [ev('O'), ev('O')]);
        const r1 = await store.append(
          'multi',
          [ev('M', { i: 0 }), ev('M', { i: 1 }), ev('M', { i: 2 }), ev('M', { i: 3 })],
          {
            expectedVersion: 'no_stream',
          },
        );
        expect(r1).toEqual({ streamVersion: 4n, firstPosition: 3n, lastPosition: 6n });
        await store.append('other', [ev('O')]);
        const r2 = await store.append(
          'multi',
          [ev('M', { i: 4 }), ev('M', { i: 5 }), ev('M', { i: 6 })],
          {
            expectedVersion: 4n,
          },
        );
        expect(r2).toEqual({ streamVersion: 7n, firstPosition: 8n, lastPosition: 10n });

        const s = await store.readStream('multi');
        expect(s.streamVersion).toBe(7n);
        expect(versionsOf(s.events)).toEqual(range(1n, 7n));
        expect(positionsOf(s.events)).toEqual([3n, 4n, 5n, 6n, 8n, 9n, 10n]);
        expect(s.events.map((e) => e.data['i'])).toEqual([0, 1, 2, 3, 4, 5, 6]);
        expect(await head()).toBe(10n);
        const all = await readEverything();
        expect(positionsOf(all)).toEqual(range(1n, 10n));
        expect(all.map((e) => e.streamId)).toEqual([
          'other',
          'other',
          'multi',
          'multi',
          'multi',
          'multi',
          'other',
          'multi',
          'multi',
          'multi',
        ]);
      });
    });

    describe('concurrent appends to one stream', () => {
      it('64 appenders with the same expected version: exactly one wins', async () => {
        await store.append('race', [ev('Started')], { expectedVersion: 'no_stream' });
        const settled = await Promise.allSettled(
          Array.from({ length: 64 }, (_, i) =>
            store.append('race', [ev('Raced', { i })], { expectedVersion: 1n }),
          ),
        );
        const won = settled.filter(
          (s): s is PromiseFulfilledResult<AppendResult> => s.status === 'fulfilled',
        );
        const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(63);
        expect(won[0]!.value).toEqual({ streamVersion: 2n, firstPosition: 2n, lastPosition: 2n });
        for (const l of lost) {
          expect(l.reason).toBeInstanceOf(TworoomsError);
          expect(l.reason).toMatchObject({
            code: 'CONCURRENCY_CONFLICT',
            details: { streamId: 'race', actual: '2' },
          });
        }
        const winner = settled.findIndex((s) => s.status === 'fulfilled');
        const s = await store.readStream('race');
        expect(s.streamVersion).toBe(2n);
        expect(versionsOf(s.events)).toEqual([1n, 2n]);
        expect(s.events.map((e) => e.type)).toEqual(['Started', 'Raced']);
        expect(s.events[1]!.data).toEqual({ i: winner });
        expect(await head()).toBe(2n);
      });

      it('64 creators of one stream with no_stream: exactly one wins', async () => {
        const settled = await Promise.allSettled(
          Array.from({ length: 64 }, (_, i) =>
            store.append('create-race', [ev('Created', { i }), ev('Created', { i })], {
              expectedVersion: 'no_stream',
            }),
          ),
        );
        const won = settled.filter((s) => s.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const s of settled) {
          if (s.status === 'rejected') expect(isConcurrencyConflict(s.reason)).toBe(true);
        }
        const s = await store.readStream('create-race');
        expect(versionsOf(s.events)).toEqual([1n, 2n]);
        expect(s.events[0]!.data).toEqual(s.events[1]!.data);
        expect(await head()).toBe(2n);
      });

      it('64 appenders that retry on conflict all succeed, versions 1..65 contiguous', async () => {
        await store.append('retry', [ev('Started')], { expectedVersion: 'no_stream' });
        let conflicts = 0;
        const appendWithRetry = async (i: number): Promise<AppendResult> => {
          for (let attempt = 0; attempt < 10_000; attempt++) {
            const { streamVersion } = await store.readStream('retry');
            try {
              return await store.append('retry', [ev('Retried', { i })], {
                expectedVersion: streamVersion,
              });
            } catch (error) {
              if (!isConcurrencyConflict(error)) throw error;
              conflicts++;
            }
          }
          throw new Error(`appender ${i} never got through`);
        };
        const results = await Promise.all(Array.from({ length: 64 }, (_, i) => appendWithRetry(i)));

        expect(conflicts).toBeGreaterThan(0);
        expect(results.map((r) => r.streamVersion).sort((a, b) => (a < b ? -1 : 1))).toEqual(
          range(2n, 65n),
        );
        const s = await store.readStream('retry');
        expect(s.streamVersion).toBe(65n);
        expect(versionsOf(s.events)).toEqual(range(1n, 65n));
        const is = s.events.slice(1).map((e) => e.data['i'] as number);
        expect(new Set(is).size).toBe(64);
        expect([...is].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
        // Each appender's result points at its own event.
        for (const [i, r] of results.entries()) {
          const mine = s.events.find((e) => e.streamVersion === r.streamVersion)!;
          expect(mine.data).toEqual({ i });
          expect(mine.position).toBe(r.lastPosition);
        }
        expect(await head()).toBe(gapless ? 65n : s.events.at(-1)!.position);
      });
    });

    describe('global order', () => {
      it('readAll in batches returns every event once, in position order', async () => {
        const streams = 12;
        const writers = 48;
        const perWriter = 5;
        const appended: Array<{ writer: number; tags: string[]; result: AppendResult }> = [];
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let j = 0; j < perWriter; j++) {
              const count = 1 + ((w + j) % 3);
              const tags = Array.from({ length: count }, (_, k) => `${w}.${j}.${k}`);
              const result = await store.append(
                `order-${(w * 7 + j) % streams}`,
                tags.map((tag) => ev('Ordered', { tag })),
                { expectedVersion: 'any' },
              );
              appended.push({ writer: w, tags, result });
            }
          }),
        );
        const allTags = appended.flatMap((a) => a.tags);
        const all = await readEverything(7);

        expect(all).toHaveLength(allTags.length);
        expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
        expect(new Set(all.map((e) => e.data['tag'])).size).toBe(all.length);
        expect(new Set(all.map((e) => e.data['tag']))).toEqual(new Set(allTags));
        expectStrictlyIncreasing(positionsOf(all));
        if (gapless) expect(positionsOf(all)).toEqual(range(1n, BigInt(allTags.length)));
        expect(await head()).toBe(all.at(-1)!.position);

        // Each append landed where its result says, its events together and in order.
        const byPosition = new Map(all.map((e) => [e.position, e]));
        for (const a of appended) {
          const last = byPosition.get(a.result.lastPosition)!;
          expect(last.data['tag']).toBe(a.tags.at(-1));
          const first = byPosition.get(a.result.firstPosition)!;
          expect(first.data['tag']).toBe(a.tags[0]);
          if (gapless) {
            expect(a.result.lastPosition - a.result.firstPosition + 1n).toBe(BigInt(a.tags.length));
          }
        }
        // One writer's sequential appends are ordered in the log as it made them.
        for (let w = 0; w < writers; w++) {
          const mine = appended.filter((a) => a.writer === w).map((a) => a.result.firstPosition);
          expectStrictlyIncreasing(mine);
        }
        // Every stream's versions are 1..n with no hole, and agree with the log's order.
        for (let i = 0; i < streams; i++) {
          const s = await store.readStream(`order-${i}`);
          expect(versionsOf(s.events)).toEqual(range(1n, BigInt(s.events.length)));
          expectStrictlyIncreasing(positionsOf(s.events));
          expect(s.events).toEqual(all.filter((e) => e.streamId === `order-${i}`));
        }
      });

      it('a reader running alongside the writers never skips a committed event', async () => {
        const writers = 24;
        const perWriter = 8;
        let total = 0;
        for (let w = 0; w < writers; w++)
          for (let j = 0; j < perWriter; j++) total += 1 + ((w + j) % 2);

        let writing = true;
        // The writers wait for the reader's first read before they start and for its second one
        // halfway through, so that it reads while they write however the machine schedules them
        // (on a slow machine 24 writers could otherwise hold every pooled connection until done).
        let reads = 0;
        const untilReads = async (n: number) => {
          while (reads < n) await yieldToIo();
        };
        const writes = Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            await untilReads(1);
            for (let j = 0; j < perWriter; j++) {
              if (j === perWriter / 2) await untilReads(2);
              const count = 1 + ((w + j) % 2);
              await store.append(
                `live-${(w + j) % 5}`,
                Array.from({ length: count }, (_, k) => ev('Live', { tag: `${w}.${j}.${k}` })),
              );
              if ((w + j) % 3 === 0) await yieldToIo();
            }
          }),
        ).finally(() => {
          writing = false;
        });

        const seen: RecordedEvent[] = [];
        let after = 0n;
        let readsWhileWriting = 0;
        const deadline = Date.now() + 10_000;
        while (seen.length < total) {
          if (Date.now() > deadline) throw new Error(`reader stuck at ${seen.length}/${total}`);
          const page = await store.readAll({ after, limit: 3 });
          if (writing) readsWhileWriting++;
          reads++;
          expect(page.coveredTo).toBeGreaterThanOrEqual(after);
          for (const e of page.events) expect(e.position).toBeGreaterThan(after);
          seen.push(...page.events);
          after = page.coveredTo;
          if (page.events.length === 0) await yieldToIo();
        }
        await writes;
        const tail = await store.readAll({ after, limit: 1000 });
        expect(tail.events).toEqual([]);

        const all = await readEverything(50);
        expect(all).toHaveLength(total);
        expect(readsWhileWriting).toBeGreaterThan(1);
        expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
        expect(seen).toEqual(all);
        expectStrictlyIncreasing(positionsOf(seen));
      });
    });

    describe('readAll', () => {
      async function seed(): Promise<RecordedEvent[]> {
        // A, B and C interleaved over three streams, ending with a run of B's.
        const plan: Array<[string, string[]]> = [
          ['s1', ['A', 'B']],
          ['s2', ['C']],
          ['s1', ['A']],
          ['s3', ['B', 'B', 'C']],
          ['s2', ['A', 'C', 'A']],
          ['s3', ['C']],
          ['s1', ['B', 'A', 'B']],
          ['s2', ['B', 'B']],
        ];
        let n = 0;
        for (const [streamId, types] of plan) {
          await store.append(
            streamId,
            types.map((t) => ev(t, { n: n++ })),
          );
        }
        const all = await readEverything(100);
        expect(all).toHaveLength(n);
        return all;
      }

      it('an empty log: no events, coveredTo 0n, head 0n', async () => {
        expect(await head()).toBe(0n);
        expect(await store.readAll({ after: 0n, limit: 10 })).toEqual({
          events: [],
          coveredTo: 0n,
        });
        expect(await store.readAll({ after: 0n, limit: 10, types: ['A'] })).toEqual({
          events: [],
          coveredTo: 0n,
        });
      });

      it('from every position, starts right after it and respects the limit', async () => {
        const all = await seed();
        const last = all.at(-1)!.position;
        expect(await head()).toBe(last);
        if (gapless) expect(positionsOf(all)).toEqual(range(1n, BigInt(all.length)));

        for (let p = 0n; p <= last; p++) {
          const rest = all.filter((e) => e.position > p);
          for (const limit of [1, 2, 5, 100]) {
            const page = await store.readAll({ after: p, limit });
            const expected = rest.slice(0, limit);
            expect(page.events).toEqual(expected);
            if (gapless && p < last) expect(page.events[0]!.position).toBe(p + 1n);
            if (expected.length < limit) {
              expect(page.coveredTo).toBe(last);
            } else {
              // Resuming from coveredTo must skip nothing.
              const lastReturned = expected.at(-1)!.position;
              const next = rest[limit];
              expect(page.coveredTo).toBeGreaterThanOrEqual(lastReturned);
              if (next) expect(page.coveredTo).toBeLessThan(next.position);
            }
          }
        }
        expect(await store.readAll({ after: last, limit: 10 })).toEqual({
          events: [],
          coveredTo: last,
        });
      });

      it('a types filter returns only those types and coveredTo passes the others', async () => {
        const all = await seed();
        const last = all.at(-1)!.position;
        for (const types of [['A'], ['A', 'C'], ['C'], ['B']]) {
          const matching = all.filter((e) => types.includes(e.type));
          for (let p = 0n; p <= last; p++) {
            const rest = matching.filter((e) => e.position > p);
            for (const limit of [1, 2, 100]) {
              const page = await store.readAll({ after: p, limit, types });
              const expected = rest.slice(0, limit);
              expect(page.events).toEqual(expected);
              if (expected.length < limit) {
                expect(page.coveredTo).toBe(last);
              } else {
                const next = rest[limit];
                expect(page.coveredTo).toBeGreaterThanOrEqual(expected.at(-1)!.position);
                if (next) expect(page.coveredTo).toBeLessThan(next.position);
              }
            }
          }
          // Paging with the filter collects exactly the matching events.
          expect(await readEverything(2, types)).toEqual(matching);
        }
        // The log ends with B's: an A-only read of the tail finds nothing but covers to the head.
        const lastA = all.filter((e) => e.type === 'A').at(-1)!;
        expect(lastA.position).toBeLessThan(last);
        expect(await store.readAll({ after: lastA.position, limit: 10, types: ['A'] })).toEqual({
          events: [],
          coveredTo: last,
        });
        expect(await store.readAll({ after: 0n, limit: 10, types: ['Unknown'] })).toEqual({
          events: [],
          coveredTo: last,
        });
      });

      it('readAllData: the same events as readAll with type, data and position only, the same coveredTo', async () => {
        const lean = (e: RecordedEvent) => ({ position: e.position, type: e.type, data: e.data });
        const alike = async (options: ReadAllOptions) => {
          const full = await store.readAll(options);
          const expected = { events: full.events.map(lean), coveredTo: full.coveredTo };
          expect(await store.readAllData!(options)).toEqual(expected);
          expect(await readAllData(store, options)).toEqual(expected);
        };
        expect(store.readAllData).toBeTypeOf('function');
        await alike({ after: 0n, limit: 10 });
        await alike({ after: 0n, limit: 10, types: ['A'] });
        await seed();
        // An event with metadata last: it is left out of the lean read too.
        const last = (await store.append('meta', [ev('A', { m: 1 }, { actor: 'x' })])).lastPosition;
        for (const types of [undefined, ['A'], ['A', 'C'], ['B'], ['Unknown']])
          for (let p = 0n; p <= last; p++)
            for (const limit of [1, 2, 100])
              await alike(types ? { after: p, limit, types } : { after: p, limit });
        // A log without the lean read is read whole.
        const plain: EventLogReader = {
          readAll: (o) => store.readAll(o),
          readStream: (id, o) => store.readStream(id, o),
          headPosition: () => store.headPosition(),
        };
        expect(await readAllData(plain, { after: 0n, limit: 100 })).toEqual(
          await store.readAll({ after: 0n, limit: 100 }),
        );
      });

      it('headPosition is the last position', async () => {
        expect(await head()).toBe(0n);
        const r1 = await store.append('h', [ev('H'), ev('H')]);
        expect(await head()).toBe(r1.lastPosition);
        const r2 = await store.append('h2', [ev('H')]);
        expect(await head()).toBe(r2.lastPosition);
        expect(r2.lastPosition).toBe(3n);
      });
    });

    describe('readStream', () => {
      it('fromVersion and maxCount select a slice; streamVersion stays the stream version', async () => {
        for (let i = 1; i <= 5; i++) {
          await store.append('rs', [ev('R', { v: i })]);
          await store.append(`noise-${i}`, [ev('N', { v: i })]);
        }
        const vs = async (opts: { fromVersion?: bigint; maxCount?: number }) => {
          const r = await store.readStream('rs', opts);
          expect(r.streamVersion).toBe(5n);
          expect(r.streamExists).toBe(true);
          for (const e of r.events) {
            expect(e.streamId).toBe('rs');
            expect(e.data).toEqual({ v: Number(e.streamVersion) });
          }
          return versionsOf(r.events);
        };
        expect(await vs({})).toEqual([1n, 2n, 3n, 4n, 5n]);
        expect(await vs({ fromVersion: 1n })).toEqual([1n, 2n, 3n, 4n, 5n]);
        expect(await vs({ fromVersion: 3n })).toEqual([3n, 4n, 5n]);
        expect(await vs({ fromVersion: 5n })).toEqual([5n]);
        expect(await vs({ fromVersion: 6n })).toEqual([]);
        expect(await vs({ fromVersion: 100n })).toEqual([]);
        expect(await vs({ maxCount: 2 })).toEqual([1n, 2n]);
        expect(await vs({ maxCount: 0 })).toEqual([]);
        expect(await vs({ maxCount: 50 })).toEqual([1n, 2n, 3n, 4n, 5n]);
        expect(await vs({ fromVersion: 2n, maxCount: 2 })).toEqual([2n, 3n]);
        expect(await vs({ fromVersion: 4n, maxCount: 10 })).toEqual([4n, 5n]);
        // Versions start at 1: "from version 0" is every event.
        expect(await vs({ fromVersion: 0n })).toEqual([1n, 2n, 3n, 4n, 5n]);

        const full = await store.readStream('rs');
        expectStrictlyIncreasing(positionsOf(full.events));
        if (gapless) expect(positionsOf(full.events)).toEqual([1n, 3n, 5n, 7n, 9n]);
      });

      it('a missing stream: no events, version 0n, does not exist', async () => {
        expect(await store.readStream('missing')).toEqual({
          events: [],
          streamVersion: 0n,
          streamExists: false,
        });
        await store.append('present', [ev('P')]);
        expect(await store.readStream('missing', { fromVersion: 1n, maxCount: 10 })).toEqual({
          events: [],
          streamVersion: 0n,
          streamExists: false,
        });
        // Stream ids are exact: no prefix or case folding.
        expect((await store.readStream('Present')).streamExists).toBe(false);
        expect((await store.readStream('presen')).streamExists).toBe(false);
        expect((await store.readStream('present')).streamVersion).toBe(1n);
      });
    });

    describe('recorded events', () => {
      it('carry a unique id, stream, version, position, recordedAt and the data', async () => {
        const before = Date.now();
        const data = { s: 'text', n: 42, f: 1.5, b: true, z: null, arr: [1, 'two', { three: 3 }] };
        await store.append('fields', [ev('F', data), ev('F', { n: 2 })]);
        await store.append('fields-2', [ev('G', {})]);
        const after = Date.now();
        const all = await readEverything();
        expect(all).toHaveLength(3);
        const ids = all.map((e) => e.id);
        expect(new Set(ids).size).toBe(3);
        for (const id of ids) expect(id).toMatch(UUID);
        expect(all.map((e) => [e.type, e.streamId, e.streamVersion, e.position])).toEqual([
          ['F', 'fields', 1n, 1n],
          ['F', 'fields', 2n, 2n],
          ['G', 'fields-2', 1n, 3n],
        ]);
        for (const e of all) {
          expect(e.recordedAt).toBeInstanceOf(Date);
          expect(e.recordedAt.getTime()).toBeGreaterThanOrEqual(before);
          expect(e.recordedAt.getTime()).toBeLessThanOrEqual(after);
          expect(e.metadata).toEqual({});
        }
        expect(all[0]!.data).toStrictEqual(data);
        expect(all[1]!.data).toStrictEqual({ n: 2 });
        expect(all[2]!.data).toStrictEqual({});
        // readStream and readAll return the same records.
        expect((await store.readStream('fields')).events).toEqual(all.slice(0, 2));
      });

      it('are stored by value: later changes to the appended or the read objects change nothing', async () => {
        const data = { list: [1, 2], inner: { name: 'first' } };
        const metadata = { actor: 'alice', tags: ['a'] };
        await store.append('by-value', [ev('V', data, metadata)]);
        data.list.push(3);
        data.inner.name = 'changed';
        metadata.tags.push('b');
        const read = await store.readStream('by-value');
        expect(read.events[0]!.data).toEqual({ list: [1, 2], inner: { name: 'first' } });
        expect(read.events[0]!.metadata).toEqual({ actor: 'alice', tags: ['a'] });
        (read.events[0]!.data['list'] as number[]).push(4);
        const again = await store.readStream('by-value');
        expect(again.events[0]!.data).toEqual({ list: [1, 2], inner: { name: 'first' } });
      });

      it('metadata: append-level merged under each event, the event keys win', async () => {
        const shared = { correlationId: 'corr-1', causationId: 'cmd-1', actor: 'customer-7' };
        await store.append(
          'meta',
          [
            ev('M', { i: 0 }),
            ev('M', { i: 1 }, { correlationId: 'own-corr', extra: 'x', nested: { a: [1, 2] } }),
            ev('M', { i: 2 }, { actor: 'admin' }),
          ],
          { metadata: shared },
        );
        await store.append('meta', [ev('M', { i: 3 }, { actor: 'solo' })]);
        await store.append('meta', [ev('M', { i: 4 })]);
        const s = await store.readStream('meta');
        expect(s.events.map((e) => e.metadata)).toEqual([
          { correlationId: 'corr-1', causationId: 'cmd-1', actor: 'customer-7' },
          {
            correlationId: 'own-corr',
            causationId: 'cmd-1',
            actor: 'customer-7',
            extra: 'x',
            nested: { a: [1, 2] },
          },
          { correlationId: 'corr-1', causationId: 'cmd-1', actor: 'admin' },
          { actor: 'solo' },
          {},
        ]);
        const all = await readEverything();
        expect(all.map((e) => e.metadata)).toEqual(s.events.map((e) => e.metadata));
      });

      it('metadata: transaction < record < event', async () => {
        await store.transact(
          async (tx) => {
            await tx.record('txmeta', [ev('T', { i: 0 })]);
            await tx.record(
              'txmeta',
              [ev('T', { i: 1 }), ev('T', { i: 2 }, { actor: 'event-actor', causationId: 'e' })],
              { metadata: { causationId: 'record-cause', extra: 1 } },
            );
          },
          { metadata: { correlationId: 'tx-corr', causationId: 'tx-cause', actor: 'tx-actor' } },
        );
        const s = await store.readStream('txmeta');
        expect(s.events.map((e) => e.metadata)).toEqual([
          { correlationId: 'tx-corr', causationId: 'tx-cause', actor: 'tx-actor' },
          { correlationId: 'tx-corr', causationId: 'record-cause', actor: 'tx-actor', extra: 1 },
          { correlationId: 'tx-corr', causationId: 'e', actor: 'event-actor', extra: 1 },
        ]);
      });
    });

    describe('payloads', () => {
      it('Unicode strings round-trip exactly', async () => {
        const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('');
        const data = {
          emoji: '👩‍👩‍👧‍👦 🚀 🇫🇷 👍🏽 ❤️',
          cjk: '漢字 かな カナ 한국어 中文',
          rtl: 'مرحبا بالعالم — שלום עולם \u200f',
          combining: 'e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937 Z\u0351\u0364\u036b',
          controls: `${controls}\u007f\u0080\u0085\u009f`,
          separators: '\u2028\u2029\ufeff\u200b\u200d',
          quotes: `"'\\ / \\u0000 {"json": true}`,
          astral: '𝕳𝖊𝖑𝖑𝖔 𠜎𠜱𠝹 𓀀',
          'ключ 🔑': 'значение',
          日本: { עברית: ['✓', '∑', 'ﬁ'] },
        };
        const streamId = 'unicode-ストリーム-🚀';
        const metadata = { actor: 'ユーザー 👤', correlationId: 'كود-1' };
        await store.append(streamId, [ev('Unicödé ✓', data, metadata)]);
        const s = await store.readStream(streamId);
        expect(s.events).toHaveLength(1);
        const e = s.events[0]!;
        expect(e.streamId).toBe(streamId);
        expect(e.type).toBe('Unicödé ✓');
        expect(e.data).toStrictEqual(data);
        expect(e.metadata).toStrictEqual(metadata);
        const [fromAll] = (await store.readAll({ after: 0n, limit: 1, types: ['Unicödé ✓'] }))
          .events;
        expect(fromAll).toEqual(e);
      });

      it('a ~1 MB payload and 100 nested levels round-trip exactly', async () => {
        const chunk = 'abcdefghij€漢😀\u0301"\\\n';
        const big = chunk.repeat(Math.ceil(1_048_576 / chunk.length));
        const numbers = Array.from({ length: 5000 }, (_, i) => (i % 2 ? i * 1.25 : -(i + 1)));
        let nested: Record<string, unknown> = { bottom: true, values: [0.1, 1e21, 5e-324] };
        for (let level = 99; level >= 0; level--) nested = { level, child: nested };
        let nestedArray: unknown = ['deepest'];
        for (let level = 0; level < 100; level++) nestedArray = [level, nestedArray];
        const data = {
          big,
          numbers,
          nested,
          nestedArray,
          extremes: [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE],
        };
        expect(JSON.stringify(data).length).toBeGreaterThan(1_000_000);

        const r = await store.append('big', [ev('Big', data), ev('Small', { ok: 1 })]);
        expect(r).toEqual({ streamVersion: 2n, firstPosition: 1n, lastPosition: 2n });
        const s = await store.readStream('big');
        expect(s.events[0]!.data).toStrictEqual(data);
        expect((s.events[0]!.data['big'] as string).length).toBe(big.length);
        expect(s.events[1]!.data).toStrictEqual({ ok: 1 });
        const all = await readEverything();
        expect(all[0]!.data).toStrictEqual(data);
      });
    });

    describe('transactions', () => {
      it('a throw after record rolls back and rejects with that error', async () => {
        await store.append('keep', [ev('K')]);
        const heads: bigint[] = [];
        store.onAppended((h) => heads.push(h));
        const boom = new Error('boom');
        const error = await rejection(
          store.transact(async (tx) => {
            await tx.record('rolled', [ev('R1'), ev('R2')]);
            await tx.record('keep', [ev('K2')], { expectedVersion: 1n });
            throw boom;
          }),
        );
        expect(error).toBe(boom);
        const syncBoom = new Error('sync boom');
        const syncError = await rejection(
          store.transact((tx) => {
            void tx.record('rolled-sync', [ev('R')]);
            throw syncBoom;
          }),
        );
        expect(syncError).toBe(syncBoom);

        expect(await head()).toBe(1n);
        expect(heads).toEqual([]);
        expect((await store.readStream('rolled')).streamExists).toBe(false);
        expect((await store.readStream('rolled-sync')).streamExists).toBe(false);
        expect(versionsOf((await store.readStream('keep')).events)).toEqual([1n]);
        expect(await store.readAll({ after: 1n, limit: 10 })).toEqual({
          events: [],
          coveredTo: 1n,
        });
        // The stream can still take its next version.
        const r = await store.append('keep', [ev('K2')], { expectedVersion: 1n });
        expect(r.streamVersion).toBe(2n);
        if (gapless) expect(r.lastPosition).toBe(2n);
      });

      it('a conflict on a later record rolls back the earlier ones', async () => {
        await store.append('a', [ev('A')]);
        const error = await rejection(
          store.transact(async (tx) => {
            await tx.record('fresh', [ev('F')], { expectedVersion: 'no_stream' });
            await tx.record('a', [ev('A')], { expectedVersion: 'no_stream' });
            return 'unreachable';
          }),
        );
        expect(isConcurrencyConflict(error)).toBe(true);
        expect(await head()).toBe(1n);
        expect((await store.readStream('fresh')).streamExists).toBe(false);
      });

      it('tx.readStream sees its own uncommitted events; store.readStream only after commit', async () => {
        await store.append('seen', [ev('S', { n: 1 })]);
        const observed: Record<string, unknown> = {};
        const outcome = await store.transact(async (tx) => {
          await tx.record('seen', [ev('S', { n: 2 }), ev('S', { n: 3 })], {
            expectedVersion: 1n,
          });
          await tx.record('born', [ev('B', { n: 4 })], { expectedVersion: 'no_stream' });

          const inside = await tx.readStream('seen');
          observed['insideVersions'] = versionsOf(inside.events);
          observed['insideData'] = inside.events.map((e) => e.data['n']);
          observed['insideVersion'] = inside.streamVersion;
          observed['insideFrom2'] = versionsOf(
            (await tx.readStream('seen', { fromVersion: 2n })).events,
          );
          observed['insideMax1'] = versionsOf(
            (await tx.readStream('seen', { maxCount: 1 })).events,
          );
          const born = await tx.readStream('born');
          observed['bornInside'] = [born.streamExists, born.streamVersion, born.events.length];

          const outside = await store.readStream('seen');
          observed['outsideVersions'] = versionsOf(outside.events);
          observed['outsideVersion'] = outside.streamVersion;
          const bornOutside = await store.readStream('born');
          observed['bornOutside'] = [bornOutside.streamExists, bornOutside.streamVersion];
          observed['headOutside'] = await store.headPosition();
          observed['allOutside'] = (await store.readAll({ after: 0n, limit: 100 })).events.length;
          return 'done';
        });

        expect(observed).toEqual({
          insideVersions: [1n, 2n, 3n],
          insideData: [1, 2, 3],
          insideVersion: 3n,
          insideFrom2: [2n, 3n],
          insideMax1: [1n],
          bornInside: [true, 1n, 1],
          outsideVersions: [1n],
          outsideVersion: 1n,
          bornOutside: [false, 0n],
          headOutside: 1n,
          allOutside: 1,
        });
        expect(outcome).toEqual({ replayed: false, value: 'done', position: 4n });
        const after = await store.readStream('seen');
        expect(versionsOf(after.events)).toEqual([1n, 2n, 3n]);
        expect(after.events.map((e) => e.data['n'])).toEqual([1, 2, 3]);
        expect((await store.readStream('born')).streamVersion).toBe(1n);
        expect(await head()).toBe(4n);
      });

      it('the outcome position is the last recorded position, or the head when nothing was recorded', async () => {
        const empty = await store.transact(() => 'nothing');
        expect(empty).toEqual({ replayed: false, value: 'nothing', position: 0n });

        const recorded = await store.transact(async (tx) => {
          const a = await tx.record('p1', [ev('P'), ev('P')]);
          const b = await tx.record('p2', [ev('P')]);
          return { a: a.lastPosition, b: b.lastPosition };
        });
        expect(recorded).toEqual({ replayed: false, value: { a: 2n, b: 3n }, position: 3n });
        expect(await head()).toBe(3n);

        // The last record call decides, even when it lands in an earlier-created stream.
        const again = await store.transact(async (tx) => {
          await tx.record('p2', [ev('P')]);
          await tx.record('p1', [ev('P')]);
          return 1;
        });
        expect(again).toEqual({ replayed: false, value: 1, position: 5n });

        const readOnly = await store.transact(
          async (tx) => (await tx.readStream('p1')).streamVersion,
        );
        expect(readOnly).toEqual({ replayed: false, value: 3n, position: 5n });
      });

      it('onAppended is called with the new head after a commit that recorded events, only then', async () => {
        const heads: bigint[] = [];
        const other: bigint[] = [];
        const off = store.onAppended((h) => heads.push(h));
        store.onAppended((h) => other.push(h));

        const o1 = await store.transact(async (tx) => {
          await tx.record('l', [ev('L'), ev('L')]);
          expect(heads).toEqual([]);
        });
        expect(o1.replayed).toBe(false);
        expect(heads).toEqual([2n]);

        await store.transact(async (tx) => {
          await tx.readStream('l');
          return 'read only';
        });
        await store.transact(() => undefined);
        await rejection(
          store.transact(async (tx) => {
            await tx.record('l', [ev('L')]);
            throw new Error('rolled back');
          }),
        );
        await rejection(store.append('l', [ev('L')], { expectedVersion: 'no_stream' }));
        expect(heads).toEqual([2n]);

        const r = await store.append('l', [ev('L')]);
        expect(heads).toEqual([2n, r.lastPosition]);
        expect(r.lastPosition).toBe(gapless ? 3n : r.lastPosition);

        off();
        await store.append('l', [ev('L')]);
        expect(heads).toEqual([2n, r.lastPosition]);
        expect(other).toEqual([2n, r.lastPosition, await head()]);
      });
    });

    describe('idempotency', () => {
      const idem = { key: 'key-1', fingerprint: 'fp-1' };

      it('stores the record, replays without running, refuses another fingerprint', async () => {
        let runs = 0;
        const fn = async (tx: { record: ConformanceStore['append'] }) => {
          runs++;
          const r = await tx.record('idem', [ev('I', { run: runs })]);
          return { order: 'o-1', run: runs, at: r.lastPosition };
        };
        expect(await store.findIdempotency('key-1')).toBeUndefined();

        const first = await store.transact(fn, { idempotency: idem });
        expect(first).toEqual({
          replayed: false,
          value: { order: 'o-1', run: 1, at: 1n },
          position: 1n,
        });
        const record = await store.findIdempotency('key-1');
        expect(record).toEqual({ key: 'key-1', fingerprint: 'fp-1', result: expect.any(String) });
        expect(decodeJson(record!.result)).toEqual({
          value: { order: 'o-1', run: 1, at: 1n },
          position: 1n,
        });

        const second = await store.transact(fn, { idempotency: idem });
        expect(second).toEqual({ replayed: true, result: record!.result });
        expect(runs).toBe(1);

        const reused = await rejection(
          store.transact(fn, { idempotency: { key: 'key-1', fingerprint: 'fp-2' } }),
        );
        expect(reused).toBeInstanceOf(TworoomsError);
        expect(reused).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
        expect(runs).toBe(1);
        expect(await store.findIdempotency('key-1')).toEqual(record);

        // Another key runs normally.
        const other = await store.transact(fn, {
          idempotency: { key: 'key-2', fingerprint: 'fp-1' },
        });
        expect(other).toEqual({
          replayed: false,
          value: { order: 'o-1', run: 2, at: 2n },
          position: 2n,
        });
        expect(runs).toBe(2);
        expect((await readEverything()).map((e) => e.data)).toEqual([{ run: 1 }, { run: 2 }]);
      });

      it('a key whose transaction threw stores nothing and can be used again', async () => {
        let runs = 0;
        const error = await rejection(
          store.transact(
            async (tx) => {
              runs++;
              await tx.record('idem-fail', [ev('I')]);
              throw new Error('handler failed');
            },
            { idempotency: idem },
          ),
        );
        expect((error as Error).message).toBe('handler failed');
        expect(await store.findIdempotency('key-1')).toBeUndefined();
        expect(await head()).toBe(0n);

        const retry = await store.transact(
          async (tx) => {
            runs++;
            return (await tx.record('idem-fail', [ev('I')])).streamVersion;
          },
          { idempotency: idem },
        );
        expect(retry).toMatchObject({ replayed: false, value: 1n });
        expect(runs).toBe(2);
        expect(await store.findIdempotency('key-1')).toMatchObject(idem);
      });

      it('20 concurrent transactions with one key run the function once', async () => {
        let runs = 0;
        const settled = await Promise.allSettled(
          Array.from({ length: 20 }, () =>
            store.transact(
              async (tx) => {
                runs++;
                await tx.record('idem-race', [ev('I', { n: 1 }), ev('I', { n: 2 })]);
                return { runs };
              },
              { idempotency: idem },
            ),
          ),
        );
        expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
        const outcomes = settled.map(
          (s) => (s as PromiseFulfilledResult<TransactOutcome<{ runs: number }>>).value,
        );
        expect(runs).toBe(1);
        const fresh = outcomes.filter((o) => !o.replayed);
        const replayed = outcomes.filter((o) => o.replayed);
        expect(fresh).toHaveLength(1);
        expect(replayed).toHaveLength(19);
        const record = await store.findIdempotency('key-1');
        expect(record).toEqual({ ...idem, result: expect.any(String) });
        const freshOutcome = fresh[0]!;
        if (freshOutcome.replayed) throw new Error('unreachable');
        expect(decodeJson(record!.result)).toEqual({
          value: freshOutcome.value,
          position: freshOutcome.position,
        });
        for (const o of replayed) expect(o).toEqual({ replayed: true, result: record!.result });

        const all = await readEverything();
        expect(all.map((e) => [e.streamId, e.streamVersion, e.data['n']])).toEqual([
          ['idem-race', 1n, 1],
          ['idem-race', 2n, 2],
        ]);
        expect(freshOutcome.position).toBe(all[1]!.position);
      });
    });

    describe('group commit isolation', () => {
      it('of 20 concurrent transactions, the odd ones throw: only the even ones commit', async () => {
        const errors = Array.from({ length: 20 }, (_, i) => new Error(`tx ${i} failed`));
        const settled = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.transact(async (tx) => {
              await tx.record(`own-${i}`, [ev('Own', { i, k: 0 }), ev('Own', { i, k: 1 })], {
                expectedVersion: 'no_stream',
              });
              await tx.record('shared', [ev('Shared', { i })], { expectedVersion: 'any' });
              if (i % 2 === 1) throw errors[i];
              return i;
            }),
          ),
        );

        const all = await readEverything();
        expect(all).toHaveLength(30);
        expectStrictlyIncreasing(positionsOf(all));
        if (gapless) expect(positionsOf(all)).toEqual(range(1n, 30n));
        const evens = Array.from({ length: 10 }, (_, k) => 2 * k);
        expect(new Set(all.map((e) => e.data['i']))).toEqual(new Set(evens));

        for (const [i, s] of settled.entries()) {
          if (i % 2 === 1) {
            expect(s.status).toBe('rejected');
            expect((s as PromiseRejectedResult).reason).toBe(errors[i]);
            expect(await store.readStream(`own-${i}`)).toEqual({
              events: [],
              streamVersion: 0n,
              streamExists: false,
            });
          } else {
            expect(s.status).toBe('fulfilled');
            const own = await store.readStream(`own-${i}`);
            expect(own.events.map((e) => [e.streamVersion, e.data])).toEqual([
              [1n, { i, k: 0 }],
              [2n, { i, k: 1 }],
            ]);
            const sharedEvent = all.find((e) => e.streamId === 'shared' && e.data['i'] === i)!;
            expect((s as PromiseFulfilledResult<unknown>).value).toEqual({
              replayed: false,
              value: i,
              position: sharedEvent.position,
            });
            expect(sharedEvent.position).toBeGreaterThan(own.events[1]!.position);
          }
        }
        // The rolled-back appends to the shared stream left no hole in its versions.
        const shared = await store.readStream('shared');
        expect(versionsOf(shared.events)).toEqual(range(1n, 10n));
        expect(shared.events.map((e) => e.data['i'] as number).sort((a, b) => a - b)).toEqual(
          evens,
        );
        const next = await store.append('shared', [ev('Shared', { i: 20 })], {
          expectedVersion: 10n,
        });
        expect(next.streamVersion).toBe(11n);
        expect(await head()).toBe(next.lastPosition);
      });
    });
  });
}
