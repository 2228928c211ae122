// A line chart of one or more series, rendered to PNG: axes with ticks and grid, a title, axis
// labels, markers at the data points and a legend. Generic, so every benchmark can reuse it
// (fabric WRITE latency today; replication latency, failover time… later).
import { BLACK, Canvas, type Rgb } from './canvas.js';
import { textHeight, textWidth } from './font.js';

export type AxisScale = 'linear' | 'log2' | 'log10';
export type Marker = 'square' | 'diamond' | 'circle';

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: readonly Point[];
  color?: Rgb;
  marker?: Marker;
  dashed?: boolean;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number; // pixels, default 960
  height?: number; // pixels, default 600
  xScale?: AxisScale; // default linear
  yFromZero?: boolean; // default true: the y axis starts at 0 (latencies); false: at the data
  background?: Rgb;
}

export const PALETTE: readonly Rgb[] = [
  [31, 119, 180], [230, 97, 1], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
];
const GRID: Rgb = [228, 228, 228];
const TEXT: Rgb = [30, 30, 30];
const FONT_SCALE = 2;
const TICK_LENGTH = 6;

interface Axis {
  scale: AxisScale;
  min: number; // in data units
  max: number;
  ticks: number[];
  labels: string[];
}

function transform(scale: AxisScale, v: number): number {
  if (scale === 'log2') return Math.log2(v);
  if (scale === 'log10') return Math.log10(v);
  return v;
}

function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

function decimalsFor(step: number): number {
  // Enough decimals that consecutive ticks differ (0.25 → 2, 0.5 → 1, 2 → 0).
  for (let d = 0; d < 8; d++) {
    if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-9) return d;
  }
  return 8;
}

function linearAxis(dataMin: number, dataMax: number, targetTicks: number): Axis {
  let min = dataMin;
  let max = dataMax;
  if (max - min < 1e-12) {
    max = min === 0 ? 1 : min + Math.abs(min) * 0.5;
    if (min !== 0) min -= Math.abs(min) * 0.5;
  }
  const step = niceStep((max - min) / targetTicks);
  min = Math.floor(min / step + 1e-9) * step;
  max = Math.ceil(max / step - 1e-9) * step;
  const decimals = decimalsFor(step);
  const ticks: number[] = [];
  for (let k = 0; min + k * step <= max + step * 1e-6; k++) ticks.push(min + k * step);
  return { scale: 'linear', min, max, ticks, labels: ticks.map((t) => t.toFixed(decimals)) };
}

function logAxis(scale: 'log2' | 'log10', dataMin: number, dataMax: number, maxTicks: number): Axis {
  const base = scale === 'log2' ? 2 : 10;
  const lo = Math.floor(transform(scale, dataMin) + 1e-9);
  let hi = Math.ceil(transform(scale, dataMax) - 1e-9);
  if (hi === lo) hi = lo + 1;
  const every = Math.max(1, Math.ceil((hi - lo + 1) / maxTicks));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e += every) ticks.push(base ** e);
  const label = (v: number) => (v >= 1e6 || v < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(6))));
  // A quarter of a step of padding on each side keeps end points off the frame.
  const pad = 0.25;
  return { scale, min: base ** (lo - pad), max: base ** (hi + pad), ticks, labels: ticks.map(label) };
}

function validate(spec: LineChartSpec): void {
  if (spec.series.length === 0) throw new RangeError('line chart: no series to plot');
  for (const s of spec.series) {
    if (s.points.length === 0) throw new RangeError(`line chart: series '${s.name}' has no points`);
    for (const p of s.points) {
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
        throw new RangeError(`line chart: series '${s.name}' has a non-finite point (${p.x}, ${p.y})`);
      }
      if (spec.xScale !== undefined && spec.xScale !== 'linear' && p.x <= 0) {
        throw new RangeError(`line chart: series '${s.name}' has x = ${p.x}, not allowed on a ${spec.xScale} axis`);
      }
    }
  }
}

function drawMarker(canvas: Canvas, x: number, y: number, marker: Marker, color: Rgb): void {
  const r = 4;
  if (marker === 'square') {
    canvas.fillRect(x - r, y - r, 2 * r + 1, 2 * r + 1, color);
    return;
  }
  for (let dy = -r - 1; dy <= r + 1; dy++) {
    for (let dx = -r - 1; dx <= r + 1; dx++) {
      const inside = marker === 'diamond' ? Math.abs(dx) + Math.abs(dy) <= r + 1 : dx * dx + dy * dy <= (r + 0.5) ** 2;
      if (inside) canvas.setPixel(x + dx, y + dy, color);
    }
  }
}

/** Renders the chart; returns the PNG file's bytes. */
export function renderLineChart(spec: LineChartSpec): Buffer {
  validate(spec);
  const width = spec.width ?? 960;
  const height = spec.height ?? 600;
  const canvas = new Canvas(width, height, spec.background);
  const xScale = spec.xScale ?? 'linear';
  const points = spec.series.flatMap((s) => s.points);
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);

  const xAxis = xScale === 'linear'
    ? linearAxis(Math.min(...xs), Math.max(...xs), 8)
    : logAxis(xScale, Math.min(...xs), Math.max(...xs), 12);
  const yFloor = spec.yFromZero === false ? Math.min(...ys) : Math.min(0, ...ys);
  const yAxis = linearAxis(yFloor, Math.max(...ys) * 1.05, 6);

  // Layout: title on top, y label and tick labels on the left, x tick labels and label below.
  const charHeight = textHeight(FONT_SCALE);
  const yTickWidth = Math.max(...yAxis.labels.map((l) => textWidth(l, FONT_SCALE)));
  const left = 12 + charHeight + 12 + yTickWidth + TICK_LENGTH + 6;
  const right = width - 24;
  const top = 16 + charHeight + 20;
  const bottom = height - (12 + charHeight + 14 + charHeight + TICK_LENGTH + 8);
  if (right - left < 50 || bottom - top < 50) {
    throw new RangeError(`line chart: ${width}x${height} pixels leave no room for the plot area`);
  }
  const px = (x: number) => {
    const t = (transform(xScale, x) - transform(xScale, xAxis.min)) /
      (transform(xScale, xAxis.max) - transform(xScale, xAxis.min));
    return Math.round(left + t * (right - left));
  };
  const py = (y: number) => Math.round(bottom - ((y - yAxis.min) / (yAxis.max - yAxis.min)) * (bottom - top));

  // Grid, ticks and tick labels.
  xAxis.ticks.forEach((t, i) => {
    const x = px(t);
    canvas.line(x, top, x, bottom, GRID);
    canvas.line(x, bottom, x, bottom + TICK_LENGTH, BLACK);
    canvas.textCentered(x, bottom + TICK_LENGTH + 6, xAxis.labels[i]!, TEXT, FONT_SCALE);
  });
  yAxis.ticks.forEach((t, i) => {
    const y = py(t);
    canvas.line(left, y, right, y, GRID);
    canvas.line(left - TICK_LENGTH, y, left, y, BLACK);
    const label = yAxis.labels[i]!;
    canvas.text(left - TICK_LENGTH - 6 - textWidth(label, FONT_SCALE), y - Math.round(charHeight / 2) + 1,
      label, TEXT, FONT_SCALE);
  });
  canvas.line(left, top, left, bottom, BLACK, 2);
  canvas.line(left, bottom, right, bottom, BLACK, 2);

  // Title and axis labels.
  canvas.textCentered(width / 2, 16, spec.title, TEXT, FONT_SCALE);
  canvas.textCentered((left + right) / 2, height - 12 - charHeight, spec.xLabel, TEXT, FONT_SCALE);
  canvas.text(12, Math.round((top + bottom) / 2 + textWidth(spec.yLabel, FONT_SCALE) / 2), spec.yLabel, TEXT,
    FONT_SCALE, true);

  // Series: lines through the points in x order, then markers on top.
  spec.series.forEach((s, index) => {
    const color = s.color ?? PALETTE[index % PALETTE.length]!;
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    for (let k = 1; k < sorted.length; k++) {
      canvas.line(px(sorted[k - 1]!.x), py(sorted[k - 1]!.y), px(sorted[k]!.x), py(sorted[k]!.y), color, 2,
        s.dashed ? [8, 5] : undefined);
    }
    for (const p of sorted) drawMarker(canvas, px(p.x), py(p.y), s.marker ?? 'square', color);
  });

  // Legend: top-left corner of the plot area.
  const rowHeight = charHeight + 8;
  const sample = 36;
  const legendWidth = 12 + sample + 10 + Math.max(...spec.series.map((s) => textWidth(s.name, FONT_SCALE))) + 12;
  const legendHeight = 8 + rowHeight * spec.series.length;
  const lx = left + 14;
  const ly = top + 10;
  canvas.fillRect(lx, ly, legendWidth, legendHeight, spec.background ?? [255, 255, 255]);
  canvas.strokeRect(lx, ly, legendWidth, legendHeight, [160, 160, 160]);
  spec.series.forEach((s, index) => {
    const color = s.color ?? PALETTE[index % PALETTE.length]!;
    const cy = ly + 4 + rowHeight * index + Math.round(rowHeight / 2);
    canvas.line(lx + 12, cy, lx + 12 + sample, cy, color, 2, s.dashed ? [8, 5] : undefined);
    drawMarker(canvas, lx + 12 + sample / 2, cy, s.marker ?? 'square', color);
    canvas.text(lx + 12 + sample + 10, cy - Math.round(charHeight / 2) + 1, s.name, TEXT, FONT_SCALE);
  });

  return canvas.toPng();
}
