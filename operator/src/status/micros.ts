// Microsecond timestamps ↔ RFC 3339 strings with microsecond precision (status keeps failover times exact).

/** 1736000000123456 → "2025-01-04T14:13:20.123456Z". */
export function microsToIso(micros: number): string {
  if (!Number.isFinite(micros) || micros < 0) throw new RangeError(`not an epoch time in microseconds: ${micros}`);
  const whole = Math.floor(micros);
  const seconds = Math.floor(whole / 1e6);
  const fraction = String(whole - seconds * 1e6).padStart(6, '0');
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

/** Inverse of microsToIso; accepts any RFC 3339 time (fraction of 0-9 digits, any offset). */
export function isoToMicros(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not an RFC 3339 time: ${iso}`);
  const fraction = /\.(\d+)/.exec(iso)?.[1] ?? '';
  const micros = Number(fraction.padEnd(6, '0').slice(0, 6));
  return Math.floor(ms / 1000) * 1e6 + micros;
}
