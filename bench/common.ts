// Shared by the benchmark reports: number formatting, text tables, the environment block of a
// result document, and writing JSON + PNG files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, extname } from 'node:path';

export function fixed(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : v.toFixed(2);
}

/** A text table: the first `alignLeft` columns left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][], alignLeft = 1): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

export interface Environment {
  engine_version: string;
  node: string;
  platform: string;
  kernel: string;
  cpu: string;
  cpus: number;
  loadavg_1m: number;
}

export function environment(engineVersion: string): Environment {
  const cpu = cpus();
  return {
    engine_version: engineVersion,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    cpu: cpu[0]?.model ?? 'unknown',
    cpus: cpu.length,
    loadavg_1m: Number(loadavg()[0]!.toFixed(2)),
  };
}

/** FILE.json → FILE<suffix>.png (FILE → FILE<suffix>.png). */
export function pngPath(jsonPath: string, suffix = ''): string {
  const base = extname(jsonPath).toLowerCase() === '.json' ? jsonPath.slice(0, -5) : jsonPath;
  return `${base}${suffix}.png`;
}

/** Writes the document and the named PNGs (suffix → bytes); returns the paths written. */
export function writeOutputs(document: unknown, jsonPath: string,
  pngs: readonly { suffix: string; bytes: Buffer }[]): { json: string; pngs: string[] } {
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(document, null, 2)}\n`);
  const written: string[] = [];
  for (const p of pngs) {
    const path = pngPath(jsonPath, p.suffix);
    writeFileSync(path, p.bytes);
    written.push(path);
  }
  return { json: jsonPath, pngs: written };
}
