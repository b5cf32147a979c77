import type { CommandContext } from '../core/command-bus.js';
import { coreError, type TworoomsError } from '../core/errors.js';

/**
 * The checks every slice's handlers make on their own (the HTTP schemas check too, but a handler
 * must be safe whoever calls it). Each refusal is `VALIDATION_FAILED` naming the field.
 */
export const ID_MAX = 200;

export const invalid = (message: string, field: string): TworoomsError =>
  coreError('VALIDATION_FAILED', message, { field });

/** A string of `min` to `max` characters, trimmed unless `trim` is false. */
export function text(value: unknown, field: string, min: number, max: number, trim = true): string {
  const s = typeof value === 'string' ? (trim ? value.trim() : value) : undefined;
  if (s === undefined || s.length < min || s.length > max) {
    throw invalid(`${field} must be a string of ${min} to ${max} characters.`, field);
  }
  return s;
}

/** An id: 1 to ID_MAX characters, taken as given. */
export const id = (value: unknown, field: string): string => text(value, field, 1, ID_MAX, false);

/** A whole number of at least `min`. */
export function wholeNumber(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${field} must be a whole number, at least ${min}.`, field);
  }
  return value;
}

/** The command's clock reading, as epoch ms (for tables) and ISO (for events). */
export const timeOf = (context: CommandContext) => ({
  ms: context.metadata.now.getTime(),
  at: context.metadata.now.toISOString(),
});
