// Rolling update: pods whose spec hash differs from the current spec are replaced one at a time — followers first,
// lowest id first, the leader last — and only while every member is Ready and voting, so a quorum survives the one
// pod that is down. The replacement is created by the pods step without the bootstrap flag: it rejoins as a learner
// and catches up before it votes, which the next round waits for.
// The leader goes last and gracefully: the operator asks its agent to hand leadership to the lowest-id follower
// (POST /switchover; the engine moves leadership, the operator never elects), marks the pod with when it asked, and
// replaces the pod once it follows. An agent without the endpoint, or a handover that has not happened within
// HANDOVER_TIMEOUT_MS, falls back to deleting the leader: the engine fails over by itself, as after a crash.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_HANDOVER_REQUESTED_AT, ANNOTATION_HANDOVER_TO, LABEL_ROLE } from '../../api/labels.js';
import { buildPod } from '../../builders/pod.js';
import { objectPath, RESOURCES } from '../../kube/paths.js';
import { isNotFound } from '../../kube/rest.js';
import { isPodReady, isTerminating, podSpecHashOf, replicaIdOf } from '../../status/pods.js';
import { requeueSoon, type ReconcileContext, type Step } from '../context.js';

/** How long a requested handover may take before the leader is replaced anyway. */
export const HANDOVER_TIMEOUT_MS = 15_000;

export interface RolloutChoice {
  pod?: V1Pod;
  /** Set when `pod` leads: the member to hand leadership to before replacing it. */
  handOverTo?: V1Pod;
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
  const successor = members.filter((p) => role(p) === 'follower').sort(byId)[0];
  return { pod: outdated[0]!, handOverTo: successor, reason: 'only the leader is outdated; replacing it last' };
}

type Handover = { action: 'wait'; reason?: string } | { action: 'replace'; reason: string };

/**
 * Before the leader is deleted: ask it to hand over and wait (the next rounds find it a follower), or give up on the
 * handover and replace it anyway. Transient refusals (409: the target is not caught up yet, 503, no answer) are
 * retried until the timeout, counted from the first attempt.
 */
async function handOver(ctx: ReconcileContext, leader: V1Pod, successor: V1Pod): Promise<Handover> {
  const now = ctx.deps.now().getTime();
  const askedAt = Date.parse(leader.metadata?.annotations?.[ANNOTATION_HANDOVER_REQUESTED_AT] ?? '');
  if (Number.isFinite(askedAt) && now - askedAt >= HANDOVER_TIMEOUT_MS) {
    return {
      action: 'replace',
      reason: `leadership did not move to ${successor.metadata!.name} within ${HANDOVER_TIMEOUT_MS / 1000} s of asking; the engine fails over`,
    };
  }
  // Accepted once: the engine moves leadership on its own from there, so asking again would only repeat it.
  if (leader.metadata?.annotations?.[ANNOTATION_HANDOVER_TO]) return { action: 'wait' };
  const answer = await ctx.deps.agents.requestSwitchover(leader, ctx.effective.spec.agentPort, replicaIdOf(successor)!);
  if (!answer.ok && (answer.statusCode === 404 || answer.statusCode === 405)) {
    return { action: 'replace', reason: `the agent offers no switchover (HTTP ${answer.statusCode}); the engine fails over` };
  }
  const annotations: Record<string, string> = {};
  if (!Number.isFinite(askedAt)) annotations[ANNOTATION_HANDOVER_REQUESTED_AT] = new Date(now).toISOString();
  if (answer.ok) annotations[ANNOTATION_HANDOVER_TO] = successor.metadata!.name!;
  if (Object.keys(annotations).length > 0) {
    await ctx.deps.client.patch(objectPath(RESOURCES.pods, ctx.cluster.metadata.namespace, leader.metadata!.name!), 'merge', {
      metadata: { annotations },
    });
  }
  if (answer.ok) {
    return { action: 'wait', reason: `asked ${leader.metadata!.name} (leader) to hand leadership to ${successor.metadata!.name} before it is replaced` };
  }
  ctx.deps.log.warn({ pod: leader.metadata!.name, to: successor.metadata!.name, error: answer.error }, 'handover refused for now; retrying');
  return { action: 'wait' };
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
    // The role the agent reports now: the label follows it only at the next status round.
    const probe = ctx.probes.get(pod.metadata!.name!);
    const role = (probe?.ok ? probe.status.role : undefined) ?? pod.metadata?.labels?.[LABEL_ROLE] ?? 'member';
    let reason = choice.reason;
    if (choice.handOverTo) {
      const handover = await handOver(ctx, pod, choice.handOverTo);
      if (handover.action === 'wait') {
        if (handover.reason) await ctx.event({ type: 'Normal', reason: 'RollingUpdate', message: handover.reason });
        requeueSoon(ctx, 500);
        return 'stop';
      }
      reason = `${reason}: ${handover.reason}`;
    }
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
      message: `replacing ${pod.metadata!.name} (${role}) to apply the new spec: ${reason}`,
    });
    requeueSoon(ctx);
    return 'stop';
  },
};
