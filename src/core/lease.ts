/**
 * Exclusive ownership of a named piece of work (a projection) among several processes: at most
 * one holder at a time, and a holder that dies loses it (its connection or heartbeat goes), so
 * another process can take over. A lease is for liveness; the projector's checkpoint
 * compare-and-set is what keeps a late batch of a lost owner from being applied twice.
 */
export interface Lease {
  readonly name: string;
  /** Resolves when the lease is lost (connection dropped, heartbeat failed) or released. */
  readonly lost: Promise<void>;
  release(): Promise<void>;
}

export interface LeaseManager {
  /** The lease on `name` if no one else holds it now; otherwise undefined (never waits). */
  tryAcquire(name: string): Promise<Lease | undefined>;
  /** Releases every lease this manager holds. */
  close(): Promise<void>;
}

/**
 * The bookkeeping every `LeaseManager` shares: the leases it holds, each lost exactly once —
 * when its holder releases it (then `onRelease` frees it in the store) or when the manager ends.
 */
export class HeldLeases {
  private readonly held = new Map<string, () => void>();

  has(name: string): boolean {
    return this.held.has(name);
  }

  /** Records a lease on `name`, taken in the store by the caller. */
  add(name: string, onRelease?: () => Promise<void>): Lease {
    let lose!: () => void;
    const lost = new Promise<void>((resolve) => {
      lose = resolve;
    });
    this.held.set(name, lose);
    return {
      name,
      lost,
      release: async () => {
        if (this.held.get(name) !== lose) return;
        this.held.delete(name);
        lose();
        await onRelease?.();
      },
    };
  }

  /** Every lease is lost (the manager's connection or lock is gone). */
  loseAll(): void {
    for (const lose of this.held.values()) lose();
    this.held.clear();
  }
}
