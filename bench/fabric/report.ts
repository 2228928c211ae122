// Presenting the fabric benchmark (native/tools/bench_fabric.h): a table for the terminal, the JSON
// document, and the PNG plot of WRITE round-trip latency against payload size.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, extname } from 'node:path';

import type { FabricBenchResults, FabricWritePoint } from '../../node-agent/src/native/engine.js';
import { renderLineChart } from '../plot/line-chart.js';

function unit(results: FabricBenchResults): string {
  return results.time_base === 'virtual' ? 'virtual µs' : 'µs';
}

function fixed(v: number): string {
  return v >= 1000 ? v.toFixed(0) : v >= 100 ? v.toFixed(1) : v.toFixed(2);
}

function table(header: string[], rows: string[][], alignLeft: number): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  return [line(header), ...rows.map(line)];
}

/** The human summary printed by `mu bench fabric`. */
export function formatFabricTable(results: FabricBenchResults): string {
  const u = unit(results);
  const lines: string[] = [];
  const clock = results.time_base === 'virtual'
    ? 'virtual time of the simulator (not a machine\'s latency)'
    : 'wall-clock time';
  lines.push(`fabric ${results.fabric}: ${clock}; ${results.iterations} WRITEs per size after ` +
    `${results.warmup_iterations} warm-up; max_inline ${results.max_inline} B`);
  lines.push('', `one-sided WRITE round trip (signaled, post → completion), ${u}:`);
  const sim = results.time_base === 'virtual';
  const header = ['payload B', 'inline', 'p50', 'p99', 'mean', 'min', 'max'];
  if (sim) header.push('emulator ns/op');
  const row = (p: FabricWritePoint) => {
    const r = [String(p.payload_bytes), p.inline ? 'yes' : 'no', fixed(p.p50_us), fixed(p.p99_us), fixed(p.mean_us),
      fixed(p.min_us), fixed(p.max_us)];
    if (sim) r.push(p.wall_ns_per_op.toFixed(0));
    return r;
  };
  lines.push(...table(header, results.points.map(row), 0));
  lines.push(`  headline ${results.write_rtt.payload_bytes} B: p50 ${fixed(results.write_rtt.p50_us)}, ` +
    `p99 ${fixed(results.write_rtt.p99_us)}, mean ${fixed(results.write_rtt.mean_us)} ${u}`);
  if (results.permission_changes.length > 0) {
    lines.push('', `permission change on the responder (${results.permission_iterations} each), ${u}:`);
    lines.push(...table(['path', 'mechanism', 'step', 'p50', 'p99', 'mean', 'max'],
      results.permission_changes.map((c) => [c.path, c.mechanism, c.step, fixed(c.p50_us), fixed(c.p99_us),
        fixed(c.mean_us), fixed(c.max_us)]), 3));
  }
  return `${lines.join('\n')}\n`;
}

/** The PNG beside a JSON file: FILE.json → FILE.png (FILE → FILE.png). */
export function pngPathFor(jsonPath: string): string {
  return extname(jsonPath).toLowerCase() === '.json' ? `${jsonPath.slice(0, -5)}.png` : `${jsonPath}.png`;
}

/** p50 and p99 against payload size, log-x. */
export function renderFabricPlot(results: FabricBenchResults): Buffer {
  const clock = results.time_base === 'virtual' ? 'virtual time' : 'wall-clock';
  const points = [...results.points].sort((a, b) => a.payload_bytes - b.payload_bytes);
  return renderLineChart({
    title: `fabric ${results.fabric}: one-sided WRITE round trip (${clock}, ${results.iterations} per size)`,
    xLabel: 'payload (bytes, log scale)',
    yLabel: `latency (${unit(results)})`,
    xScale: 'log2',
    series: [
      { name: 'p50', points: points.map((p) => ({ x: p.payload_bytes, y: p.p50_us })), marker: 'square' },
      { name: 'p99', points: points.map((p) => ({ x: p.payload_bytes, y: p.p99_us })), marker: 'diamond', dashed: true },
    ],
  });
}

export interface FabricBenchDocument extends FabricBenchResults {
  generated_at: string;
  environment: { engine_version: string; node: string; platform: string; kernel: string; cpu: string; cpus: number };
}

export function fabricBenchDocument(results: FabricBenchResults, engineVersion: string,
  now: Date = new Date()): FabricBenchDocument {
  const cpu = cpus();
  return {
    ...results,
    generated_at: now.toISOString(),
    environment: {
      engine_version: engineVersion,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      kernel: release(),
      cpu: cpu[0]?.model ?? 'unknown',
      cpus: cpu.length,
    },
  };
}

/** Writes the JSON document to jsonPath and the plot beside it; returns both paths. */
export function writeFabricBenchOutputs(document: FabricBenchDocument, jsonPath: string): { json: string; png: string } {
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(document, null, 2)}\n`);
  const png = pngPathFor(jsonPath);
  writeFileSync(png, renderFabricPlot(document));
  return { json: jsonPath, png };
}
