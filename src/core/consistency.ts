/** Where positions come from: the projector in this process, or checkpoints shared by workers. */
export interface ProgressSource {
  /** The position a projection has processed up to (undefined if unknown). */
  positionOf(projection: string): bigint | undefined;
  /** True when the projection has stopped on a failing event and will not move by itself. */
  isFailed(projection: string): boolean;
  /** Called whenever any position moves or a status changes. */
  onProgress(listener: () => void): () => void;
}

export type WaitOutcome =
  | { readonly reached: true }
  | {
      readonly reached: false;
      readonly reason: 'timeout' | 'failed';
      /** Where each projection stood when the wait gave up. */
      readonly positions: Readonly<Record<string, bigint | undefined>>;
    };

const reachedAll = (source: ProgressSource, position: bigint, projections: readonly string[]) =>
  projections.every((p) => (source.positionOf(p) ?? -1n) >= position);

const positionsOf = (source: ProgressSource, projections: readonly string[]) =>
  Object.fromEntries(projections.map((p) => [p, source.positionOf(p)]));

/**
 * Read-your-writes: resolves when every named projection has processed `position`, or after
 * `timeoutMs` with `{ reached: false, reason: 'timeout' }` (never rejects). A projection that has
 * failed ends the wait at once with reason `failed`.
 * @example
 *   const { position } = await bus.dispatch(cmd);
 *   const w = await waitFor(projector, position, ['catalog'], 2000);
 *   if (!w.reached) reply.header('X-Read-Model-Stale', 'true');
 */
export function waitFor(
  source: ProgressSource,
  position: bigint,
  projections: readonly string[],
  timeoutMs: number,
): Promise<WaitOutcome> {
  if (reachedAll(source, position, projections)) return Promise.resolve({ reached: true });
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe: (() => void) | undefined;
    let settled = false;
    const finish = (outcome: WaitOutcome) => {
      if (settled) return;
      settled = true;
      unsubscribe?.();
      if (timer) clearTimeout(timer);
      resolve(outcome);
    };
    const check = () => {
      if (reachedAll(source, position, projections)) return finish({ reached: true });
      const failed = projections.some(
        (p) => source.isFailed(p) && (source.positionOf(p) ?? -1n) < position,
      );
      if (failed)
        finish({ reached: false, reason: 'failed', positions: positionsOf(source, projections) });
    };
    unsubscribe = source.onProgress(check);
    if (settled) {
      unsubscribe();
      return;
    }
    timer = setTimeout(
      () =>
        finish({ reached: false, reason: 'timeout', positions: positionsOf(source, projections) }),
      timeoutMs,
    );
    check();
  });
}
