import type pg from 'pg';
import { ConcurrencyConflict } from '../../core/errors.js';
import type { AppendOptions, AppendResult } from '../../core/event-log.js';
import type { Event, MessageMetadata } from '../../core/messages.js';
import type { TransactOptions, WriteTx } from '../../core/write-store.js';

/** Thrown into a job's calls when the batched attempt is given up: the job will run again. */
export class RunAgainSerially extends Error {
  constructor() {
    super('tworooms: this transaction runs again (group commit fell back to serial mode)');
  }
}

export interface BatchJob {
  readonly fn: (tx: WriteTx<pg.PoolClient>) => unknown;
  readonly options: TransactOptions;
}

export interface BatchAppend {
  readonly streamId: string;
  readonly events: readonly Event[];
  readonly options: AppendOptions;
}

export type BatchOutcome =
  | { readonly ok: true; readonly value: unknown; readonly last: bigint | undefined }
  | { readonly ok: false; readonly error: unknown };

interface State {
  waiting: boolean;
  done: boolean;
  interacted: boolean;
  wrote: boolean;
  last: bigint | undefined;
  request:
    | {
        append: BatchAppend;
        resolve: (r: AppendResult) => void;
        reject: (e: unknown) => void;
      }
    | undefined;
  outcome: BatchOutcome | undefined;
}

/**
 * The fast path of group commit for transactions whose only database work is one `record`
 * (an event-sourced command): every job runs at once up to its `record`; all of them are then
 * written by one statement (`appendMany`; a version conflict writes nothing); the jobs finish.
 * Any other database call, or a job that throws after its events were written, gives the
 * attempt up (`undefined`): the caller rolls back and runs the group again the careful way.
 */
export async function runBatched(
  client: pg.PoolClient,
  jobs: readonly BatchJob[],
  appendMany: (
    appends: readonly BatchAppend[],
  ) => Promise<Array<AppendResult | ConcurrencyConflict>>,
): Promise<BatchOutcome[] | undefined> {
  let aborted = false;
  let flushed = false;
  let ready!: () => void;
  const allWaiting = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const states: State[] = jobs.map(() => ({
    waiting: false,
    done: false,
    interacted: false,
    wrote: false,
    last: undefined,
    request: undefined,
    outcome: undefined,
  }));
  const check = () => {
    if (states.every((s) => s.waiting || s.done)) ready();
  };
  const giveUp = <T>(): Promise<T> => {
    aborted = true;
    return Promise.reject(new RunAgainSerially());
  };
  const refusing = new Proxy(client, {
    get: (target, prop) => {
      if (prop === 'query') return () => giveUp();
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

  const runs = jobs.map(async (job, i) => {
    const state = states[i]!;
    const txMetadata = job.options.metadata;
    const tx: WriteTx<pg.PoolClient> = {
      db: refusing,
      readStream: () => giveUp(),
      record: (streamId, events, options = {}) => {
        if (flushed || state.interacted) return giveUp();
        state.interacted = true;
        state.waiting = true;
        const metadata: MessageMetadata | undefined =
          txMetadata && options.metadata
            ? { ...txMetadata, ...options.metadata }
            : (options.metadata ?? txMetadata);
        return new Promise<AppendResult>((resolve, reject) => {
          state.request = {
            append: { streamId, events, options: metadata ? { ...options, metadata } : options },
            resolve,
            reject,
          };
          check();
        });
      },
    };
    try {
      state.outcome = { ok: true, value: await job.fn(tx), last: undefined };
    } catch (error) {
      state.outcome = { ok: false, error };
    }
    state.waiting = false;
    state.done = true;
    check();
  });

  await allWaiting;
  flushed = true;
  const batch = states.filter((s) => s.request);
  try {
    if (!aborted && batch.length > 0) {
      const results = await appendMany(batch.map((s) => s.request!.append));
      for (const [i, r] of results.entries()) {
        const s = batch[i]!;
        if (r instanceof ConcurrencyConflict) {
          s.request!.reject(r);
        } else {
          if (s.request!.append.events.length > 0) {
            s.wrote = true;
            s.last = r.lastPosition;
          }
          s.request!.resolve(r);
        }
      }
    } else {
      for (const s of batch) s.request!.reject(new RunAgainSerially());
    }
  } catch (error) {
    for (const s of batch) s.request!.reject(new RunAgainSerially());
    await Promise.all(runs);
    throw error;
  }
  await Promise.all(runs);
  if (aborted) return undefined;
  const outcomes: BatchOutcome[] = [];
  for (const s of states) {
    const o = s.outcome!;
    // A job that failed after its events were written cannot be undone alone here.
    if (!o.ok && s.wrote) return undefined;
    outcomes.push(o.ok ? { ok: true, value: o.value, last: s.last } : o);
  }
  return outcomes;
}
