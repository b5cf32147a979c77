// The latency-distribution chart (SVG, no dependency): latency by percentile, HdrHistogram style
// — the x axis stretches the tail (50%, 90%, 99%, 99.9%…), the y axis is logarithmic.

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly curve: readonly (readonly [number, number])[];
}

const W = 720;
const H = 420;
const M = { left: 64, right: 180, top: 36, bottom: 48 };
const TAIL = [0, 50, 90, 99, 99.9, 99.99];

// 99.99% → 4 "nines"; 100% is drawn one step further out than the last percentile.
const nines = (p: number) => Math.log10(1 / (1 - Math.min(p, 99.999) / 100));

export function latencyChart(title: string, series: readonly Series[]): string {
  const values = series.flatMap((s) => s.curve.map(([, ms]) => Math.max(ms, 0.1)));
  const lo = Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...values, 10)));
  const xMax = nines(99.999);
  const x = (p: number) => M.left + (nines(p) / xMax) * (W - M.left - M.right);
  const y = (ms: number) =>
    H - M.bottom - ((Math.log10(Math.max(ms, 0.1)) - lo) / (hi - lo)) * (H - M.top - M.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="20" font-size="14" font-weight="bold">${xml(title)}</text>`,
  ];
  for (let e = lo; e <= hi; e++) {
    const ms = 10 ** e;
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1 ? ms.toLocaleString('en-US') : ms} ms</text>`,
    );
  }
  for (const p of TAIL) {
    parts.push(
      `<line x1="${x(p)}" x2="${x(p)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${x(p)}" y="${H - M.bottom + 16}" text-anchor="middle">${p}%</text>`,
    );
  }
  parts.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">percentile (latency from the scheduled send time)</text>`,
  );
  series.forEach((s, i) => {
    const points = s.curve.map(([p, ms]) => `${x(p).toFixed(1)},${y(ms).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>`,
      `<line x1="${W - M.right + 12}" x2="${W - M.right + 32}" y1="${M.top + 10 + i * 20}" y2="${M.top + 10 + i * 20}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${W - M.right + 38}" y="${M.top + 14 + i * 20}">${xml(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
