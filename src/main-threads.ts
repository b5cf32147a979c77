// Part of the composition root: what the shop's threads (the writer, the projector) share —
// starting a module of ours on a worker thread, and errors sent across as far as a copy allows.
import { type Transferable, Worker } from 'node:worker_threads';
import { TworoomsError } from './core/index.js';

/**
 * Starts the module at `moduleUrl` (pass `import.meta.url`) on a worker thread with `data` as its
 * `workerData`. From source (tsx, vitest) the thread registers tsx's loader before importing it:
 * Node 20 does not pass a parent's loader hooks on to a worker.
 */
export function moduleThread(
  moduleUrl: string,
  data: Record<string, unknown>,
  transferList: readonly Transferable[] = [],
): Worker {
  const self = new URL(moduleUrl);
  const options = { workerData: data, transferList: [...transferList] };
  return self.pathname.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(self.href)}); });`,
        { eval: true, ...options },
      )
    : new Worker(self, options);
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly category?: TworoomsError['category'];
  readonly details?: unknown;
  readonly stack?: string;
}

export const serializeError = (e: unknown): SerializedError =>
  e instanceof TworoomsError
    ? {
        name: e.name,
        message: e.message,
        code: e.code,
        category: e.category,
        details: e.details,
        ...(e.stack ? { stack: e.stack } : {}),
      }
    : e instanceof Error
      ? { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) }
      : { name: 'Error', message: String(e) };

/** The error as the thread threw it, as far as a copy between threads allows (code, category). */
export const reviveError = (s: SerializedError): Error => {
  const error =
    s.code && s.category
      ? new TworoomsError(s.code, s.category, s.message, s.details)
      : new Error(s.message);
  if (s.stack) error.stack = s.stack;
  return error;
};

/**
 * Messages to another thread sent together: the first one queued schedules (with `schedule`) one
 * `post` of all those queued until then, in order. A `postMessage` costs about as much for one
 * small message as for an array of them, and the order path sends one per command and one per
 * answer: batched per turn of the event loop, a group commit's answers cross in one message.
 */
export function batched<M>(
  post: (messages: M[]) => void,
  schedule: (flush: () => void) => void,
): (message: M) => void {
  let outbox: M[] | undefined;
  const flush = () => {
    const messages = outbox!;
    outbox = undefined;
    post(messages);
  };
  return (message) => {
    if (outbox) outbox.push(message);
    else {
      outbox = [message];
      schedule(flush);
    }
  };
}
