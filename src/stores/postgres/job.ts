import type pg from 'pg';
import { ConcurrencyConflict, coreError } from '../../core/errors.js';
import type { AppendResult } from '../../core/event-log.js';
import { encodeJson } from '../../core/json.js';
import type { Event } from '../../core/messages.js';
import type { TransactOptions, TransactOutcome, WriteTx } from '../../core/write-store.js';
import { appendOne, type PendingAppend } from './appends.js';
import type { Prelude } from './prelude.js';
import { readStreamWith } from './read-stream.js';

/** A queued call of the store: a `transact` (with `fn`) or a plain `append`. */
export interface Job {
  /** Absent for a plain `append`, which runs as one statement and needs no savepoint. */
  readonly fn: ((tx: WriteTx<pg.PoolClient>) => unknown) | undefined;
  readonly append: PendingAppend;
  readonly options: TransactOptions;
  readonly resolve: (o: TransactOutcome<unknown>) => void;
  readonly reject: (e: unknown) => void;
  /** Set when the job must run alone (after its shared transaction failed for another reason). */
  alone?: boolean;
}

/** How a job ended, kept until its transaction commits. */
export interface Settled {
  readonly job: Job;
  readonly ok: boolean;
  readonly value: unknown;
}

export const NO_APPEND: PendingAppend = { streamId: '', events: [], options: {} };

// int8 columns come back as decimal strings; positions and versions become bigints here.
export const toBig = (v: string | null): bigint => (v === null ? 0n : BigInt(v));

/** The last position of the log the transaction can see. */
export const maxPosition = async (db: pg.ClientBase): Promise<bigint> =>
  toBig((await db.query<{ p: string | null }>('SELECT max(position) AS p FROM events')).rows[0]!.p);

/** A plain append's outcome: its result, or its version conflict. */
export const settledAppend = (job: Job, r: AppendResult | ConcurrencyConflict): Settled =>
  r instanceof ConcurrencyConflict
    ? { job, ok: false, value: r }
    : { job, ok: true, value: { replayed: false, value: r, position: r.lastPosition } };

/**
 * Runs one `transact` job inside the (possibly shared) transaction: claims its idempotency key,
 * runs `fn`, stores the key's result. `last` is the position of the last event it recorded.
 */
export async function runJob(
  w: pg.PoolClient,
  prelude: Prelude,
  job: Job,
  clock: () => Date,
): Promise<{ outcome: TransactOutcome<unknown>; last: bigint | undefined }> {
  const { options } = job;
  const fn = job.fn!;
  const key = options.idempotency;
  if (key) {
    const found = await prelude.run<{ fingerprint: string; result: string }>(
      {
        name: 'tworooms_claim_key',
        text: 'SELECT * FROM tworooms_claim_key($1)',
        values: [key.key],
      },
      () => `SELECT * FROM tworooms_claim_key(${w.escapeLiteral(key.key)})`,
    );
    const existing = found.rows[0];
    if (existing) {
      if (existing.fingerprint !== key.fingerprint) throw coreError('IDEMPOTENCY_KEY_REUSED');
      return { outcome: { replayed: true, result: existing.result }, last: undefined };
    }
  }
  let last: bigint | undefined;
  const db = prelude.handle(w);
  const tx: WriteTx<pg.PoolClient> = {
    db,
    record: async (streamId, events: readonly Event[], appendOptions = {}) => {
      const append = { streamId, events, options: appendOptions };
      const r = await appendOne(w, append, options.metadata, clock(), prelude);
      if (events.length > 0) last = r.lastPosition;
      return r;
    },
    readStream: (streamId, readOptions) => readStreamWith(db, streamId, readOptions),
  };
  const value = await fn(tx);
  const position = last ?? (await maxPosition(db));
  if (key) {
    await db.query('INSERT INTO idempotency_keys (key, fingerprint, result) VALUES ($1, $2, $3)', [
      key.key,
      key.fingerprint,
      encodeJson({ value, position }),
    ]);
  }
  return { outcome: { replayed: false, value, position }, last };
}
