// Nearest-rank percentile: always one of the samples, so a p99 over few samples is an observed value, not an
// interpolation between two.

export function percentile(samples: readonly number[], p: number): number | undefined {
  if (p <= 0 || p > 100) throw new RangeError(`percentile must be in (0, 100]: ${p}`);
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}
