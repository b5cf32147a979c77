import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The benchmarks live in bench/ beside src/ (a source checkout; the published package has none).
const root = fileURLToPath(new URL('../../', import.meta.url));

/** `tworooms bench <name> [options]`: runs `npm run bench -- <name> [options]` in the checkout. */
export async function benchCommand(args: readonly string[]): Promise<void> {
  if (!existsSync(`${root}bench/run.ts`)) {
    throw new Error('the benchmarks run from a source checkout of tworooms (bench/ is missing)');
  }
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'bench/run.ts', ...args], { cwd: root, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) process.exitCode = code;
}
