import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface BenchOptions {
  readonly quick: boolean;
  readonly peer: boolean;
  readonly args: readonly string[];
}

export type Metrics = Record<string, number>;

export interface BenchResult {
  readonly name: string;
  readonly machine: string;
  readonly command: string;
  readonly metrics: Metrics;
}

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const sqlite =
    (new Database(':memory:').prepare('SELECT sqlite_version()').pluck().get() as string) ?? '?';
  return `${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, SQLite ${sqlite}`;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Runs `work` (which does `n` operations) and returns operations per second. */
export async function rate(n: number, work: () => Promise<void> | void): Promise<number> {
  const start = performance.now();
  await work();
  return (n / (performance.now() - start)) * 1000;
}

/** A scratch directory removed by `cleanup()`. */
export function scratch(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `tworooms-bench-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Measures several variants side by side: `rounds` rounds, each running every variant once in
 * turn (so machine noise hits them alike), then the median of each.
 */
export async function sideBySide(
  rounds: number,
  variants: Record<string, () => Promise<number>>,
): Promise<Metrics> {
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(variants)) {
      const value = await run();
      samples[name] = [...(samples[name] ?? []), value];
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.round(median(v))]));
}

export function writeResult(result: BenchResult, dir = 'bench/results'): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function printTable(result: BenchResult): void {
  const rows = Object.entries(result.metrics);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${result.name} — ${result.machine}`);
  for (const [k, v] of rows) {
    const shown = Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(3);
    console.log(`  ${k.padEnd(width)}  ${shown.padStart(14)}`);
  }
}

/** Rounds a ratio to 3 decimals. */
export const ratio = (a: number | undefined, b: number | undefined): number =>
  a !== undefined && b ? Math.round((a / b) * 1000) / 1000 : Number.NaN;
