import type { ProgressSource } from './consistency.js';
import type { Checkpoint } from './projection.js';

/**
 * Projection progress read from the read store's checkpoints, for processes that do not run
 * the projector themselves (an API-only node): it polls while someone is waiting, and not at
 * all otherwise.
 */
export class CheckpointProgress implements ProgressSource {
  private checkpoints: ReadonlyMap<string, Checkpoint> = new Map();
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly load: () => Promise<ReadonlyMap<string, Checkpoint>>,
    private readonly intervalMs = 20,
  ) {}

  /** Loads the checkpoints once (call before serving). */
  async refresh(): Promise<void> {
    this.checkpoints = await this.load();
    for (const l of this.listeners) l();
  }

  positionOf(projection: string): bigint | undefined {
    return this.checkpoints.get(projection)?.position;
  }

  isFailed(projection: string): boolean {
    return this.checkpoints.get(projection)?.status === 'failed';
  }

  onProgress(listener: () => void): () => void {
    this.listeners.add(listener);
    this.schedule();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  private schedule(): void {
    if (this.timer || this.listeners.size === 0) return;
    this.timer = setTimeout(async () => {
      this.timer = undefined;
      try {
        await this.refresh();
      } finally {
        this.schedule();
      }
    }, this.intervalMs);
  }
}
