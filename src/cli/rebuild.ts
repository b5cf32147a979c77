import { Console } from 'node:console';
import { SingleBar } from 'cli-progress';
import type { Config } from '../config.js';
import { projector } from '../core/index.js';
import { shopProjections } from '../shop/query-handlers.js';
import { holdProjections } from './projection-lock.js';
import { apiError, openShopStores, projectionNamed, serverAt } from './shop-files.js';

/** A rebuild's progress as the admin API reports it. */
interface Progress {
  generation: number;
  phase: string;
  position: string;
  headPosition: string;
  events: number;
  eventsPerSecond: number;
  secondsLeft?: number;
  error?: string;
}

/** Seconds rounded up once, then split (119.5 s is 2m0s, not 1m60s). */
const time = (s: number | undefined) => {
  if (s === undefined) return '?';
  const t = Math.ceil(s);
  return t < 60 ? `${t}s` : `${Math.floor(t / 60)}m${t % 60}s`;
};

/** Where the progress view writes, and its clock (tests pass their own). */
export interface ProgressOutput {
  readonly stream: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly now: () => number;
}

/** A bar on a terminal (events done, events/s, time left); a line every few seconds otherwise. */
export function progressView(
  name: string,
  { stream, now }: ProgressOutput = { stream: process.stderr, now: Date.now },
) {
  const tty = stream.isTTY;
  const bar = tty
    ? new SingleBar({
        format: ` ${name} |{bar}| {percentage}% position {value}/{total} · {events} events · {rate} events/s · {left} left`,
        hideCursor: true,
        stream,
      })
    : undefined;
  // Written as console.error writes (write errors such as EPIPE are ignored).
  const lines = new Console(stream, stream);
  let started = false;
  let lastLine = 0;
  return {
    show(p: Progress) {
      const total = Math.max(Number(p.headPosition), 1);
      const payload = {
        events: p.events.toLocaleString('en-US'),
        rate: p.eventsPerSecond.toLocaleString('en-US'),
        left: time(p.secondsLeft),
      };
      if (bar) {
        if (!started) bar.start(total, Number(p.position), payload);
        started = true;
        bar.setTotal(total);
        bar.update(Number(p.position), payload);
      } else if (now() - lastLine > 2000) {
        lastLine = now();
        lines.error(
          `${name}: position ${p.position}/${p.headPosition}, ${payload.events} events, ${payload.rate} events/s, ${payload.left} left`,
        );
      }
    },
    stop: () => bar?.stop(),
  };
}

/**
 * `tworooms rebuild <projection>`: blue/green. The process that runs the projector owns the
 * projection, so when a server answers at `--url` the rebuild runs there (through the admin API)
 * and this command follows its progress; when none does, this process runs the projector itself
 * until the switch.
 */
export async function rebuildCommand(
  config: Config,
  name: string,
  opts: { url?: string },
): Promise<void> {
  projectionNamed(name);
  const view = progressView(name);
  const api = await serverAt(config, opts.url);
  let final: Progress | undefined;
  if (api) {
    console.error(`rebuilding ${name} on the server at ${api.url}`);
    const started = await api.call(
      'POST',
      `/api/admin/projections/${encodeURIComponent(name)}/rebuild`,
    );
    if (started.status !== 202) throw apiError(api, started);
    for (;;) {
      const reply = await api.call('GET', '/api/admin/projections');
      if (reply.status !== 200) throw apiError(api, reply);
      const p = (reply.body as { name: string; rebuild?: Progress }[]).find(
        (s) => s.name === name,
      )?.rebuild;
      if (p) view.show(p);
      if (p && (p.phase === 'done' || p.phase === 'failed')) {
        final = p;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } else {
    console.error(
      `no server answers at ${opts.url ?? `port ${config.port}`}: rebuilding in this process`,
    );
    const release = await holdProjections(config, [name], opts.url ?? `port ${config.port}`);
    const stores = await openShopStores(config).catch(async (error) => {
      await release();
      throw error;
    });
    const worker = projector({
      log: stores.write.log,
      store: stores.store,
      projections: shopProjections(),
    });
    try {
      await worker.start();
      const timer = setInterval(async () => {
        const p = (await worker.status()).find((s) => s.name === name)?.rebuild;
        if (p) view.show(progressOf(p));
      }, 250);
      const done = worker.rebuild(name);
      await done.finally(() => clearInterval(timer));
      const p = (await worker.status()).find((s) => s.name === name)?.rebuild;
      final = p && progressOf(p);
    } finally {
      await worker.stop();
      await stores.close();
      await release();
    }
  }
  if (final?.phase === 'done') view.show({ ...final, position: final.headPosition });
  view.stop();
  if (final?.phase === 'failed') throw new Error(`rebuild of ${name} failed: ${final.error ?? ''}`);
  console.log(
    `${name} rebuilt: generation ${final?.generation ?? '?'}, ${final?.events.toLocaleString('en-US') ?? 0} events, switched at position ${final?.position ?? '?'}`,
  );
}

function progressOf(p: {
  generation: number;
  phase: string;
  position: bigint;
  headPosition: bigint;
  events: number;
  eventsPerSecond: number;
  secondsLeft?: number;
  error?: string;
}): Progress {
  return { ...p, position: p.position.toString(), headPosition: p.headPosition.toString() };
}
