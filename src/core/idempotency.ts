import type { CommandMiddleware, CommandResult } from './command-bus.js';
import { coreError } from './errors.js';
import { canonicalJson, decodeJson } from './json.js';
import type { Command } from './messages.js';
import type { TransactOutcome, WriteStore } from './write-store.js';

/** SHA-256 of a text, in hex: what fingerprints are made of. */
export type Sha256Hex = (text: string) => string | Promise<string>;

/** SHA-256 through Web Crypto: portable, but each call is an asynchronous job. */
export const webCryptoSha256: Sha256Hex = async (text) => {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
};

/** A SHA-256 digest (hex) of what a command asks: its type, data and actor. */
export async function fingerprintOf(
  command: Command,
  actor: string | undefined,
  sha256: Sha256Hex = webCryptoSha256,
): Promise<string> {
  return sha256(canonicalJson({ type: command.type, data: command.data, actor: actor ?? null }));
}

/** The stored form of a command's outcome: what the handler returned, plus its position. */
interface StoredResult {
  readonly value: unknown;
  readonly position: bigint;
}

/** Builds the command result `{ ...value, position }` that every handler wrapper answers with. */
export function commandResult<V>(value: V, position: bigint): V & CommandResult {
  return { ...(value as object), position } as V & CommandResult;
}

/** Turns a transaction outcome (fresh or replayed) into the command's result. */
export function resultOf<V>(outcome: TransactOutcome<V>): V & CommandResult {
  if (!outcome.replayed) return commandResult(outcome.value, outcome.position);
  const stored = decodeJson<StoredResult>(outcome.result);
  return commandResult(stored.value as V, stored.position);
}

export interface IdempotencyOptions {
  /** Only these command types take a key; others ignore `metadata.idempotencyKey`. Default: all. */
  readonly types?: readonly string[];
  /** Types for which a key is required (`VALIDATION_FAILED` without one). */
  readonly required?: readonly string[];
  /**
   * The SHA-256 the fingerprints are made with (default Web Crypto). A synchronous one (Node's
   * `createHash`) costs a fraction: Web Crypto's job and promises were ~6% of a server placing
   * orders at full speed. Any SHA-256 gives the same fingerprints.
   */
  readonly sha256?: Sha256Hex;
}

/**
 * Idempotent commands. With `metadata.idempotencyKey`: the same key and payload answer the first
 * result again without running; the same key with another payload is `IDEMPOTENCY_KEY_REUSED`;
 * a duplicate that arrives while the first still runs is `IDEMPOTENCY_KEY_IN_USE`. The record is
 * written by the handler's own transaction (see `stateStoredHandler`, `eventSourcedHandler`), so it
 * commits with the events or not at all.
 */
export function idempotency(
  store: WriteStore<unknown>,
  options: IdempotencyOptions = {},
): CommandMiddleware {
  const inFlight = new Set<string>();
  return async (command, context, next) => {
    const key = context.metadata.idempotencyKey;
    if (options.types && !options.types.includes(command.type)) return next(command, context);
    if (key === undefined) {
      if (options.required?.includes(command.type)) {
        throw coreError('VALIDATION_FAILED', `${command.type} needs an idempotency key.`);
      }
      return next(command, context);
    }
    const fingerprint = await fingerprintOf(command, context.metadata.actor, options.sha256);
    if (inFlight.has(key)) throw coreError('IDEMPOTENCY_KEY_IN_USE');
    inFlight.add(key);
    try {
      const existing = await store.findIdempotency(key);
      if (existing) {
        if (existing.fingerprint !== fingerprint) throw coreError('IDEMPOTENCY_KEY_REUSED');
        return resultOf({ replayed: true, result: existing.result });
      }
      return await next(command, { ...context, idempotency: { key, fingerprint } });
    } finally {
      inFlight.delete(key);
    }
  };
}
