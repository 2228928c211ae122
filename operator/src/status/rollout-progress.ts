// How far the pods are from the spec: missing replica ids, pods beyond spec.replicas, pods with an outdated spec.
import type { V1Pod } from '@kubernetes/client-node';
import type { MemberStatus, MuCluster } from '../api/types.js';
import { podName } from '../builders/names.js';
import { podSpecHashOf, replicaIdOf } from './pods.js';

export type ProgressReason = 'Creating' | 'ScalingUp' | 'ScalingDown' | 'ReplacingMembers' | 'RollingUpdate';

export interface RolloutProgress {
  missing: number[];
  extra: string[];
  outdated: string[];
  /** The dominant activity, when there is one; a value with its reason (habit 13). */
  activity?: { reason: ProgressReason; message: string };
}

export function rolloutProgress(
  cluster: MuCluster,
  pods: readonly V1Pod[],
  desiredPodSpecHash: string,
  previousMembers: readonly MemberStatus[] | undefined,
  everLed: boolean,
): RolloutProgress {
  const n = cluster.spec.replicas;
  const byId = new Map<number, V1Pod>();
  for (const pod of pods) {
    const id = replicaIdOf(pod);
    if (id !== undefined) byId.set(id, pod);
  }
  const missing = [...Array(n).keys()].filter((id) => !byId.has(id));
  const extra = [...byId.keys()]
    .filter((id) => id >= n)
    .sort((a, b) => a - b)
    .map((id) => podName(cluster, id));
  const outdated = [...byId.entries()]
    .filter(([id, pod]) => id < n && podSpecHashOf(pod) !== desiredPodSpecHash)
    .sort(([a], [b]) => a - b)
    .map(([id]) => podName(cluster, id));
  const progress: RolloutProgress = { missing, extra, outdated };

  // A missing member that answered before was lost and is being replaced; one that never ran is new.
  const ranBefore = new Set((previousMembers ?? []).filter((m) => m.lastSeen !== undefined).map((m) => m.id));
  const replaced = missing.filter((id) => ranBefore.has(id));
  const added = missing.filter((id) => !ranBefore.has(id));
  const names = (ids: number[]): string => ids.map((id) => podName(cluster, id)).join(', ');
  if (added.length > 0 && !everLed) {
    progress.activity = { reason: 'Creating', message: `creating ${names(added)}` };
  } else if (added.length > 0) {
    progress.activity = { reason: 'ScalingUp', message: `scaling up to ${n}: adding ${names(added)}` };
  } else if (extra.length > 0) {
    progress.activity = { reason: 'ScalingDown', message: `scaling down to ${n}: removing ${extra.join(', ')}` };
  } else if (replaced.length > 0) {
    progress.activity = { reason: 'ReplacingMembers', message: `replacing lost ${names(replaced)}` };
  } else if (outdated.length > 0) {
    progress.activity = {
      reason: 'RollingUpdate',
      message: `${outdated.length} of ${n} pods run an outdated spec: ${outdated.join(', ')}`,
    };
  }
  return progress;
}
