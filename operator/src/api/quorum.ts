// Majority arithmetic for a Mu cluster of n replicas. Mu needs a majority for permission switches and commits;
// the quorum formula must be right for every n, even ones the schema forbids (paper pitfall: wrong for even sizes).

/** Smallest number of replicas that is more than half of n. */
export function majority(replicas: number): number {
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new RangeError(`replicas must be a positive integer: ${replicas}`);
  return Math.floor(replicas / 2) + 1;
}

/** Failures n replicas survive while a majority remains: floor((n-1)/2). */
export function faultTolerance(replicas: number): number {
  return replicas - majority(replicas);
}
