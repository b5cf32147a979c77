import { afterEach, describe, expect, it } from 'vitest';
import type { JobOptions, JobQueue } from '../../src/core/jobs.js';

/** What every JobQueue must do: run, debounce per key, re-run a key added while it runs, retry. */
export function jobQueueSuite(name: string, open: (options: JobOptions) => Promise<JobQueue>) {
  describe(`JobQueue conformance: ${name}`, () => {
    const opened: JobQueue[] = [];
    const queue = async (options: JobOptions = {}) => {
      const q = await open({ backoffMs: 10, ...options });
      opened.push(q);
      return q;
    };
    afterEach(async () => {
      for (const q of opened.splice(0)) await q.close();
    });

    it('runs each key once, however often it was added while waiting', async () => {
      const q = await queue();
      const runs: string[] = [];
      q.process('recompute', async (key) => {
        runs.push(key);
      });
      for (let i = 0; i < 10; i++) {
        await q.add('recompute', 'a', { delayMs: 150 });
        await q.add('recompute', 'b', { delayMs: 150 });
      }
      await q.drain();
      expect(runs.sort()).toEqual(['a', 'b']);
    });

    it('runs a key again when it is added while its job runs (no change is missed)', async () => {
      const q = await queue();
      const runs: string[] = [];
      let release!: () => void;
      const started = new Promise<void>((resolve) => {
        q.process('recompute', async (key) => {
          runs.push(key);
          if (runs.length === 1) {
            resolve();
            await new Promise<void>((r) => {
              release = r;
            });
          }
        });
      });
      await q.add('recompute', 'a');
      await started;
      await q.add('recompute', 'a');
      await q.add('recompute', 'a');
      release();
      await q.drain();
      expect(runs).toEqual(['a', 'a']);
    });

    it('retries a failing job with back-off, then gives up and reports it', async () => {
      const failed: string[] = [];
      const q = await queue({ attempts: 3, onFailed: (_n, key) => failed.push(key) });
      const tries = new Map<string, number>();
      q.process('recompute', async (key) => {
        const n = (tries.get(key) ?? 0) + 1;
        tries.set(key, n);
        if (key === 'flaky' && n < 3) throw new Error('not yet');
        if (key === 'broken') throw new Error('always');
      });
      await q.add('recompute', 'flaky');
      await q.add('recompute', 'broken');
      await q.drain();
      await expect.poll(() => failed).toEqual(['broken']);
      expect(tries.get('flaky')).toBe(3);
      expect(tries.get('broken')).toBe(3);
    });
  });
}
