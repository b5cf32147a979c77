import type { CommandContext, CommandHandler, CommandResult } from './command-bus.js';
import { resultOf } from './idempotency.js';
import type { Command } from './messages.js';
import type { WriteStore, WriteTx } from './write-store.js';

/** Event metadata derived from a command's context: correlation, causation and actor. */
export const metadataFrom = (context: CommandContext) => ({
  correlationId: context.metadata.correlationId,
  causationId: context.metadata.commandId,
  ...(context.metadata.actor === undefined ? {} : { actor: context.metadata.actor }),
});

/**
 * A state-stored (level 1/2) command handler: `handle` changes normalized tables through
 * `tx.db` and records its events with `tx.record`, all in one transaction, with the
 * idempotency record when the command carries a key.
 * @example
 *   const updatePrice = stateStoredHandler(store, async (cmd: UpdatePrice, tx) => {
 *     tx.db.prepare('UPDATE products SET price_cents = ? WHERE id = ?').run(cmd.data.priceCents, cmd.data.id);
 *     await tx.record(`product-${cmd.data.id}`, [{ type: 'ProductPriceUpdated', data: cmd.data }]);
 *     return {};
 *   });
 */
export function stateStoredHandler<C extends Command, V extends object, H>(
  store: WriteStore<H>,
  handle: (command: C, tx: WriteTx<H>, context: CommandContext) => Promise<V> | V,
): CommandHandler<C, V & CommandResult> {
  return async (command, context) => {
    const outcome = await store.transact<V>((tx) => handle(command, tx, context), {
      metadata: metadataFrom(context),
      ...(context.idempotency ? { idempotency: context.idempotency } : {}),
    });
    return resultOf<V>(outcome);
  };
}
