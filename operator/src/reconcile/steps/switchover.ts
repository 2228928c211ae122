// Switchover on request (`kubectl mu switchover NAME --to MEMBER` sets ANNOTATION_SWITCHOVER_TO). The operator keeps
// intent (status.targetLeader) apart from observation (status.leader): it records the target, asks the current
// leader's agent to hand over, and clears both once the agents report the target leading. It never elects anyone
// itself: the engine moves leadership; an agent without the endpoint gets SwitchoverNotSupported.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_SWITCHOVER_TO } from '../../api/labels.js';
import { podName } from '../../builders/names.js';
import { objectPath, RESOURCES } from '../../kube/paths.js';
import { replicaIdOf } from '../../status/pods.js';
import type { ReconcileContext, Step } from '../context.js';

async function clearRequest(ctx: ReconcileContext): Promise<void> {
  await ctx.deps.client.patch(objectPath(RESOURCES.muClusters, ctx.cluster.metadata.namespace, ctx.cluster.metadata.name), 'merge', {
    metadata: { annotations: { [ANNOTATION_SWITCHOVER_TO]: null } },
  });
  ctx.statusPatch.targetLeader = null;
}

function reportedLeader(ctx: ReconcileContext): V1Pod | undefined {
  for (const pod of ctx.owned.pods) {
    const probe = ctx.probes.get(pod.metadata?.name ?? '');
    if (probe?.ok && probe.status.role === 'leader') return pod;
  }
  return undefined;
}

export const switchoverStep: Step = {
  name: 'switchover',
  mutates: true,
  async run(ctx) {
    const target = ctx.cluster.metadata.annotations?.[ANNOTATION_SWITCHOVER_TO];
    if (target === undefined) {
      if (ctx.cluster.status?.targetLeader) ctx.statusPatch.targetLeader = null;
      return 'continue';
    }
    const n = ctx.effective.spec.replicas;
    const targetId = [...Array(n).keys()].find((id) => podName(ctx.cluster, id) === target);
    if (targetId === undefined) {
      await ctx.event({
        type: 'Warning',
        reason: 'SwitchoverInvalid',
        message: `annotation ${ANNOTATION_SWITCHOVER_TO}="${target}" names no member (${podName(ctx.cluster, 0)} … ${podName(ctx.cluster, n - 1)})`,
      });
      await clearRequest(ctx);
      return 'continue';
    }
    const leader = reportedLeader(ctx);
    if (leader && replicaIdOf(leader) === targetId) {
      await ctx.event({ type: 'Normal', reason: 'SwitchoverCompleted', message: `${target} leads as requested` });
      await clearRequest(ctx);
      return 'continue';
    }
    ctx.statusPatch.targetLeader = target;
    if (!leader) return 'continue'; // no leader to ask right now; try again next round
    const answer = await ctx.deps.agents.requestSwitchover(leader, ctx.effective.spec.agentPort, targetId);
    if (answer.ok) {
      await ctx.event({
        type: 'Normal',
        reason: 'SwitchoverRequested',
        message: `asked ${leader.metadata!.name} to hand leadership to ${target}`,
      });
    } else if (answer.statusCode === 404 || answer.statusCode === 405) {
      await ctx.event({
        type: 'Warning',
        reason: 'SwitchoverNotSupported',
        message: `the agent of ${leader.metadata!.name} does not offer switchover (HTTP ${answer.statusCode}); request dropped`,
      });
      await clearRequest(ctx);
    } else {
      ctx.deps.log.warn({ target, error: answer.error }, 'switchover request failed; retrying');
    }
    return 'continue';
  },
};
