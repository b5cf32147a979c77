import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CommandObservation } from '../core/middleware.js';
import type { ProjectionActivity, ProjectionStatus } from '../core/projector.js';

export interface MetricSources {
  readonly projections?: {
    status(): Promise<ProjectionStatus[]>;
    activity?(): Promise<ProjectionActivity[]>;
  };
  readonly cache?: { hits: number; misses: number };
}

/** The shop's Prometheus metrics: command latency, HTTP latency, projection lag, cache hits. */
export function shopMetrics(sources: MetricSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tworooms_process_' });
  const commands = new Histogram({
    name: 'tworooms_command_duration_seconds',
    help: 'Command handling time, by command type and outcome',
    labelNames: ['type', 'outcome', 'code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const http = new Histogram({
    name: 'tworooms_http_request_duration_seconds',
    help: 'HTTP request time, by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // One status read per scrape, shared by the gauges that collect from it concurrently.
  let scrape: Promise<ProjectionStatus[]> | undefined;
  const statuses = () => {
    scrape ??= (async () => (await sources.projections?.status()) ?? [])().finally(() => {
      scrape = undefined;
    });
    return scrape;
  };
  new Gauge({
    name: 'tworooms_projection_lag_events',
    help: 'Events in the log not yet processed by the projection',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      for (const s of await statuses()) this.set({ projection: s.name }, Number(s.lag));
    },
  });
  new Gauge({
    name: 'tworooms_projection_position',
    help: 'Log position the projection has processed',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      for (const s of await statuses()) this.set({ projection: s.name }, Number(s.position));
    },
  });
  new Gauge({
    name: 'tworooms_projection_lag_seconds',
    help: 'Age of the oldest event the projection has not processed (0 when caught up)',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      for (const a of (await sources.projections?.activity?.()) ?? [])
        this.set({ projection: a.name }, a.lagSeconds);
    },
  });
  new Gauge({
    name: 'tworooms_projection_state',
    help: "1 for the projection's current state (starting, catching_up, live, rebuilding, failed, stopped)",
    labelNames: ['projection', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await statuses()) this.set({ projection: s.name, state: s.status }, 1);
    },
  });
  new Counter({
    name: 'tworooms_projection_events_total',
    help: 'Events applied to the live read model by this process (rate() gives events/s)',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const a of (await sources.projections?.activity?.()) ?? [])
        this.inc({ projection: a.name }, a.eventsApplied);
    },
  });
  new Gauge({
    name: 'tworooms_projection_rebuild_progress_ratio',
    help: 'Position of the rebuild copy over the head (1 once switched); absent without a rebuild',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await statuses()) {
        const r = s.rebuild;
        if (!r) continue;
        const ratio =
          r.phase === 'done' ? 1 : Number(r.position) / Math.max(Number(r.headPosition), 1);
        this.set({ projection: s.name }, ratio);
      }
    },
  });
  new Gauge({
    name: 'tworooms_projection_rebuild_events_per_second',
    help: 'Events per second the current (or last) rebuild applies',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await statuses())
        if (s.rebuild) this.set({ projection: s.name }, s.rebuild.eventsPerSecond);
    },
  });
  new Gauge({
    name: 'tworooms_projection_rebuild_seconds_left',
    help: 'Estimated seconds until the rebuild copy catches up',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await statuses())
        if (s.rebuild?.secondsLeft !== undefined)
          this.set({ projection: s.name }, s.rebuild.secondsLeft);
    },
  });
  new Gauge({
    name: 'tworooms_projection_failed',
    help: '1 when the projection has stopped on a failing event',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      for (const s of await statuses())
        this.set({ projection: s.name }, s.status === 'failed' ? 1 : 0);
    },
  });
  const cacheCounter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  if (sources.cache) {
    const cache = sources.cache;
    cacheCounter('tworooms_cache_hits_total', 'Cached answers served', () => cache.hits);
    cacheCounter('tworooms_cache_misses_total', 'Cache look-ups that missed', () => cache.misses);
  }
  return {
    registry,
    observeCommand: (o: CommandObservation) =>
      commands.observe(
        { type: o.type, outcome: o.outcome, code: o.errorCode ?? '' },
        o.durationMs / 1000,
      ),
    observeHttp: (method: string, route: string, status: number, seconds: number) =>
      http.observe({ method, route, status: String(status) }, seconds),
  };
}

export type ShopMetrics = ReturnType<typeof shopMetrics>;
