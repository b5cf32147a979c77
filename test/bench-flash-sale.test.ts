// Smoke test of the flash-sale benchmark (tiny catalog, one-second phases): it runs end to end
// and reports every figure the issue names, and no order oversold. No timing is asserted.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { flashSaleBench } from '../bench/flash-sale.js';

const REQUIRED = [
  'l1_read_p99_ms_loaded',
  'l2_read_p99_ms_loaded',
  'l2_read_p99_ms_idle',
  'catalog_fraction_of_ceiling',
  'orders_per_s',
  'oversold_units',
  'projection_lag_p99_ms',
];

describe('npm run bench -- flash-sale (smoke)', () => {
  it('runs two rounds of the four runs, the ceiling and the orders phase, and nothing oversells', async () => {
    expect(existsSync('dist/cli/main.js'), 'run `npm run build` first').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-flash-chart-'));
    const chart = join(dir, 'flash-sale.svg');
    const metrics = await flashSaleBench({
      quick: true,
      peer: false,
      args: [
        '--quick',
        '--products',
        '200',
        '--reads',
        '200',
        '--writes',
        '40',
        '--seconds',
        '1',
        '--rounds',
        '2',
        '--chart',
        chart,
      ],
    });
    // The chart: one latency curve per run (the first round's), each named.
    const svg = readFileSync(chart, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    for (const label of [
      'level 1, no writes',
      'level 1, during the sale',
      'level 2, no writes',
      'level 2, during the sale',
    ])
      expect(svg).toContain(label);
    for (const key of REQUIRED) expect(Number.isFinite(metrics[key]), key).toBe(true);
    expect(metrics['oversold_units']).toBe(0);
    expect(metrics['l1_stock_mismatch_units']).toBe(0);
    expect(metrics['l2_stock_mismatch_units']).toBe(0);
    expect(metrics['orders_per_s']).toBeGreaterThan(0);
    // The generator's floor (the bare route at the sale's rate) and the ratio it bounds.
    for (const key of [
      'floor_catalog_p50_ms',
      'floor_catalog_p99_ms',
      'l1_catalog_p99_loaded_vs_floor',
    ])
      expect(metrics[key], key).toBeGreaterThan(0);
    // Two rounds: medians, with each round's target ratios beside them.
    expect(metrics['rounds']).toBe(2);
    for (const key of ['l1_vs_l2_catalog_p99_loaded', 'l2_catalog_p99_loaded_vs_idle'])
      for (const suffix of ['', '_r1', '_r2', '_median'])
        expect(Number.isFinite(metrics[`${key}${suffix}`]), `${key}${suffix}`).toBe(true);
  }, 240_000);

  it('refuses an unknown option with a clear message', async () => {
    await expect(
      flashSaleBench({ quick: true, peer: false, args: ['--quick', '--bogus'] }),
    ).rejects.toThrow(/unknown option --bogus/);
  });

  it('runs as `tworooms bench flash-sale` too: the options reach the benchmark', async () => {
    // An option the benchmark refuses proves the CLI ran it with its arguments (and fails).
    const run = promisify(execFile)(
      process.execPath,
      ['dist/cli/main.js', 'bench', 'flash-sale', '--quick', '--bogus'],
      { env: { ...process.env, CI: 'true' } },
    );
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/bench flash-sale: unknown option --bogus/),
    });
  });
});
