import type { Config } from '../config.js';
import { verifyProjection } from '../core/index.js';
import { openShopStores, projectionNamed } from './shop-files.js';

const show = (row: Record<string, unknown> | undefined) =>
  row === undefined ? '(missing)' : JSON.stringify(row);

/**
 * `tworooms verify <projection>`: a scratch rebuild compared row by row with the live copy at one
 * log position. Runs in this process beside a running server: the two coordinate through the read
 * DB's transactions (the comparison holds one, in which the live copy cannot move). Exit code 0
 * when they match, 1 when rows differ (errors exit 2).
 */
export async function verifyCommand(config: Config, name: string): Promise<void> {
  const projection = projectionNamed(name);
  const stores = await openShopStores(config);
  try {
    const report = await verifyProjection({
      log: stores.write.log,
      store: stores.store,
      projection,
      onProgress: (position, target) =>
        process.stderr.isTTY
          ? process.stderr.write(`\r${name}: scratch copy at ${position} of ${target}   `)
          : undefined,
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const rows = Object.entries(report.rows)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    console.log(`${name} at position ${report.position}: compared ${rows}`);
    if (report.differing === 0) {
      console.log('0 differing rows: the live read model equals a fresh rebuild');
      return;
    }
    console.log(`${report.differing} differing rows, for example:`);
    for (const d of report.examples) {
      console.log(`  ${d.table} ${JSON.stringify(d.key)}`);
      console.log(`    live:    ${show(d.live)}`);
      console.log(`    rebuilt: ${show(d.rebuilt)}`);
    }
    process.exitCode = 1;
  } finally {
    await stores.close();
  }
}
