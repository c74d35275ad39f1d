// Hand-rolled SVG charts (no dependencies): grouped bars in small multiples
// (one panel per message size, each with its own scale, so 100 KiB bars
// aren't flattened by 1 KiB ones) and a log-x line chart for scaling.

const PALETTE = [
  '#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
  '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#d62728',
];
export const colorFor = (i) => PALETTE[i % PALETTE.length];

const esc = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const f1 = (x) => Math.round(x * 10) / 10;

/** A "nice" axis maximum and tick step covering v. */
function niceScale(v, ticks = 5) {
  if (!(v > 0)) return { max: 1, step: 0.2 };
  const raw = v / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { max: Math.ceil(v / step) * step, step };
}

export function fmtNum(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return `${f1(v / 1e6)}M`;
  if (a >= 1e4) return `${Math.round(v / 1e3)}k`;
  if (a >= 1e3) return `${f1(v / 1e3)}k`;
  if (a >= 100) return `${Math.round(v)}`;
  if (a >= 10) return `${f1(v)}`;
  return `${Math.round(v * 100) / 100}`;
}

function frame(width, height, body, title, subtitle) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">${esc(title)}</text>`,
    subtitle
      ? `<text x="${width / 2}" y="42" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`
      : '',
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function legend(items, x0, y0, width) {
  const out = [];
  let x = x0;
  let y = y0;
  for (const it of items) {
    const w = 22 + it.label.length * 6.6 + 18;
    if (x + w > x0 + width) {
      x = x0;
      y += 20;
    }
    out.push(`<rect x="${f1(x)}" y="${y - 10}" width="14" height="12" fill="${it.color}"/>`);
    out.push(`<text x="${f1(x + 20)}" y="${y}">${esc(it.label)}</text>`);
    x += w;
  }
  return { svg: out, height: y - y0 + 20 };
}

/**
 * Small multiples of bars.
 * @param {{title: string, subtitle?: string, unit: string, series: {label: string, color: string}[],
 *          panels: {title: string, values: ({value: number, min?: number, max?: number} | null)[]}[]}} spec
 *   values[i] belongs to series[i]; null = not measured.
 */
export function barChart(spec) {
  const nS = spec.series.length;
  const panelW = Math.max(220, nS * 34 + 70);
  const plotH = 260;
  const top = 70;
  const left = 16;
  const width = left * 2 + panelW * spec.panels.length;
  const leg = legend(spec.series, left + 10, top + plotH + 58, width - 2 * left - 20);
  const height = top + plotH + 58 + leg.height + 10;
  const body = [];
  spec.panels.forEach((panel, pi) => {
    const x0 = left + pi * panelW + 58;
    const w = panelW - 70;
    const vmax = Math.max(0, ...panel.values.map((v) => (v ? (v.max ?? v.value) : 0)));
    const { max, step } = niceScale(vmax * 1.05);
    const y = (v) => top + plotH - (v / max) * plotH;
    body.push(
      `<text x="${f1(x0 + w / 2)}" y="${top - 12}" text-anchor="middle" font-weight="600">${esc(panel.title)}</text>`,
    );
    for (let t = 0; t <= max + 1e-9; t += step) {
      body.push(
        `<line x1="${x0}" x2="${x0 + w}" y1="${f1(y(t))}" y2="${f1(y(t))}" stroke="#e5e5e5"/>`,
        `<text x="${x0 - 6}" y="${f1(y(t) + 4)}" text-anchor="end" fill="#555">${fmtNum(t)}</text>`,
      );
    }
    body.push(
      `<line x1="${x0}" x2="${x0 + w}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`,
      `<text x="${x0 - 44}" y="${f1(top + plotH / 2)}" transform="rotate(-90 ${x0 - 44} ${f1(top + plotH / 2)})" text-anchor="middle" fill="#555">${esc(spec.unit)}</text>`,
    );
    const slot = w / nS;
    const bw = Math.min(26, slot * 0.75);
    panel.values.forEach((v, si) => {
      const cx = x0 + slot * si + slot / 2;
      if (!v || !Number.isFinite(v.value)) {
        body.push(`<text x="${f1(cx)}" y="${top + plotH - 4}" text-anchor="middle" fill="#aaa">–</text>`);
        return;
      }
      const label = `${spec.series[si].label}: ${fmtNum(v.value)} ${spec.unit}`;
      body.push(
        `<rect x="${f1(cx - bw / 2)}" y="${f1(y(v.value))}" width="${f1(bw)}" height="${f1(top + plotH - y(v.value))}" fill="${spec.series[si].color}"><title>${esc(label)}</title></rect>`,
      );
      if (v.min != null && v.max != null && v.max > v.min) {
        body.push(
          `<line x1="${f1(cx)}" x2="${f1(cx)}" y1="${f1(y(v.min))}" y2="${f1(y(v.max))}" stroke="#222"/>`,
          `<line x1="${f1(cx - 4)}" x2="${f1(cx + 4)}" y1="${f1(y(v.min))}" y2="${f1(y(v.min))}" stroke="#222"/>`,
          `<line x1="${f1(cx - 4)}" x2="${f1(cx + 4)}" y1="${f1(y(v.max))}" y2="${f1(y(v.max))}" stroke="#222"/>`,
        );
      }
      body.push(
        `<text x="${f1(cx)}" y="${f1(top + plotH + 14)}" text-anchor="middle" font-size="10" fill="#333">${fmtNum(v.value)}</text>`,
      );
    });
  });
  body.push(...leg.svg);
  return frame(width, height, body, spec.title, spec.subtitle);
}

/**
 * Lines over a log-scaled x axis (and a log y axis when the values span more than a decade).
 * @param {{title: string, subtitle?: string, xLabel: string, yLabel: string,
 *          series: {label: string, color: string, dash?: boolean, points: {x: number, y: number}[]}[]}} spec
 */
export function lineChart(spec) {
  const width = 760;
  const top = 60;
  const left = 78;
  const plotW = width - left - 40;
  const plotH = 340;
  const leg = legend(spec.series, left, top + plotH + 62, plotW);
  const height = top + plotH + 62 + leg.height + 10;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x)).filter((x) => x > 0);
  const ys = spec.series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite);
  const lx0 = Math.floor(Math.log10(Math.min(...xs, 10)));
  const lx1 = Math.ceil(Math.log10(Math.max(...xs, 10)));
  const X = (x) => left + ((Math.log10(x) - lx0) / Math.max(1, lx1 - lx0)) * plotW;
  let Y;
  const yTicks = [];
  // Log y when the values span more than a decade (O(n) backends next to O(1) ones).
  const ymin = Math.min(...ys.filter((y) => y > 0));
  const ymaxv = Math.max(...ys, 0);
  const logY = spec.logY ?? (ymin > 0 && ymaxv / ymin > 10);
  if (logY) {
    const ly0 = Math.floor(Math.log10(ymin));
    const ly1 = Math.ceil(Math.log10(ymaxv));
    Y = (y) => top + plotH - ((Math.log10(y) - ly0) / Math.max(1, ly1 - ly0)) * plotH;
    for (let e = ly0; e <= ly1; e++) for (const m of [1, 2, 5]) if (m * 10 ** e <= 10 ** ly1) yTicks.push(m * 10 ** e);
  } else {
    const { max, step } = niceScale(ymaxv * 1.1);
    Y = (y) => top + plotH - (y / max) * plotH;
    for (let t = 0; t <= max + 1e-9; t += step) yTicks.push(t);
  }
  const body = [];
  for (const t of yTicks) {
    body.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${f1(Y(t))}" y2="${f1(Y(t))}" stroke="#e5e5e5"/>`,
      `<text x="${left - 8}" y="${f1(Y(t) + 4)}" text-anchor="end" fill="#555">${fmtNum(t)}</text>`,
    );
  }
  for (let e = lx0; e <= lx1; e++) {
    const x = X(10 ** e);
    body.push(
      `<line x1="${f1(x)}" x2="${f1(x)}" y1="${top}" y2="${top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${f1(x)}" y="${top + plotH + 18}" text-anchor="middle" fill="#555">${(10 ** e).toLocaleString('en-US')}</text>`,
    );
  }
  body.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${left + plotW / 2}" y="${top + plotH + 40}" text-anchor="middle" fill="#333">${esc(spec.xLabel)}</text>`,
    `<text x="${left - 52}" y="${top + plotH / 2}" transform="rotate(-90 ${left - 52} ${top + plotH / 2})" text-anchor="middle" fill="#333">${esc(spec.yLabel + (logY ? ' (log scale)' : ''))}</text>`,
  );
  for (const s of spec.series) {
    const pts = s.points.filter((p) => p.x > 0 && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (!pts.length) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${f1(X(p.x))},${f1(Y(p.y))}`).join(' ');
    body.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dash ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const p of pts) {
      body.push(
        `<circle cx="${f1(X(p.x))}" cy="${f1(Y(p.y))}" r="4" fill="${s.color}"><title>${esc(`${s.label}, ${p.x.toLocaleString('en-US')} connections: ${fmtNum(p.y)}`)}</title></circle>`,
      );
    }
  }
  body.push(...leg.svg);
  return frame(width, height, body, spec.title, spec.subtitle);
}
