// Smoke test of the order-phase benchmark (tiny catalog, one-second rounds): both deployments
// run end to end, every round is audited, nothing oversells. No timing is asserted.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flashOrdersBench } from '../bench/flash-orders.js';

describe('npm run bench -- flash-orders (smoke)', () => {
  it('runs each deployment, times the lag, audits the stock', async () => {
    expect(existsSync('dist/cli/main.js'), 'run `npm run build` first').toBe(true);
    const metrics = await flashOrdersBench({
      quick: true,
      peer: false,
      args: ['--quick', '--products', '200', '--variants', 'in-process,write-thread'],
    });
    for (const v of ['in_process', 'write_thread']) {
      expect(metrics[`${v}_orders_per_s`], v).toBeGreaterThan(0);
      expect(metrics[`${v}_orders_errors`], v).toBe(0);
      expect(Number.isFinite(metrics[`${v}_lag_p99_ms`]), v).toBe(true);
      expect(metrics[`${v}_lag_errors`], v).toBe(0);
      expect(metrics[`${v}_oversold_units`], v).toBe(0);
      expect(metrics[`${v}_stock_mismatch_units`], v).toBe(0);
    }
  }, 180_000);

  it('runs on the production stack too (PostgreSQL, Redis, NATS), as serve deploys by default', async () => {
    const metrics = await flashOrdersBench({
      quick: true,
      peer: false,
      args: ['--quick', '--products', '200', '--stack', 'production'],
    });
    expect(metrics['default_orders_per_s']).toBeGreaterThan(0);
    expect(metrics['default_orders_errors']).toBe(0);
    expect(metrics['default_lag_errors']).toBe(0);
    expect(metrics['default_oversold_units']).toBe(0);
    expect(metrics['default_stock_mismatch_units']).toBe(0);
  }, 180_000);

  it('refuses an unknown option or deployment with a clear message', async () => {
    await expect(
      flashOrdersBench({ quick: true, peer: false, args: ['--quick', '--stack', 'mysql'] }),
    ).rejects.toThrow(/--stack must be embedded or production/);
    await expect(
      flashOrdersBench({ quick: true, peer: false, args: ['--quick', '--bogus'] }),
    ).rejects.toThrow(/unknown option --bogus/);
    await expect(
      flashOrdersBench({ quick: true, peer: false, args: ['--quick', '--variants', 'nope'] }),
    ).rejects.toThrow(/unknown variant nope/);
  });
});
