import { coreError } from './errors.js';
import type { Lease, LeaseManager } from './lease.js';
import type { SkippedEvent } from './projection.js';
import {
  type ProjectionActivity,
  type ProjectionStatus,
  Projector,
  type ProjectorOptions,
} from './projector.js';
import { setupReadModels } from './read-models.js';

export interface LeasedProjectorOptions<H> extends ProjectorOptions<H> {
  readonly leases: LeaseManager;
  /** How often a standby tries to take over a projection nobody holds (default 1000 ms). */
  readonly acquireEveryMs?: number;
  /** Told when this process starts or stops owning a projection. */
  readonly onOwnership?: (projection: string, owned: boolean) => void;
}

interface Owned<H> {
  readonly lease: Lease;
  readonly projector: Projector<H>;
}

/**
 * Projector workers sharing projections: each projection runs in exactly one process at a time,
 * the one holding its lease; the others stand by and try to take over every `acquireEveryMs`,
 * so a dead owner's projections move within about that time plus the lease's own detection.
 * @example
 *   const worker = new LeasedProjector({ log, store, projections, leases: await postgresLeases(url) });
 *   await worker.start();
 */
export class LeasedProjector<H> {
  private readonly owned = new Map<string, Owned<H>>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: LeasedProjectorOptions<H>) {}

  async start(): Promise<void> {
    await setupReadModels(this.options.store, this.options.projections);
    this.stopped = false;
    await this.tick();
  }

  /** The projections this process owns now. */
  ownedNames(): string[] {
    return [...this.owned.keys()];
  }

  /** Status of the projections this process runs. */
  async status(): Promise<ProjectionStatus[]> {
    const all = await Promise.all([...this.owned.values()].map((o) => o.projector.status()));
    return all.flat();
  }

  /** Each owned projection's lag in seconds and events applied (for `/metrics`). */
  async activity(): Promise<ProjectionActivity[]> {
    const all = await Promise.all([...this.owned.values()].map((o) => o.projector.activity()));
    return all.flat();
  }

  /** Rebuilds an owned projection (see `Projector.rebuild`); NOT_FOUND when another worker owns it. */
  async rebuild(name: string): Promise<void> {
    return this.ownerOf(name).rebuild(name);
  }

  /** Resumes an owned failed projection (see `Projector.retry`). */
  async retry(name: string): Promise<void> {
    return this.ownerOf(name).retry(name);
  }

  /** Resumes an owned failed projection past its failing event (see `Projector.skip`). */
  async skip(name: string, position: bigint): Promise<SkippedEvent> {
    return this.ownerOf(name).skip(name, position);
  }

  private ownerOf(name: string): Projector<H> {
    const owned = this.owned.get(name);
    if (owned) return owned.projector;
    const known = this.options.projections.some((p) => p.name === name);
    throw coreError(
      'NOT_FOUND',
      known
        ? `Projection ${name} runs in another worker now (this one stands by).`
        : `No projection named ${name} runs here.`,
      { name },
    );
  }

  private tick(): Promise<void> {
    this.ticking = (async () => {
      for (const projection of this.options.projections) {
        if (this.stopped) return;
        if (this.owned.has(projection.name)) continue;
        const lease = await this.options.leases.tryAcquire(projection.name);
        if (!lease) continue;
        if (this.stopped) {
          await lease.release();
          return;
        }
        await this.own(lease, projection);
      }
    })()
      .catch(() => {
        // The lease store is unreachable: nothing is owned that was not already; try again.
      })
      .finally(() => {
        if (!this.stopped)
          this.timer = setTimeout(() => void this.tick(), this.options.acquireEveryMs ?? 1000);
      });
    return this.ticking;
  }

  private async own(lease: Lease, projection: ProjectorOptions<H>['projections'][number]) {
    const projector = new Projector<H>({ ...this.options, projections: [projection] });
    this.owned.set(projection.name, { lease, projector });
    void lease.lost.then(() => this.disown(projection.name, lease));
    try {
      await projector.start();
    } catch (error) {
      // Could not start (the read DB went away): give the projection back to the others.
      this.owned.delete(projection.name);
      await projector.stop().catch(() => undefined);
      await lease.release();
      throw error;
    }
    this.options.onOwnership?.(projection.name, true);
  }

  private async disown(name: string, lease: Lease): Promise<void> {
    const entry = this.owned.get(name);
    if (!entry || entry.lease !== lease) return;
    this.owned.delete(name);
    await entry.projector.stop();
    this.options.onOwnership?.(name, false);
  }

  /** Stops every owned projection after its current batch and releases the leases. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    const entries = [...this.owned.entries()];
    this.owned.clear();
    for (const [name, { lease, projector }] of entries) {
      await projector.stop();
      await lease.release();
      this.options.onOwnership?.(name, false);
    }
  }
}
