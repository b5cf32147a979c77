import { MultiBar, Presets } from 'cli-progress';

/** Progress of named phases: bars on a terminal, one line per finished phase otherwise. */
export interface Progress {
  /** `done` of `total` units in `phase`; the first call for a phase adds its bar. */
  update(phase: string, done: number, total: number): void;
  stop(): void;
}

/** Bars on stderr when it is a terminal; a plain line per phase when it is a log or a pipe. */
export function progressBars(started = performance.now()): Progress {
  const rate = (done: number) =>
    Math.round(done / Math.max((performance.now() - started) / 1000, 0.001)).toLocaleString(
      'en-US',
    );
  if (!process.stderr.isTTY) {
    const finished = new Set<string>();
    return {
      update(phase, done, total) {
        if (done < total || finished.has(phase)) return;
        finished.add(phase);
        console.error(`${phase}: ${total.toLocaleString('en-US')} (${rate(done)}/s)`);
      },
      stop: () => undefined,
    };
  }
  const bars = new MultiBar(
    {
      format: ' {phase} |{bar}| {percentage}% {value}/{total} {rate}/s',
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  const barFor = new Map<string, ReturnType<MultiBar['create']>>();
  let stopped = false;
  return {
    update(phase, done, total) {
      let bar = barFor.get(phase);
      if (!bar) {
        bar = bars.create(total, 0, { phase: phase.padEnd(10), rate: 0 });
        barFor.set(phase, bar);
      }
      if (bar.getTotal() !== total) bar.setTotal(total);
      bar.update(done, { rate: rate(done) });
    },
    stop() {
      if (stopped) return; // a second stop would print the bars again
      stopped = true;
      bars.stop();
    },
  };
}
