// A bar chart rendered to PNG: one bar group per category, with either several series side by
// side ('grouped': e.g. redis-server vs. Mu per command) or stacked on one another ('stacked':
// e.g. the phases of a failover per trial). Axes, ticks, grid, title, labels and a legend, in the
// same style as line-chart.ts.
import { BLACK, Canvas, type Rgb } from './canvas.js';
import { textHeight, textWidth } from './font.js';
import { PALETTE } from './line-chart.js';

export interface BarSeries {
  name: string;
  values: readonly number[]; // one per category (>= 0)
  color?: Rgb;
}

export interface BarChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: readonly string[];
  series: readonly BarSeries[];
  mode: 'grouped' | 'stacked';
  width?: number; // default 960
  height?: number; // default 600
  valueLabels?: boolean; // print each bar's value (grouped) or total (stacked) above it
  background?: Rgb;
}

const GRID: Rgb = [228, 228, 228];
const TEXT: Rgb = [30, 30, 30];
const FONT_SCALE = 2;
const TICK_LENGTH = 6;

function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

function decimalsFor(step: number): number {
  for (let d = 0; d < 8; d++) {
    if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-9) return d;
  }
  return 8;
}

/** Short human form of a value for labels: 1234567 → 1.23M, 0.0123 → 0.0123. */
export function compactNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${Number((v / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(3)));
}

function validate(spec: BarChartSpec): void {
  if (spec.categories.length === 0) throw new RangeError('bar chart: no categories');
  if (spec.series.length === 0) throw new RangeError('bar chart: no series');
  for (const s of spec.series) {
    if (s.values.length !== spec.categories.length) {
      throw new RangeError(`bar chart: series '${s.name}' has ${s.values.length} values for ` +
        `${spec.categories.length} categories`);
    }
    for (const v of s.values) {
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`bar chart: series '${s.name}' has a bad value ${v}`);
    }
  }
}

/** Renders the chart; returns the PNG file's bytes. */
export function renderBarChart(spec: BarChartSpec): Buffer {
  validate(spec);
  const width = spec.width ?? 960;
  const height = spec.height ?? 600;
  const canvas = new Canvas(width, height, spec.background);
  const n = spec.categories.length;
  const totals = spec.categories.map((_, i) => spec.series.reduce((sum, s) => sum + s.values[i]!, 0));
  const peak = spec.mode === 'stacked' ? Math.max(...totals) : Math.max(...spec.series.flatMap((s) => s.values));
  const top = peak > 0 ? peak * 1.1 : 1;
  const step = niceStep(top / 6);
  const yMax = Math.ceil(top / step - 1e-9) * step;
  const decimals = decimalsFor(step);
  const ticks: number[] = [];
  for (let k = 0; k * step <= yMax + step * 1e-6; k++) ticks.push(k * step);
  const labels = ticks.map((t) => (t >= 1e4 ? compactNumber(t) : t.toFixed(decimals)));

  const charHeight = textHeight(FONT_SCALE);
  const yTickWidth = Math.max(...labels.map((l) => textWidth(l, FONT_SCALE)));
  // Category labels: drawn every k-th when they would overlap.
  const left = 12 + charHeight + 12 + yTickWidth + TICK_LENGTH + 6;
  const right = width - 24;
  // Legend: one row of swatches under the title (never over the bars).
  const rowHeight = charHeight + 8;
  const swatch = 18;
  const itemWidths = spec.series.map((s) => swatch + 8 + textWidth(s.name, FONT_SCALE) + 24);
  const top0 = 16 + charHeight + 12 + rowHeight + 12;
  const bottom = height - (12 + charHeight + 14 + charHeight + TICK_LENGTH + 8);
  if (right - left < 50 || bottom - top0 < 50) {
    throw new RangeError(`bar chart: ${width}x${height} pixels leave no room for the plot area`);
  }
  const py = (v: number) => Math.round(bottom - (v / yMax) * (bottom - top0));

  ticks.forEach((t, i) => {
    const y = py(t);
    canvas.line(left, y, right, y, GRID);
    canvas.line(left - TICK_LENGTH, y, left, y, BLACK);
    const label = labels[i]!;
    canvas.text(left - TICK_LENGTH - 6 - textWidth(label, FONT_SCALE), y - Math.round(charHeight / 2) + 1, label,
      TEXT, FONT_SCALE);
  });

  const slot = (right - left) / n;
  const barArea = Math.max(1, slot * 0.75);
  const perBar = spec.mode === 'grouped' ? barArea / spec.series.length : barArea;
  const maxLabel = Math.max(...spec.categories.map((c) => textWidth(c, FONT_SCALE)));
  const every = Math.max(1, Math.ceil((maxLabel + 8) / slot));
  spec.categories.forEach((category, i) => {
    const x0 = left + slot * i + (slot - barArea) / 2;
    if (spec.mode === 'stacked') {
      let base = 0;
      spec.series.forEach((s, k) => {
        const v = s.values[i]!;
        if (v <= 0) return;
        const yTop = py(base + v);
        const yBottom = py(base);
        canvas.fillRect(Math.round(x0), yTop, Math.max(1, Math.round(perBar)), Math.max(1, yBottom - yTop),
          s.color ?? PALETTE[k % PALETTE.length]!);
        base += v;
      });
      if (spec.valueLabels) {
        const label = compactNumber(totals[i]!);
        canvas.textCentered(x0 + perBar / 2, py(totals[i]!) - charHeight - 4, label, TEXT, FONT_SCALE);
      }
    } else {
      spec.series.forEach((s, k) => {
        const v = s.values[i]!;
        const bx = Math.round(x0 + perBar * k);
        const yTop = py(v);
        canvas.fillRect(bx, yTop, Math.max(1, Math.round(perBar) - 2), Math.max(1, bottom - yTop),
          s.color ?? PALETTE[k % PALETTE.length]!);
        if (spec.valueLabels) {
          canvas.textCentered(bx + perBar / 2, yTop - charHeight - 4, compactNumber(v), TEXT, FONT_SCALE);
        }
      });
    }
    const cx = left + slot * i + slot / 2;
    canvas.line(Math.round(cx), bottom, Math.round(cx), bottom + TICK_LENGTH, BLACK);
    if (i % every === 0) canvas.textCentered(cx, bottom + TICK_LENGTH + 6, category, TEXT, FONT_SCALE);
  });
  canvas.line(left, top0, left, bottom, BLACK, 2);
  canvas.line(left, bottom, right, bottom, BLACK, 2);

  canvas.textCentered(width / 2, 16, spec.title, TEXT, FONT_SCALE);
  canvas.textCentered((left + right) / 2, height - 12 - charHeight, spec.xLabel, TEXT, FONT_SCALE);
  canvas.text(12, Math.round((top0 + bottom) / 2 + textWidth(spec.yLabel, FONT_SCALE) / 2), spec.yLabel, TEXT,
    FONT_SCALE, true);

  const order = spec.mode === 'stacked' ? [...spec.series.keys()] : [...spec.series.keys()];
  const legendWidth = itemWidths.reduce((a, b) => a + b, 0) - 24;
  let lx = Math.max(left, Math.round((left + right) / 2 - legendWidth / 2));
  const cy = 16 + charHeight + 12 + Math.round(rowHeight / 2);
  order.forEach((k) => {
    const s = spec.series[k]!;
    canvas.fillRect(lx, cy - Math.round(swatch / 2) + 2, swatch, swatch - 4, s.color ?? PALETTE[k % PALETTE.length]!);
    canvas.text(lx + swatch + 8, cy - Math.round(charHeight / 2) + 1, s.name, TEXT, FONT_SCALE);
    lx += itemWidths[k]!;
  });
  return canvas.toPng();
}
