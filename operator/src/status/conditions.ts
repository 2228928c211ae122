// metav1.Condition bookkeeping: lastTransitionTime moves only when status flips, as kubectl wait and humans expect.
import type { Condition } from '../api/types.js';

export const CONDITION_TYPES = ['Ready', 'Available', 'Progressing', 'Degraded', 'ReconciliationPaused'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface ConditionValue {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** The new conditions in CONDITION_TYPES order, keeping each previous lastTransitionTime whose status held. */
export function withTransitions(
  next: readonly ConditionValue[],
  previous: readonly Condition[] | undefined,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const before = new Map((previous ?? []).map((c) => [c.type, c]));
  const order = (t: string): number => CONDITION_TYPES.indexOf(t as ConditionType);
  return [...next]
    .sort((a, b) => order(a.type) - order(b.type))
    .map((c) => {
      const old = before.get(c.type);
      const lastTransitionTime = old && old.status === c.status ? old.lastTransitionTime : now.toISOString();
      return {
        ...c,
        lastTransitionTime,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
      };
    });
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
