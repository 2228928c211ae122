import pngjs from 'pngjs';

import { type BarChartSpec, compactNumber, renderBarChart } from './bar-chart.js';
import { PALETTE } from './line-chart.js';

function countColor(png: { data: Buffer }, rgb: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (png.data[i] === rgb[0] && png.data[i + 1] === rgb[1] && png.data[i + 2] === rgb[2]) n++;
  }
  return n;
}

const grouped: BarChartSpec = {
  title: 'ops/s', xLabel: 'command', yLabel: 'ops/s', mode: 'grouped', width: 640, height: 400, valueLabels: true,
  categories: ['SET', 'GET'],
  series: [{ name: 'redis-server', values: [60_000, 62_000] }, { name: 'Mu leader', values: [40_000, 41_000] }],
};

describe('renderBarChart', () => {
  test('grouped: a valid PNG of the requested size, both series drawn', () => {
    const png = pngjs.PNG.sync.read(renderBarChart(grouped));
    expect([png.width, png.height]).toEqual([640, 400]);
    expect(countColor(png, PALETTE[0]!)).toBeGreaterThan(2000);
    expect(countColor(png, PALETTE[1]!)).toBeGreaterThan(1000);
  });

  test('stacked: bars grow with their segments; zero segments are allowed', () => {
    const spec: BarChartSpec = {
      title: 'failover', xLabel: 'trial', yLabel: 'µs', mode: 'stacked',
      categories: ['0', '1', '2'],
      series: [{ name: 'detection', values: [10, 20, 30] }, { name: 'switch', values: [5, 0, 5] }],
    };
    const png = pngjs.PNG.sync.read(renderBarChart(spec));
    expect([png.width, png.height]).toEqual([960, 600]);
    expect(countColor(png, PALETTE[0]!)).toBeGreaterThan(countColor(png, PALETTE[1]!));
  });

  test('is deterministic', () => {
    expect(renderBarChart(grouped).equals(renderBarChart(grouped))).toBe(true);
  });

  test('rejects malformed input', () => {
    expect(() => renderBarChart({ ...grouped, categories: [] })).toThrow(/no categories/);
    expect(() => renderBarChart({ ...grouped, series: [] })).toThrow(/no series/);
    expect(() => renderBarChart({ ...grouped, series: [{ name: 'x', values: [1] }] })).toThrow(/1 values for 2 categories/);
    expect(() => renderBarChart({ ...grouped, series: [{ name: 'x', values: [1, -1] }] })).toThrow(/bad value/);
    expect(() => renderBarChart({ ...grouped, series: [{ name: 'x', values: [1, Number.NaN] }] })).toThrow(/bad value/);
    expect(() => renderBarChart({ ...grouped, width: 60 })).toThrow(/no room/);
  });

  test('all-zero values still render', () => {
    const png = pngjs.PNG.sync.read(renderBarChart({ ...grouped, series: [{ name: 'x', values: [0, 0] }] }));
    expect(png.width).toBe(640);
  });
});

test('compactNumber', () => {
  expect(compactNumber(1_234_567)).toBe('1.23M');
  expect(compactNumber(45_000)).toBe('45k');
  expect(compactNumber(250)).toBe('250');
  expect(compactNumber(0.0123)).toBe('0.0123');
});
