// What status computation reads from a replica pod.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_POD_SPEC_HASH, LABEL_REPLICA_ID } from '../api/labels.js';

/** The replica id label as a number, or undefined when missing or malformed (such a pod is not ours to count). */
export function replicaIdOf(pod: V1Pod): number | undefined {
  const raw = pod.metadata?.labels?.[LABEL_REPLICA_ID];
  if (raw === undefined || !/^(0|[1-9][0-9]*)$/.test(raw)) return undefined;
  return Number(raw);
}

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function isTerminating(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined;
}

export function podSpecHashOf(pod: V1Pod): string | undefined {
  return pod.metadata?.annotations?.[ANNOTATION_POD_SPEC_HASH];
}

/** Why a pod is not Ready, in a few words, from its phase and container states. */
export function notReadyReason(pod: V1Pod): string {
  if (isTerminating(pod)) return 'pod is terminating';
  const phase = pod.status?.phase ?? 'Pending';
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False')
    return `pod is not scheduled: ${scheduled.message ?? scheduled.reason ?? 'unschedulable'}`;
  for (const cs of pod.status?.containerStatuses ?? []) {
    const waiting = cs.state?.waiting;
    if (waiting?.reason) return `container ${cs.name} is waiting: ${waiting.reason}`;
  }
  return phase === 'Running' ? 'pod is not Ready' : `pod is ${phase}`;
}
