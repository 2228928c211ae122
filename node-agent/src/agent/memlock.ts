// The verbs fabric registers (pins) the log and its helper regions with the NIC. The kernel refuses to pin more than
// RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK (the operator adds it to the pod). Checked before start-up so
// that a pod fails with a message saying what to change instead of an opaque ibv_reg_mr error.
import { readFileSync } from 'node:fs';

import { MAX_REPLICAS } from './settings.js';

const CAP_IPC_LOCK = 14n;

export interface MemlockLimit {
  /** Bytes, or Infinity for "unlimited". */
  soft: number;
  hard: number;
}

/** Parses the "Max locked memory" line of /proc/<pid>/limits. */
export function parseMemlockLimit(limitsText: string): MemlockLimit | undefined {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max locked memory'));
  if (!line) return undefined;
  const fields = line.slice('Max locked memory'.length).trim().split(/\s+/);
  const value = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s));
  const soft = value(fields[0]);
  const hard = value(fields[1]);
  if (Number.isNaN(soft) || Number.isNaN(hard)) return undefined;
  return { soft, hard };
}

/** Whether CapEff in /proc/<pid>/status includes CAP_IPC_LOCK. */
export function hasIpcLock(statusText: string): boolean {
  const line = statusText.split('\n').find((l) => l.startsWith('CapEff:'));
  if (!line) return false;
  try {
    return ((BigInt(`0x${line.slice('CapEff:'.length).trim()}`) >> CAP_IPC_LOCK) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * About what the engine pins on the verbs fabric: the log ring plus its header page, the background region, scratch
 * space for one entry per peer, and the queue memory of 2 QPs per peer and 2 CQs (rounded up generously).
 */
export function pinnedBytesEstimate(logSizeBytes: number, maxEntryBytes: number): number {
  const queues = 4 << 20;
  return logSizeBytes + 4096 + (64 << 10) + 2 * maxEntryBytes * MAX_REPLICAS + queues;
}

export type MemlockVerdict =
  | { ok: true; reason: 'ipc-lock' | 'limit' | 'unknown'; limit?: MemlockLimit; neededBytes: number }
  | { ok: false; code: 'MemlockTooLow'; message: string; limit: MemlockLimit; neededBytes: number };

const mib = (n: number): string => (n === Infinity ? 'unlimited' : `${(n / (1 << 20)).toFixed(1)} MiB`);

export function checkMemlock(neededBytes: number, io: { limits?: string; status?: string } = {}): MemlockVerdict {
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  const status = io.status ?? read('/proc/self/status') ?? '';
  if (hasIpcLock(status)) return { ok: true, reason: 'ipc-lock', neededBytes };
  const limit = parseMemlockLimit(io.limits ?? read('/proc/self/limits') ?? '');
  if (!limit) return { ok: true, reason: 'unknown', neededBytes };
  if (limit.soft >= neededBytes) return { ok: true, reason: 'limit', limit, neededBytes };
  return {
    ok: false,
    code: 'MemlockTooLow',
    limit,
    neededBytes,
    message: `MemlockTooLow: the verbs fabric pins about ${mib(neededBytes)} (logSizeBytes plus queues) but ` +
      `RLIMIT_MEMLOCK is ${mib(limit.soft)} (hard ${mib(limit.hard)}) and the process lacks CAP_IPC_LOCK; grant ` +
      'IPC_LOCK (the operator does), raise the limit (ulimit -l / the runtime\'s memlock), or lower logSizeBytes',
  };
}
