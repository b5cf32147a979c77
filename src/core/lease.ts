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
