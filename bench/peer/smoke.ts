// Smoke run of the Emmett peer benchmark in quick mode:
//   cd /work/main && npx tsx bench/peer/smoke.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { measurePeer } from './emmett.ts';

const dir = await mkdtemp(join(tmpdir(), 'emmett-peer-'));
try {
  const started = performance.now();
  const figures = await measurePeer({ dir, quick: true });
  console.log(JSON.stringify(figures, null, 2));
  console.error(`emmett peer smoke: ${((performance.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

// Connections are closed asynchronously by node-sqlite3; give them a moment, then
// check that nothing but stdio is left holding the process open.
await sleep(100);
const left = process
  .getActiveResourcesInfo()
  .filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap' && r !== 'Timeout');
if (left.length > 0) console.error(`emmett peer smoke: still open: ${left}`);
