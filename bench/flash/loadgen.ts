// The load generator: runs in a worker thread (never in the server's process) and sends HTTP
// requests either on a fixed schedule (open model: latency counted from the time a request was
// due, so a stalled server cannot hide its queue — no coordinated omission) or from N loops
// that each wait for their answer (closed model: maximum throughput).
import http from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import type { Req } from './traffic.js';

export interface OpenStream {
  readonly name: string;
  readonly ratePerS: number;
  /** Sent in order, one every 1000/ratePerS ms (cycled if the phase outlasts them). */
  readonly requests: readonly Req[];
}

export type LoadPlan =
  | {
      readonly mode: 'open';
      readonly url: string;
      readonly durationMs: number;
      readonly streams: readonly OpenStream[];
      /** Time how long a price change takes to show in the read model (level 2 only). */
      readonly probeLag: boolean;
      readonly connections: number;
      readonly timeoutMs: number;
    }
  | {
      readonly mode: 'closed';
      readonly url: string;
      readonly durationMs: number;
      readonly name: string;
      readonly concurrency: number;
      readonly requests: readonly Req[];
      readonly timeoutMs: number;
    };

/** One stream's figures (latencies in ms). */
export interface Summary {
  readonly count: number;
  readonly ok: number;
  /** Orders refused with 409 (sold out): an expected answer in a sale, not an error. */
  readonly soldOut: number;
  readonly errors: number;
  readonly okPerS: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  /** [percentile, ms] points of the latency distribution, for the chart. */
  readonly curve: readonly (readonly [number, number])[];
  readonly errorSamples: readonly string[];
}

export interface LoadResult {
  readonly streams: Record<string, Summary>;
  /** Write → visible in the read model, ms (open model with probeLag only). */
  readonly lag?: Summary;
  readonly elapsedMs: number;
}

const CURVE = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

class Recorder {
  readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  count = 0;
  ok = 0;
  soldOut = 0;
  errors = 0;
  readonly errorSamples: string[] = [];

  record(micros: number, outcome: 'ok' | 'soldOut' | 'error', detail?: string): void {
    this.count++;
    this.histogram.recordValue(Math.max(1, Math.round(micros)));
    if (outcome === 'error') this.errors++;
    else this[outcome]++;
    if (outcome === 'error' && detail && this.errorSamples.length < 5)
      this.errorSamples.push(detail);
  }

  summary(elapsedMs: number): Summary {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: this.count,
      ok: this.ok,
      soldOut: this.soldOut,
      errors: this.errors,
      okPerS: Math.round((this.ok / elapsedMs) * 1000),
      p50: ms(h.getValueAtPercentile(50)),
      p95: ms(h.getValueAtPercentile(95)),
      p99: ms(h.getValueAtPercentile(99)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
      curve: this.count ? CURVE.map((p) => [p, ms(h.getValueAtPercentile(p))] as const) : [],
      errorSamples: this.errorSamples,
    };
  }
}

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * An HTTP client with at most `connections` requests in flight; the rest wait in a FIFO queue.
 * A request still waiting when its deadline has passed is never sent (a shopper gave up before
 * the page started loading): it fails as a timeout without costing the server anything, so a
 * server that fell behind can catch up instead of serving abandoned requests.
 */
function client(url: string, connections: number, timeoutMs: number) {
  const base = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  let head = 0;
  const slot = () => {
    if (inFlight < connections) {
      inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting[head];
    if (next) {
      waiting[head++] = undefined as never;
      if (head > 4096 && head * 2 > waiting.length) {
        waiting.splice(0, head); // drop the served half now and then
        head = 0;
      }
      next();
    } else inFlight--;
  };
  const exchange = (req: Req): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const r = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method: req.method,
          path: req.path,
          headers: req.headers,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
          });
          res.on('error', reject);
        },
      );
      // Only a hung server gets its connection cut; a late answer is judged by the caller.
      const timer = setTimeout(
        () => r.destroy(new Error('no answer (connection cut)')),
        2 * timeoutMs,
      );
      r.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      r.end(req.body);
    });
  const send = async (req: Req, deadline: number): Promise<Answer> => {
    await slot();
    try {
      if (performance.now() >= deadline)
        throw new Error('timeout (never sent: no connection in time)');
      return await exchange(req);
    } finally {
      release();
    }
  };
  return { send, close: () => agent.destroy() };
}

/** An answer later than the timeout is a failure too: the shopper has gone. */
const outcomeOf = (req: Req, a: Answer, late: boolean): 'ok' | 'soldOut' | 'error' =>
  late || a.status >= 300
    ? req.kind === 'order' && a.status === 409 && !late
      ? 'soldOut'
      : 'error'
    : 'ok';

async function runOpen(plan: Extract<LoadPlan, { mode: 'open' }>): Promise<LoadResult> {
  const http_ = client(plan.url, plan.connections, plan.timeoutMs);
  const recorders: Record<string, Recorder> = Object.fromEntries(
    plan.streams.map((s) => [s.name, new Recorder()]),
  );
  const lag = new Recorder();
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const probe = async (productId: string, position: string) => {
    const from = performance.now();
    try {
      const a = await http_.send(
        {
          kind: 'probe',
          method: 'GET',
          path: `/api/products/${productId}?after=${position}&wait=10000`,
        },
        from + plan.timeoutMs,
      );
      const stale = a.headers['x-read-model-stale'] === 'true';
      lag.record(
        (performance.now() - from) * 1000,
        a.status === 200 && !stale ? 'ok' : 'error',
        `${a.status}${stale ? ' stale' : ''}`,
      );
    } catch (e) {
      lag.record((performance.now() - from) * 1000, 'error', String(e));
    }
  };
  // Each answer counts in its stream and in its stream's kind (`reads.catalog`, `writes.order`…).
  const fire = async (req: Req, due: number, stream: string) => {
    const byKind = `${stream}.${req.kind}`;
    recorders[byKind] ??= new Recorder();
    const recs = [recorders[stream]!, recorders[byKind]];
    const rec = {
      record: (...args: Parameters<Recorder['record']>) => {
        for (const r of recs) r.record(...args);
      },
    };
    try {
      const a = await http_.send(req, due + plan.timeoutMs);
      const took = performance.now() - due;
      const outcome = outcomeOf(req, a, took > plan.timeoutMs);
      const detail = `${a.status} after ${Math.round(took)} ms ${a.body.slice(0, 160)}`;
      rec.record(took * 1000, outcome, detail);
      // Also by where the answer came from (`reads.catalog.cache`, `reads.catalog.read-model`…):
      // a cache hit's latency apart from a miss's.
      const source = a.headers['x-read-source'];
      if (typeof source === 'string') {
        const bySource = `${byKind}.${source}`;
        recorders[bySource] ??= new Recorder();
        recorders[bySource].record(took * 1000, outcome, detail);
      }
      if (plan.probeLag && req.probeProduct && outcome === 'ok') {
        const { position } = JSON.parse(a.body) as { position: string };
        track(probe(req.probeProduct, position));
      }
    } catch (e) {
      rec.record((performance.now() - due) * 1000, 'error', String(e));
    }
  };
  const start = performance.now();
  const end = start + plan.durationMs;
  const next = plan.streams.map(() => 0);
  for (;;) {
    const now = performance.now();
    let soonest = end;
    plan.streams.forEach((s, k) => {
      const interval = 1000 / s.ratePerS;
      for (;;) {
        const due = start + next[k]! * interval;
        if (due >= end) return;
        if (due > now) {
          soonest = Math.min(soonest, due);
          return;
        }
        const req = s.requests[next[k]! % s.requests.length]!;
        next[k]!++;
        track(fire(req, due, s.name));
      }
    });
    if (soonest >= end) break;
    await new Promise((r) => setTimeout(r, Math.max(0, soonest - performance.now())));
  }
  while (pending.size > 0) await Promise.all([...pending]);
  const elapsedMs = plan.durationMs;
  http_.close();
  return {
    streams: Object.fromEntries(
      Object.entries(recorders).map(([k, r]) => [k, r.summary(elapsedMs)]),
    ),
    ...(plan.probeLag ? { lag: lag.summary(elapsedMs) } : {}),
    elapsedMs,
  };
}

async function runClosed(plan: Extract<LoadPlan, { mode: 'closed' }>): Promise<LoadResult> {
  const http_ = client(plan.url, plan.concurrency, plan.timeoutMs);
  const rec = new Recorder();
  const start = performance.now();
  const end = start + plan.durationMs;
  let i = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const req = plan.requests[i++ % plan.requests.length]!;
      const sent = performance.now();
      try {
        const a = await http_.send(req, sent + plan.timeoutMs);
        const took = performance.now() - sent;
        rec.record(took * 1000, outcomeOf(req, a, took > plan.timeoutMs), `${a.status} ${a.body}`);
      } catch (e) {
        rec.record((performance.now() - sent) * 1000, 'error', String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, loop));
  const elapsedMs = performance.now() - start;
  http_.close();
  return { streams: { [plan.name]: rec.summary(elapsedMs) }, elapsedMs };
}

/** Runs `plan` in a worker thread and answers its figures. */
export function runLoad(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const self = new URL(import.meta.url);
    // From source (npm run bench, vitest) the worker registers tsx's loader before importing
    // this file (Node 20 does not pass a parent's loader hooks on to a worker).
    const worker = self.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(self.href)}); });`,
          { eval: true, workerData: { flashLoad: plan } },
        )
      : new Worker(self, { workerData: { flashLoad: plan } });
    worker.once('message', (m: { result?: LoadResult; error?: string }) =>
      m.result ? resolve(m.result) : reject(new Error(`load generator: ${m.error}`)),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`load generator exited (${code})`)));
  });
}

const job = (workerData as { flashLoad?: LoadPlan } | null)?.flashLoad;
if (!isMainThread && job) {
  (job.mode === 'open' ? runOpen(job) : runClosed(job)).then(
    (result) => parentPort?.postMessage({ result }),
    (error: unknown) => parentPort?.postMessage({ error: String(error) }),
  );
}
