import type { CommandContext } from '../../core/command-bus.js';
import type { Sql } from '../../core/sql.js';
import type { WriteTx } from '../../core/write-store.js';
import type { RegisterCustomer, ShopCommandResults } from '../commands.js';
import { shopError } from '../errors.js';
import { type CustomerRegistered, streams } from '../events.js';
import { id, invalid, text, timeOf } from '../validate.js';

const NAME_MAX = 200;
const EMAIL_MAX = 254;

/**
 * Registers a customer. The email is stored lower-cased, so it is unique whatever its case
 * (`EMAIL_TAKEN`); only the token's hash is stored. The event carries neither.
 */
export async function registerCustomer(
  command: RegisterCustomer,
  tx: WriteTx<Sql>,
  context: CommandContext,
): Promise<ShopCommandResults['RegisterCustomer']> {
  const d = command.data;
  const customerId = id(d.customerId, 'customerId');
  const email = typeof d.email === 'string' ? d.email.trim().toLowerCase() : '';
  if (email.length > EMAIL_MAX || !/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw invalid('email must be an email address.', 'email');
  }
  const name = text(d.name, 'name', 1, NAME_MAX);
  if (typeof d.tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(d.tokenHash)) {
    throw invalid('tokenHash must be a SHA-256 digest in lower-case hex.', 'tokenHash');
  }
  if (await tx.db.get('SELECT 1 AS found FROM customers WHERE id = ?', [customerId])) {
    throw invalid('A customer with this id already exists.', 'customerId');
  }
  // ON CONFLICT on the unique email: a racing duplicate is refused the same way on every store.
  const { ms, at } = timeOf(context);
  const { changes } = await tx.db.run(
    `INSERT INTO customers (id, email, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (email) DO NOTHING`,
    [customerId, email, name, d.tokenHash, ms],
  );
  if (changes === 0) throw shopError('EMAIL_TAKEN');
  const event: CustomerRegistered = {
    type: 'CustomerRegistered',
    data: { v: 1, customerId, name, at },
  };
  await tx.record(streams.customer(customerId), [event], { expectedVersion: 'no_stream' });
  return { customerId };
}
