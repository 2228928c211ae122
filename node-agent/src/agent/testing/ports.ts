// Ports for tests: below 32768 (Linux hands out ephemeral ports above it, which clash), spread by process id so that
// jest workers and concurrent runs rarely meet. Each slot (0..3) holds a 3-replica local cluster (10 ports each).
export function testBasePort(slot: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot > 3) throw new RangeError(`slot must be 0..3, got ${slot}`);
  return 20000 + (process.pid % 100) * 120 + slot * 30;
}
