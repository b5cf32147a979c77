import type { ProjectionFailure, SkippedEvent } from './projection.js';

/**
 * `rebuilding`: the live copy is frozen at an older version of the projection while the new
 * version is built beside it (it still serves).
 */
export type ProjectionState =
  | 'starting'
  | 'catching_up'
  | 'live'
  | 'failed'
  | 'stopped'
  | 'rebuilding';

/** A blue/green rebuild in progress (or the last one, with how it ended). */
export interface RebuildProgress {
  readonly generation: number;
  readonly phase: 'building' | 'switching' | 'done' | 'failed';
  /** Log position the new copy has reached, and the head it chases. */
  readonly position: bigint;
  readonly headPosition: bigint;
  /** Events applied to the new copy so far. */
  readonly events: number;
  readonly eventsPerSecond: number;
  /** Estimated seconds until the new copy catches up (undefined before a rate is known). */
  readonly secondsLeft?: number;
  readonly startedAt: Date;
  readonly error?: string;
}

/** The name of the checkpoint a blue/green rebuild keeps for its new copy. */
export const rebuildCheckpointName = (projection: string) => `${projection}~rebuild`;

export interface ProjectionStatus {
  readonly name: string;
  readonly version: number;
  readonly position: bigint;
  readonly headPosition: bigint;
  readonly lag: bigint;
  readonly status: ProjectionState;
  readonly failure?: ProjectionFailure;
  /** Which copy of the tables serves (blue/green switches so far). */
  readonly generation?: number;
  readonly skipped?: readonly SkippedEvent[];
  readonly rebuild?: RebuildProgress;
}

/** What the metrics add to a status: lag in time, and work done. */
export interface ProjectionActivity {
  readonly name: string;
  /** Age in seconds of the oldest event the projection has not processed (0 when caught up). */
  readonly lagSeconds: number;
  /** Events applied to the live copy by this process since it started (for an events/s rate). */
  readonly eventsApplied: number;
}
