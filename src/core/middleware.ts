import type { CommandContext, CommandMiddleware } from './command-bus.js';
import { coreError, isConcurrencyConflict } from './errors.js';
import type { Command } from './messages.js';

/** A validator returns the problems it found (empty or undefined: valid). */
export type Validator = (data: unknown) => readonly string[] | undefined;

/** Rejects a command whose data fails its type's validator with `VALIDATION_FAILED`. */
export const validation =
  (validators: Readonly<Record<string, Validator>>): CommandMiddleware =>
  (command, context, next) => {
    const problems = validators[command.type]?.(command.data);
    if (problems && problems.length > 0) {
      throw coreError('VALIDATION_FAILED', problems.join('; '), { problems });
    }
    return next(command, context);
  };

/** Returns true to allow; false refuses with `FORBIDDEN` (or `UNAUTHORIZED` without an actor). */
export type Policy = (command: Command, context: CommandContext) => boolean;

/** Authorization by command type; a type without a policy is allowed. */
export const authorization =
  (policies: Readonly<Record<string, Policy>>): CommandMiddleware =>
  (command, context, next) => {
    const policy = policies[command.type];
    if (policy && !policy(command, context)) {
      throw context.metadata.actor === undefined
        ? coreError('UNAUTHORIZED')
        : coreError('FORBIDDEN');
    }
    return next(command, context);
  };

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  readonly attempts?: number;
  /** First back-off in ms, doubled each time, with jitter. Default 2. */
  readonly baseDelayMs?: number;
  readonly shouldRetry?: (error: unknown) => boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retries a command that lost an optimistic-concurrency race, a bounded number of times. */
export const retry =
  (options: RetryOptions = {}): CommandMiddleware =>
  async (command, context, next) => {
    const attempts = options.attempts ?? 5;
    const base = options.baseDelayMs ?? 2;
    const shouldRetry = options.shouldRetry ?? isConcurrencyConflict;
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(command, context);
      } catch (error) {
        if (attempt >= attempts || !shouldRetry(error)) throw error;
        await sleep(base * 2 ** (attempt - 1) * (0.5 + Math.random()));
      }
    }
  };

export interface CommandObservation {
  readonly type: string;
  readonly durationMs: number;
  readonly outcome: 'ok' | 'error';
  readonly errorCode?: string;
  readonly context: CommandContext;
}

/** Metrics and tracing hook: called once per command with its duration and outcome. */
export const observe =
  (observer: (o: CommandObservation) => void): CommandMiddleware =>
  async (command, context, next) => {
    const start = performance.now();
    try {
      const result = await next(command, context);
      observer({
        type: command.type,
        durationMs: performance.now() - start,
        outcome: 'ok',
        context,
      });
      return result;
    } catch (error) {
      const errorCode =
        error !== null && typeof error === 'object' && 'code' in error
          ? String(error.code)
          : 'INTERNAL';
      observer({
        type: command.type,
        durationMs: performance.now() - start,
        outcome: 'error',
        errorCode,
        context,
      });
      throw error;
    }
  };
