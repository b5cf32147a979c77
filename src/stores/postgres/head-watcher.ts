import pg from 'pg';

/** The channel `tworooms_append` notifies on (once per committing transaction). */
export const appendedChannel = 'tworooms_events';

export interface HeadWatcherOptions {
  readonly connectionString: string;
  /** Reads the head every reader can see (and the horizon and the last position handed out). */
  readonly horizon: () => Promise<{ head: bigint; horizon: bigint; last: bigint }>;
  /** The backend of this store's writer: its notifications are already signalled locally. */
  readonly ownPid: () => number | undefined;
  /** How often to look again while an open transaction holds the horizon back (default 20 ms). */
  readonly blockedPollMs?: number;
}

/**
 * The log's wake-up signal. Own commits are signalled at once; commits of other processes
 * arrive through one LISTEN connection (reconnected if it drops). While an open transaction
 * holds the horizon back, the horizon is looked at again shortly, so that a rollback (which
 * notifies nobody) does not leave readers asleep.
 */
export class HeadWatcher {
  private readonly listeners = new Set<(head: bigint) => void>();
  private lastEmitted = 0n;
  private client: pg.Client | undefined;
  private closed = false;
  private reconnectDelay = 100;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  constructor(private readonly options: HeadWatcherOptions) {}

  add(listener: (head: bigint) => void): () => void {
    this.listeners.add(listener);
    if (!this.client && !this.closed) void this.listen();
    return () => this.listeners.delete(listener);
  }

  /** This process committed events up to `head`. */
  committed(head: bigint): void {
    this.emit(head);
  }

  /** A reader saw the horizon: if an open transaction holds it back, look again soon. */
  observed(horizon: bigint, last: bigint): void {
    if (horizon < last && this.listeners.size > 0 && !this.pollTimer && !this.closed) {
      this.pollTimer = setTimeout(() => {
        this.pollTimer = undefined;
        void this.refresh();
      }, this.options.blockedPollMs ?? 20);
      this.pollTimer.unref?.();
    }
  }

  private emit(head: bigint): void {
    if (head <= this.lastEmitted) return;
    this.lastEmitted = head;
    for (const l of this.listeners) l(head);
  }

  /** Reads the horizon and signals it if it moved; concurrent calls fold into one more read. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        if (this.closed) return;
        try {
          this.emit((await this.options.horizon()).head);
        } catch {
          // The pool is closing or the server is away: the next notification or poll retries.
        }
      } while (this.refreshAgain);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString });
    this.client = client;
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => {});
      if (this.closed) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        if (!this.closed && !this.client) void this.listen();
      }, this.reconnectDelay);
      this.reconnectTimer.unref?.();
      this.reconnectDelay = Math.min(2000, this.reconnectDelay * 2);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.processId !== this.options.ownPid()) void this.refresh();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${appendedChannel}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.reconnectDelay = 100;
      // Anything committed while no one listened is signalled now.
      await this.refresh();
    } catch {
      lost();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.listeners.clear();
    const client = this.client;
    this.client = undefined;
    await this.refreshing;
    await client?.end().catch(() => {});
  }
}
