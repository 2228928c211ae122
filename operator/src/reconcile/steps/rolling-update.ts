// Rolling update: pods whose spec hash differs from the current spec are replaced one at a time — followers first,
// lowest id first, the leader last — and only while every member is Ready and voting, so a quorum survives the one
// pod that is down. The replacement is created by the pods step without the bootstrap flag: it rejoins as a learner
// and catches up before it votes, which the next round waits for.
// The leader is replaced by deleting it: the engine fails over by itself in microseconds. (A graceful switchover
// first needs a switchover endpoint in the agent contract; until then this is the same path as a crash.)
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_ROLE } from '../../api/labels.js';
import { buildPod } from '../../builders/pod.js';
import { objectPath, RESOURCES } from '../../kube/paths.js';
import { isNotFound } from '../../kube/rest.js';
import { isPodReady, isTerminating, podSpecHashOf, replicaIdOf } from '../../status/pods.js';
import { requeueSoon, type ReconcileContext, type Step } from '../context.js';

export interface RolloutChoice {
  pod?: V1Pod;
  /** Why this pod, or why none now. */
  reason: string;
}

/** The next pod to replace, or none with the reason (pure; tested without a cluster). */
export function nextPodToReplace(ctx: Pick<ReconcileContext, 'effective' | 'owned' | 'probes' | 'deps'>): RolloutChoice {
  const n = ctx.effective.spec.replicas;
  const desiredHash = buildPod(ctx.effective, { replicaId: 0, bootstrap: false }, ctx.deps.settings.builder).specHash;
  const members = ctx.owned.pods.filter((p) => (replicaIdOf(p) ?? n) < n);
  const outdated = members.filter((p) => podSpecHashOf(p) !== desiredHash);
  if (outdated.length === 0) return { reason: 'every pod runs the current spec' };
  if (members.length < n || members.some(isTerminating)) return { reason: 'waiting for all members to exist' };
  const role = (p: V1Pod): string | undefined => {
    const probe = ctx.probes.get(p.metadata!.name!);
    return probe?.ok ? probe.status.role : undefined;
  };
  const notVoting = members.filter((p) => !isPodReady(p) || !['leader', 'follower'].includes(role(p) ?? ''));
  if (notVoting.length > 0) {
    return { reason: `waiting for ${notVoting.map((p) => p.metadata!.name).join(', ')} to be Ready and voting` };
  }
  const byId = (a: V1Pod, b: V1Pod) => (replicaIdOf(a) ?? 0) - (replicaIdOf(b) ?? 0);
  const followers = outdated.filter((p) => role(p) !== 'leader').sort(byId);
  if (followers.length > 0) {
    return { pod: followers[0]!, reason: `${outdated.length} of ${n} pods outdated; followers first` };
  }
  return { pod: outdated[0]!, reason: 'only the leader is outdated; replacing it last (the engine fails over)' };
}

export const rollingUpdateStep: Step = {
  name: 'rolling-update',
  mutates: true,
  async run(ctx) {
    if (ctx.effective.spec.updateStrategy.type !== 'RollingUpdate') return 'continue';
    const choice = nextPodToReplace(ctx);
    if (!choice.pod) {
      if (choice.reason.startsWith('waiting')) requeueSoon(ctx, 2000);
      return 'continue';
    }
    const pod = choice.pod;
    const role = pod.metadata?.labels?.[LABEL_ROLE] ?? 'member';
    try {
      await ctx.deps.client.delete(objectPath(RESOURCES.pods, ctx.cluster.metadata.namespace, pod.metadata!.name!), {}, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: pod.metadata!.uid },
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    await ctx.event({
      type: 'Normal',
      reason: 'RollingUpdate',
      message: `replacing ${pod.metadata!.name} (${role}) to apply the new spec: ${choice.reason}`,
    });
    requeueSoon(ctx);
    return 'stop';
  },
};
