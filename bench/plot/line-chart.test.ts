import pngjs from 'pngjs';

import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph, hasGlyph } from './font.js';
import { PALETTE, renderLineChart, type LineChartSpec } from './line-chart.js';

const sizes = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
const spec: LineChartSpec = {
  title: 'WRITE round trip',
  xLabel: 'payload (bytes)',
  yLabel: 'latency (µs)',
  xScale: 'log2',
  width: 640,
  height: 400,
  series: [
    { name: 'p50', points: sizes.map((x, i) => ({ x, y: 10 + i })) },
    { name: 'p99', points: sizes.map((x, i) => ({ x, y: 30 + 2 * i })), dashed: true, marker: 'diamond' },
  ],
};

function countColor(png: { data: Buffer }, rgb: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (png.data[i] === rgb[0] && png.data[i + 1] === rgb[1] && png.data[i + 2] === rgb[2]) n++;
  }
  return n;
}

describe('renderLineChart', () => {
  test('produces a valid PNG of the requested size with both series drawn', () => {
    const bytes = renderLineChart(spec);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const png = pngjs.PNG.sync.read(bytes);
    expect(png.width).toBe(640);
    expect(png.height).toBe(400);
    const total = png.width * png.height;
    const background = countColor(png, [255, 255, 255]);
    expect(total - background).toBeGreaterThan(total * 0.02); // axes, grid, text, lines
    expect(countColor(png, PALETTE[0]!)).toBeGreaterThan(200); // p50 line and markers
    expect(countColor(png, PALETTE[1]!)).toBeGreaterThan(200); // p99 line and markers
    expect(countColor(png, [0, 0, 0])).toBeGreaterThan(500); // the axes
  });

  test('is deterministic', () => {
    expect(renderLineChart(spec).equals(renderLineChart(spec))).toBe(true);
  });

  test('a higher series is drawn above a lower one', () => {
    const png = pngjs.PNG.sync.read(renderLineChart(spec));
    const meanRow = (rgb: readonly number[]) => {
      let sum = 0;
      let n = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        if (png.data[i] === rgb[0] && png.data[i + 1] === rgb[1] && png.data[i + 2] === rgb[2]) {
          sum += Math.floor(i / 4 / png.width);
          n++;
        }
      }
      return sum / n;
    };
    // Legend swatches sit at the top for both; the lines dominate the average.
    expect(meanRow(PALETTE[1]!)).toBeLessThan(meanRow(PALETTE[0]!));
  });

  test('rejects what it cannot draw, naming the series', () => {
    expect(() => renderLineChart({ ...spec, series: [] })).toThrow(/no series/);
    expect(() => renderLineChart({ ...spec, series: [{ name: 'bad', points: [{ x: 0, y: 1 }] }] }))
      .toThrow(/series 'bad' has x = 0, not allowed on a log2 axis/);
    expect(() => renderLineChart({ ...spec, series: [{ name: 'nan', points: [{ x: 1, y: Number.NaN }] }] }))
      .toThrow(/series 'nan' has a non-finite point/);
    expect(() => renderLineChart({ ...spec, width: 60, height: 40 })).toThrow(/no room/);
  });

  test('linear axes and a single point work', () => {
    const png = pngjs.PNG.sync.read(renderLineChart({
      title: 't', xLabel: 'x', yLabel: 'y', width: 300, height: 200,
      series: [{ name: 'one', points: [{ x: 5, y: 5 }] }],
    }));
    expect(png.width).toBe(300);
    expect(countColor(png, PALETTE[0]!)).toBeGreaterThan(50);
  });
});

describe('bitmap font', () => {
  test('covers printable ASCII and the µ of latency labels', () => {
    for (let c = 0x20; c < 0x7f; c++) expect(hasGlyph(String.fromCharCode(c))).toBe(true);
    expect(hasGlyph('µ')).toBe(true);
  });

  test('glyphs have the declared size and distinct shapes', () => {
    const seen = new Map<string, string>();
    for (let c = 0x21; c < 0x7f; c++) {
      const ch = String.fromCharCode(c);
      const g = glyph(ch);
      expect(g).toHaveLength(GLYPH_HEIGHT);
      for (const row of g) expect(row).toHaveLength(GLYPH_WIDTH);
      const key = g.map((row) => row.map((b) => (b ? '#' : '.')).join('')).join('/');
      expect(seen.get(key)).toBeUndefined();
      seen.set(key, ch);
    }
  });
});
