import type { BusConfig, Config } from '../config.js';
import { ConfigError } from '../config.js';
import { openWriteSide } from '../main.js';
import { NatsRelay } from '../stores/nats/index.js';
import { redact } from './migrate.js';

export interface BusFlags {
  readonly stream?: string;
  readonly prefix?: string;
}

/** The bus settings with flags over environment; a clear error when no NATS URL is set. */
export function busFrom(config: Config, flags: BusFlags, command: string): BusConfig {
  if (!config.bus)
    throw new ConfigError(
      `${command} needs NATS JetStream: set TWOROOMS_BUS=nats://127.0.0.1:4222 (TWOROOMS_BUS_STREAM and TWOROOMS_BUS_PREFIX are optional).`,
    );
  return {
    url: config.bus.url,
    stream: flags.stream ?? config.bus.stream,
    prefix: flags.prefix ?? config.bus.prefix,
  };
}

/**
 * `tworooms relay`: publishes the event log to JetStream until SIGINT/SIGTERM. It never exits for
 * NATS being down: it says so once, keeps retrying with back-off, and says when it is back.
 */
export async function relayCommand(
  config: Config,
  opts: BusFlags & { pollMs: number },
): Promise<void> {
  const bus = busFrom(config, opts, 'tworooms relay');
  const store = await openWriteSide(config);
  let failing: string | undefined;
  const relay = new NatsRelay({
    log: store.log,
    servers: bus.url,
    stream: bus.stream,
    prefix: bus.prefix,
    // Commands run in other processes: their appends do not reach this process's onAppended.
    idlePollMs: opts.pollMs,
    onError: (error) => {
      if (error.message === failing) return;
      failing = error.message;
      console.error(`relay: ${error.message} (retrying)`);
    },
  });
  relay.onProgress((position) => {
    if (failing === undefined) return;
    failing = undefined;
    console.log(`relay: NATS back, published up to position ${position}`);
  });
  relay.start();
  console.log(
    `relaying ${redact(config.writeDb)} → JetStream stream ${bus.stream} (subjects ${bus.prefix}.events.<EventType>) on ${bus.url}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`\n${signal}: stopping the relay…`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await relay.stop();
  await store.close();
  console.log(`relay stopped at position ${relay.status().position}`);
}
