/** What kind of failure an error is; only `http/` and `cli/` map these to statuses and exit codes. */
export type ErrorCategory =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** The toolkit's error codes, each with its category and a default message. */
export const coreErrorCodes = {
  VALIDATION_FAILED: { category: 'validation', message: 'The request is not valid.' },
  UNKNOWN_COMMAND: {
    category: 'validation',
    message: 'No handler is registered for this command.',
  },
  UNKNOWN_QUERY: { category: 'validation', message: 'No handler is registered for this query.' },
  FORBIDDEN: { category: 'forbidden', message: 'You may not do this.' },
  UNAUTHORIZED: { category: 'unauthorized', message: 'Authentication is required.' },
  NOT_FOUND: { category: 'not_found', message: 'Not found.' },
  CONCURRENCY_CONFLICT: {
    category: 'conflict',
    message: 'The stream changed since it was read; reload and try again.',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    category: 'conflict',
    message: 'A request with this Idempotency-Key is still running.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    category: 'unprocessable',
    message: 'This Idempotency-Key was already used with a different request.',
  },
  READ_ONLY: { category: 'internal', message: 'A query tried to change state.' },
  INTERNAL: { category: 'internal', message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { category: ErrorCategory; message: string }>;

export type CoreErrorCode = keyof typeof coreErrorCodes;

/**
 * The one base error: a stable `code`, a `category`, and optional `details`.
 * @example throw new TworoomsError('INVALID_PRICE', 'validation', 'A price cannot be negative.')
 */
export class TworoomsError extends Error {
  override readonly name: string = 'TworoomsError';
  constructor(
    readonly code: string,
    readonly category: ErrorCategory,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** A catalogue of error codes: each with its category and default message. */
export type ErrorCatalogue = Readonly<Record<string, { category: ErrorCategory; message: string }>>;

/**
 * Builds errors from a catalogue: the code gives the category and the default message.
 * @example const shopError = errorsFrom(shopErrorCodes); throw shopError('OUT_OF_STOCK', undefined, { lines });
 */
export const errorsFrom =
  <C extends ErrorCatalogue>(catalogue: C) =>
  (code: keyof C & string, message?: string, details?: unknown): TworoomsError => {
    const entry = catalogue[code] as C[keyof C];
    return new TworoomsError(code, entry.category, message ?? entry.message, details);
  };

/** Builds a toolkit error from its code, with the catalogue's category and message. */
export const coreError = errorsFrom(coreErrorCodes);

/** Thrown when an append's expected version does not match the stream. */
export class ConcurrencyConflict extends TworoomsError {
  override readonly name = 'ConcurrencyConflict';
  constructor(
    readonly streamId: string,
    readonly expected: string,
    readonly actual: bigint,
  ) {
    super(
      'CONCURRENCY_CONFLICT',
      'conflict',
      `Stream ${streamId} is at version ${actual}, expected ${expected}.`,
      { streamId, expected, actual: actual.toString() },
    );
  }
}

export const isTworoomsError = (e: unknown): e is TworoomsError => e instanceof TworoomsError;
export const isConcurrencyConflict = (e: unknown): e is TworoomsError =>
  isTworoomsError(e) && e.code === 'CONCURRENCY_CONFLICT';
