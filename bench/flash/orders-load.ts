// Orders at full speed: N connections, each placing the next order as soon as the last one is
// answered (a closed loop), driven by autocannon in the bench process. On 2 cores the load
// generator shares the machine with the server: our Node http client (loadgen.ts) took ~30% of
// a core at 1,500 orders/s (top, 2026-11-28), autocannon much less, so the server gets the cores.
import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import type { Summary } from './loadgen.js';
import type { Req } from './traffic.js';

/** An orders phase's figures (latencies in ms, from each request's send to its answer). */
export type OrdersSummary = Pick<
  Summary,
  'count' | 'ok' | 'soldOut' | 'errors' | 'okPerS' | 'p50' | 'p99' | 'max' | 'errorSamples'
>;

/**
 * Sends `requests` in order (cycled) over `connections` connections for `seconds` seconds: 201
 * counts as placed, 409 as sold out (an expected answer in a sale), anything else — another
 * status, a connection error, no answer within `timeoutS` — as an error.
 */
export async function placeOrders(
  url: string,
  requests: readonly Req[],
  o: { readonly connections: number; readonly seconds: number; readonly timeoutS?: number },
): Promise<OrdersSummary> {
  if (requests.length === 0) throw new Error('no order requests to send');
  const latency = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const statuses = new Map<number, number>();
  const errorSamples: string[] = [];
  let next = 0;
  // Without a callback autocannon answers a promise that is also its event emitter (per answer).
  const run = autocannon({
    url,
    connections: o.connections,
    pipelining: 1,
    duration: o.seconds,
    timeout: o.timeoutS ?? 10,
    requests: [
      {
        setupRequest: (req) => {
          const r = requests[next++ % requests.length]!;
          return {
            ...req,
            method: r.method,
            path: r.path,
            headers: r.headers ?? {},
            body: r.body ?? '',
          };
        },
        onResponse: (status, body) => {
          if (status !== 201 && status !== 409 && errorSamples.length < 5)
            errorSamples.push(`${status} ${String(body).slice(0, 160)}`);
        },
      },
    ],
  }) as unknown as Promise<autocannon.Result> & EventEmitter;
  run.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    latency.recordValue(Math.max(1, Math.round(ms * 1000)));
  });
  const result = await run;
  const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
  const ok = statuses.get(201) ?? 0;
  const soldOut = statuses.get(409) ?? 0;
  const failed = result.errors + result.timeouts;
  if (failed > 0 && errorSamples.length < 5)
    errorSamples.push(`${result.errors} connection errors, ${result.timeouts} timeouts`);
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: answered + failed,
    ok,
    soldOut,
    errors: answered - ok - soldOut + failed,
    okPerS: Math.round(ok / (result.duration || o.seconds)),
    p50: ms(latency.getValueAtPercentile(50)),
    p99: ms(latency.getValueAtPercentile(99)),
    max: ms(latency.maxValue),
    errorSamples,
  };
}
