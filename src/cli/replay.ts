import { InvalidArgumentError } from 'commander';
import type { Config } from '../config.js';
import { openWriteSide } from '../main.js';
import { replayToNats } from '../stores/nats/index.js';
import { progressBars } from './progress.js';
import { type BusFlags, busFrom } from './relay.js';

/** A log position flag: a whole number of at least 1, as a bigint. */
export const positionFlag = (value: string): bigint => {
  if (!/^[0-9]{1,19}$/.test(value) || BigInt(value) < 1n)
    throw new InvalidArgumentError('a log position: a whole number of at least 1');
  return BigInt(value);
};

/** A comma-separated list of event type names. */
export const typesFlag = (value: string): string[] => {
  const types = value.split(',').map((t) => t.trim());
  if (types.some((t) => !/^[A-Za-z][A-Za-z0-9_]*$/.test(t)))
    throw new InvalidArgumentError(
      'event type names separated by commas, e.g. OrderPlaced,StockReserved',
    );
  return types;
};

export const labelFlag = (value: string): string => {
  if (!/^[\w-]{1,64}$/.test(value))
    throw new InvalidArgumentError('letters, digits, - and _ (at most 64)');
  return value;
};

export interface ReplayFlags extends BusFlags {
  readonly from: bigint;
  readonly to?: bigint;
  readonly types?: string[];
  readonly label: string;
}

/** `tworooms replay`: republishes a range of the archive to JetStream, with a progress bar. */
export async function replayCommand(config: Config, opts: ReplayFlags): Promise<void> {
  const bus = busFrom(config, opts, 'tworooms replay');
  if (opts.to !== undefined && opts.to < opts.from)
    throw new InvalidArgumentError(`--to ${opts.to} is before --from ${opts.from}`);
  const store = await openWriteSide(config);
  const progress = progressBars();
  try {
    const head = await store.headPosition();
    if (opts.from > head) {
      console.log(`nothing to replay: the log ends at position ${head}`);
      return;
    }
    const to = opts.to !== undefined && opts.to < head ? opts.to : head;
    const result = await replayToNats({
      log: store.log,
      servers: bus.url,
      stream: bus.stream,
      prefix: bus.prefix,
      from: opts.from,
      to,
      label: opts.label,
      ...(opts.types ? { types: opts.types } : {}),
      onProgress: (done, total) => progress.update('replay', done, total),
    });
    progress.stop();
    console.log(
      `replayed positions ${result.from}–${result.to}${opts.types ? ` (${opts.types.join(', ')})` : ''} to ${bus.stream}: ${result.published} published, ${result.duplicates} dropped by JetStream as repeats of replay "${opts.label}"`,
    );
  } finally {
    progress.stop();
    await store.close();
  }
}
