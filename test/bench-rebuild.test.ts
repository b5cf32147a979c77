// Smoke test of the rebuild benchmark's SQLite half (a 2,000-event shop log): the catalog is
// rebuilt blue/green while queries come at a fixed rate, or in a closed loop. No timing is
// asserted: only that each part ran and reported.
import { describe, expect, it } from 'vitest';
import { rebuildBench } from '../bench/rebuild.js';

const run = (...args: string[]) =>
  rebuildBench({
    quick: true,
    peer: false,
    args: ['--stack', 'sqlite', '--events', '2000', ...args],
  });

describe('npm run bench -- rebuild (smoke)', () => {
  it('rebuilds the catalog beside the ceiling, with queries at a fixed rate or in a closed loop', async () => {
    for (const rate of [250, 0]) {
      const m = await run('--query-rate', String(rate));
      expect(m['query_rate_per_s']).toBe(rate);
      expect(m['catalog_rebuild_events']).toBeGreaterThan(0);
      expect(m['catalog_rebuild_events_per_s']).toBeGreaterThan(0);
      expect(m['catalog_raw_replay_events_per_s']).toBeGreaterThan(0);
      expect(m['queries_during_rebuild']).toBeGreaterThan(0);
      expect(Number.isFinite(m['query_p99_across_switch_ms'])).toBe(true);
      expect(m['catalog_rebuild_fraction_of_raw_mean']).toBeGreaterThan(0);
      // The rebuild's ceiling measured on either side of it.
      expect(m['catalog_raw_replay_after_events_per_s']).toBeGreaterThan(0);
      expect(m['catalog_raw_replay_paired_events_per_s']).toBeGreaterThan(0);
      expect(m['catalog_rebuild_fraction_of_raw_paired']).toBeGreaterThan(0);
    }
  }, 120_000);

  it('refuses a query rate that is not a whole number', async () => {
    await expect(run('--query-rate', 'fast')).rejects.toThrow(
      /--query-rate must be a whole number/,
    );
  });
});
