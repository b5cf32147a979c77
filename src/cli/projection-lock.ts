import type { Config } from '../config.js';
import { openLeases } from '../main.js';
import { ProjectorLockHeld } from '../stores/sqlite/index.js';

/**
 * Takes the leases on `names` for work this command does on the stores itself (no server
 * answered): a projector running elsewhere must not have its projection changed under it. Throws
 * a one-line error naming the way out when another process holds one. Resolves to the release.
 */
export async function holdProjections(
  config: Config,
  names: readonly string[],
  url: string,
): Promise<() => Promise<void>> {
  const elsewhere = (what: string) =>
    new Error(
      `${what} runs in another process (a \`tworooms serve\` with its projector or a \`tworooms project\` worker) that does not answer at ${url}: pass that process's --url`,
    );
  let leases: Awaited<ReturnType<typeof openLeases>>;
  try {
    leases = await openLeases(config, `tworooms-cli-${process.pid}`);
  } catch (error) {
    if (error instanceof ProjectorLockHeld) throw elsewhere('the projector');
    throw error;
  }
  for (const name of names) {
    if (await leases.tryAcquire(name)) continue;
    await leases.close();
    throw elsewhere(`projection ${name}`);
  }
  return () => leases.close();
}
