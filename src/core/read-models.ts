import { coreError } from './errors.js';
import type { Event } from './messages.js';
import type { Checkpoint, Projection, ReadStore, SkippedEvent } from './projection.js';
import { declaredTables, namesOf } from './table-copy.js';
import { generationSuffix } from './table-names.js';

/** True when the store offers table operations (blue/green rebuilds and verify). */
export const supportsTables = <H>(store: ReadStore<H>): Promise<boolean> =>
  store.transact((tx) => tx.tables !== undefined);

/**
 * Creates the checkpoint table and each projection's tables if missing (idempotent), each with
 * the index names of the generation that serves; returns the checkpoints.
 */
export async function setupReadModels<H>(
  store: ReadStore<H>,
  projections: readonly Projection<Event, H>[],
): Promise<ReadonlyMap<string, Checkpoint>> {
  await store.setup([]);
  const checkpoints = await store.loadCheckpoints();
  for (const p of projections) {
    const generation = checkpoints.get(p.name)?.generation ?? 0;
    const blueGreen = generation > 0 && declaredTables(p as Projection<Event, unknown>).length > 0;
    const names = blueGreen
      ? namesOf(p as Projection<Event, unknown>, '', generationSuffix(generation))
      : undefined;
    await store.transact(
      (tx) => p.setup?.(tx.db),
      names ? { names, schema: true } : { schema: true },
    );
  }
  return checkpoints;
}

/** The checkpoint after an operator's retry of a failed projection: running again, same position. */
export function retriedCheckpoint(checkpoint: Checkpoint | undefined, name: string): Checkpoint {
  if (!checkpoint) throw coreError('NOT_FOUND', `Projection ${name} has not run yet.`, { name });
  if (checkpoint.status !== 'failed')
    throw coreError('VALIDATION_FAILED', `Projection ${name} has not failed: nothing to retry.`);
  const { failure: _failure, ...rest } = checkpoint;
  return { ...rest, status: 'running' };
}

/**
 * The checkpoint after an operator skips the failing event at `position`: past it, running, the
 * skip recorded for good. Only the event the projection failed on can be skipped.
 */
export function skippedCheckpoint(
  checkpoint: Checkpoint | undefined,
  name: string,
  position: bigint,
  at: Date,
): { checkpoint: Checkpoint; skipped: SkippedEvent } {
  if (!checkpoint) throw coreError('NOT_FOUND', `Projection ${name} has not run yet.`, { name });
  const failure = checkpoint.failure;
  if (checkpoint.status !== 'failed' || !failure)
    throw coreError('VALIDATION_FAILED', `Projection ${name} has not failed: nothing to skip.`);
  if (failure.position !== position)
    throw coreError(
      'VALIDATION_FAILED',
      `Projection ${name} failed at position ${failure.position}, not ${position}: only the failing event can be skipped.`,
      { failedAt: failure.position.toString() },
    );
  const skipped: SkippedEvent = {
    position,
    eventId: failure.eventId,
    eventType: failure.eventType,
    error: failure.error,
    at,
  };
  const { failure: _failure, ...rest } = checkpoint;
  return {
    checkpoint: {
      ...rest,
      position,
      status: 'running',
      skipped: [...(checkpoint.skipped ?? []), skipped],
    },
    skipped,
  };
}
