import type { RebuildProgress } from './projection-status.js';
import type { TableCopy } from './table-copy.js';

/** One blue/green rebuild: its copy, its phase, and a promise settled when it switches or fails. */
export class RebuildJob<H> {
  phase: RebuildProgress['phase'] = 'building';
  error: string | undefined;
  finishedAt: number | undefined;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor(readonly copy: TableCopy<H>) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => undefined); // a caller that does not wait sees no unhandled rejection
  }

  /** Still building or switching. */
  get running(): boolean {
    return this.phase === 'building' || this.phase === 'switching';
  }

  /** Progress against the log's head: position, events, events/s and the time left. */
  progress(head: bigint): RebuildProgress {
    const { copy } = this;
    const seconds = Math.max(((this.finishedAt ?? Date.now()) - copy.startedAt) / 1000, 0.001);
    const positionsPerSecond = Number(copy.position) / seconds;
    const left = head > copy.position ? Number(head - copy.position) : 0;
    return {
      generation: copy.options.generation,
      phase: this.phase,
      position: copy.position,
      headPosition: head,
      events: copy.events,
      eventsPerSecond: Math.round(copy.events / seconds),
      ...(this.running && positionsPerSecond > 0
        ? { secondsLeft: Math.round((left / positionsPerSecond) * 10) / 10 }
        : {}),
      startedAt: new Date(copy.startedAt),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}
