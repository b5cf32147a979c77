// What `tworooms rebuild` prints while it follows a rebuild: on a terminal a bar (position,
// events done, events/s, time left); without one a plain line at most every 2 s. The view is
// given its own stream (a terminal or a pipe) and clock, so no real time passes.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { progressView } from '../src/cli/rebuild.js';

type View = ReturnType<typeof progressView>;
type Report = Parameters<View['show']>[0];

/** A stream that keeps what is written; `isTTY` makes it a terminal for the bar. */
function output(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    isTTY ? { isTTY: true, columns: 200 } : {},
  );
  return { stream, text: () => chunks.join('') };
}

const report = (over: Partial<Report> = {}): Report => ({
  generation: 1,
  phase: 'building',
  position: '10',
  headPosition: '40',
  events: 1234,
  eventsPerSecond: 567,
  secondsLeft: 65,
  ...over,
});

let view: View | undefined;
afterEach(() => {
  view?.stop(); // a bar left running keeps its redraw timer
  view = undefined;
});

describe('rebuild progress view without a terminal', () => {
  it('prints position, events done, events/s and time left, at most one line every 2 s', () => {
    const out = output(false);
    let clock = 1_000_000;
    view = progressView('catalog', { stream: out.stream, now: () => clock });
    view.show(report());
    expect(out.text()).toBe('catalog: position 10/40, 1,234 events, 567 events/s, 1m5s left\n');
    clock += 1000;
    view.show(report({ position: '20', events: 2000 }));
    clock += 1000; // exactly 2 s since the last line: still too soon
    view.show(report({ position: '25', events: 2500 }));
    expect(out.text().split('\n')).toHaveLength(2);
    clock += 1;
    view.show(
      report({ position: '30', events: 12_345, eventsPerSecond: 4321.5, secondsLeft: 2.2 }),
    );
    clock += 2001;
    // Before a rate is known there is no estimate.
    const { secondsLeft: _unknown, ...noEstimate } = report({ position: '35', events: 13_000 });
    view.show(noEstimate);
    view.stop();
    expect(out.text()).toBe(
      [
        'catalog: position 10/40, 1,234 events, 567 events/s, 1m5s left',
        'catalog: position 30/40, 12,345 events, 4,321.5 events/s, 3s left',
        'catalog: position 35/40, 13,000 events, 567 events/s, ? left',
        '',
      ].join('\n'),
    );
  });

  it('rounds the time left up to whole seconds, in minutes and seconds from a minute on', () => {
    const out = output(false);
    let clock = 1_000_000;
    view = progressView('orders', { stream: out.stream, now: () => clock });
    for (const secondsLeft of [0, 0.1, 59, 60, 61.2, 119.5, 3600]) {
      view.show(report({ secondsLeft }));
      clock += 2001;
    }
    const left = out
      .text()
      .trimEnd()
      .split('\n')
      .map((l) => l.replace(/.*, (\S+) left$/, '$1'));
    expect(left).toEqual(['0s', '1s', '59s', '1m0s', '1m2s', '2m0s', '60m0s']);
  });
});

describe('rebuild progress view on a terminal', () => {
  it('draws a bar of position over head with events, events/s and time left', () => {
    const out = output(true);
    view = progressView('catalog', { stream: out.stream, now: () => 0 });
    view.show(report());
    // The first report draws at once.
    expect(out.text()).toContain(
      ` catalog |${'='.repeat(10)}${'-'.repeat(30)}| 25% position 10/40 · 1,234 events · 567 events/s · 1m5s left`,
    );
    // The head moves on: the total follows it; the last report is drawn when the bar stops.
    view.show(
      report({
        position: '45',
        headPosition: '50',
        events: 9876,
        eventsPerSecond: 1500,
        secondsLeft: 3.4,
      }),
    );
    view.stop();
    view = undefined;
    expect(out.text()).toContain(
      ` catalog |${'='.repeat(36)}${'-'.repeat(4)}| 90% position 45/50 · 9,876 events · 1,500 events/s · 4s left`,
    );
    expect(out.text().endsWith('\n')).toBe(true);
  });
});
