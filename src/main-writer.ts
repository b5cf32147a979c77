// Part of the composition root: the shop's command side on its own thread (embedded SQLite,
// `TWOROOMS_WRITE_THREAD=on`). The thread owns the write connection and runs every command —
// its handler's statements and the group commit with its fsync — so the API's event loop
// parses, authenticates and answers the next requests while the last group syncs.
import { createHash } from 'node:crypto';
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import {
  type Command,
  type CommandMetadata,
  type CommandMiddleware,
  type CommandResult,
  commandBus,
  type EventLog,
  idempotency,
  mapWriteStore,
  retry,
  type WriteStore,
} from './core/index.js';
import {
  batched,
  moduleThread,
  reviveError,
  type SerializedError,
  serializeError,
} from './main-threads.js';
import { type ShopCommandHandlers, shopCommandHandlers } from './shop/handlers.js';
import { SqliteEventStore, sqliteFullText, sqliteSql } from './stores/sqlite/index.js';

/** What the thread needs to open the write DB (already migrated by the API process). */
export interface WriterThreadOptions {
  readonly path: string;
  readonly synchronous: 'normal' | 'full';
}

type ToThread =
  | { readonly id: number; readonly command: Command; readonly metadata: CommandMetadata }
  | { readonly heads: MessagePort }
  | { readonly close: true };

type FromThread =
  | { readonly ready: true }
  | { readonly failed: SerializedError }
  | { readonly appended: bigint }
  | { readonly id: number; readonly result: CommandResult }
  | { readonly id: number; readonly error: SerializedError }
  | { readonly closed: true };

/** The commands' side of the API process, running on the writer thread. */
export interface WriterThread {
  /** Runs a command on the thread (retry and idempotency there); answers after its commit. */
  dispatch(command: Command, metadata: CommandMetadata): Promise<CommandResult>;
  /** Called after each commit that recorded events, with the new head (wakes the projector). */
  onAppended(listener: (head: bigint) => void): () => void;
  /**
   * From now on, the thread also posts each new head (a `bigint`) straight to `port`: another
   * thread (the projector's) hears of commits without this event loop passing them on.
   */
  sendHeadsTo(port: MessagePort): void;
  /** Waits for the commands already sent, then stops the thread. */
  close(): Promise<void>;
}

/**
 * Starts the writer thread on the write DB at `options.path` and waits until it is ready. The
 * thread has the only write connection that commits in this process: commands dispatched here
 * run there one group commit at a time, exactly as they would on the event loop.
 */
export async function startWriterThread(options: WriterThreadOptions): Promise<WriterThread> {
  const worker = moduleThread(import.meta.url, { tworoomsWriter: options });
  const pending = new Map<number, { resolve(r: CommandResult): void; reject(e: Error): void }>();
  const listeners = new Set<(head: bigint) => void>();
  let nextId = 0;
  let gone: Error | undefined;
  let closed: (() => void) | undefined;
  const failAll = (error: Error) => {
    gone ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const ready = new Promise<void>((resolve, reject) => {
    const receive = (m: FromThread) => {
      if ('appended' in m) {
        for (const l of listeners) l(m.appended);
      } else if ('id' in m) {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if ('error' in m) p.reject(reviveError(m.error));
        else p.resolve(m.result);
      } else if ('ready' in m) resolve();
      else if ('failed' in m) reject(reviveError(m.failed));
      else if ('closed' in m) closed?.();
    };
    worker.on('message', (batch: FromThread[]) => {
      for (const m of batch) receive(m);
    });
    worker.on('error', (error) => {
      failAll(error);
      reject(error);
    });
    worker.on('exit', (code) => {
      const error = new Error(`the writer thread stopped (exit code ${code})`);
      failAll(error);
      reject(error);
      closed?.();
    });
  });
  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  // Commands sent in one turn of the loop (the requests of one poll phase) cross together.
  const post = batched<ToThread>((batch) => worker.postMessage(batch), setImmediate);
  return {
    dispatch(command, metadata) {
      if (gone) return Promise.reject(gone);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        post({ id, command, metadata });
      });
    },
    onAppended(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sendHeadsTo(port) {
      if (gone) return;
      worker.postMessage([{ heads: port } satisfies ToThread], [port]);
    },
    async close() {
      if (gone) return;
      const done = new Promise<void>((resolve) => (closed = resolve));
      post({ close: true });
      await done;
      gone = new Error('the writer thread is closed');
      await worker.terminate();
    },
  };
}

/** The shop's handler map, each handler sending its command to the writer thread. */
export function handlersOnThread(writer: WriterThread): ShopCommandHandlers {
  const types = Object.keys(
    shopCommandHandlers({ store: undefined as never, fullText: sqliteFullText }),
  );
  const send = (command: Command, context: { metadata: CommandMetadata }) =>
    writer.dispatch(command, context.metadata);
  return Object.fromEntries(types.map((t) => [t, send])) as unknown as ShopCommandHandlers;
}

/** `log` read on this thread, woken by the writer thread's commits (and by its own appends). */
export function wokenByWriter(log: EventLog, writer: Pick<WriterThread, 'onAppended'>): EventLog {
  return {
    readStream: (streamId, options) => log.readStream(streamId, options),
    readAll: (options) => log.readAll(options),
    ...(log.readAllData ? { readAllData: log.readAllData.bind(log) } : {}),
    headPosition: () => log.headPosition(),
    append: (streamId, events, options) => log.append(streamId, events, options),
    onAppended(listener) {
      const here = log.onAppended(listener);
      const there = writer.onAppended(listener);
      return () => {
        here();
        there();
      };
    },
  };
}

/** SHA-256 in hex, synchronously (the fingerprints of idempotent commands). */
export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * What runs around the shop's handlers where the write connection is (the event loop, or the
 * writer thread): retry on a lost race, and idempotency keys (required on orders).
 */
export const shopCommandMiddleware = (store: WriteStore<unknown>): CommandMiddleware[] => [
  retry(),
  idempotency(store, { required: ['PlaceOrder', 'CheckOutCart'], sha256 }),
];

/** The thread's side: the write store, the shop's handlers, retry and idempotency. */
function runWriter(options: WriterThreadOptions): void {
  const port = parentPort!;
  // A group commit answers its commands together (their promises settle in the same microtask
  // round): they cross in one message, sent before the next group commits.
  const send = batched<FromThread>((batch) => port.postMessage(batch), queueMicrotask);
  let store: SqliteEventStore;
  try {
    store = new SqliteEventStore({
      path: options.path,
      synchronous: options.synchronous,
      backgroundCheckpoints: true,
    });
  } catch (error) {
    send({ failed: serializeError(error) });
    return;
  }
  const writeStore = mapWriteStore(store, sqliteSql);
  const bus = commandBus(shopCommandHandlers({ store: writeStore, fullText: sqliteFullText }), {
    middleware: shopCommandMiddleware(writeStore),
  });
  const headPorts: MessagePort[] = [];
  store.onAppended((head) => {
    send({ appended: head });
    for (const p of headPorts) p.postMessage(head);
  });
  port.on('message', (batch: ToThread[]) => {
    for (const m of batch) {
      if ('heads' in m) {
        headPorts.push(m.heads);
        continue;
      }
      if ('close' in m) {
        // Commands already received are in the store's queue: close() commits them first.
        void store.close().finally(() => {
          for (const p of headPorts) p.close();
          send({ closed: true });
        });
        return;
      }
      // biome-ignore lint/suspicious/noExplicitAny: any shop command, checked by its handler
      bus.dispatch(m.command as any, m.metadata).then(
        (result) => send({ id: m.id, result: result as CommandResult }),
        (error: unknown) => send({ id: m.id, error: serializeError(error) }),
      );
    }
  });
  send({ ready: true });
}

const job = (workerData as { tworoomsWriter?: WriterThreadOptions } | null)?.tworoomsWriter;
if (!isMainThread && job) runWriter(job);
