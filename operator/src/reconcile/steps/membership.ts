// Decides the membership in force. Mu's member set is fixed when the cluster bootstraps; until the engine supports
// reconfiguration, a later change of spec.replicas is refused — with a Degraded condition, a Warning event and a
// message saying what to do — instead of creating pods that would form a second, conflicting member set.
import type { MuCluster } from '../../api/types.js';
import { CLUSTER_CONFIG_KEY } from '../../builders/config-map.js';
import { configMapName } from '../../builders/names.js';
import type { ReconcileContext, Step } from '../context.js';

export const SCALING_NOT_SUPPORTED = 'ScalingNotSupported';

/** Members listed in the cluster's ConfigMap, once the cluster has bootstrapped; undefined before. */
export function membersInForce(ctx: ReconcileContext): number | undefined {
  if (!ctx.cluster.status?.bootstrappedAt) return undefined;
  const cm = ctx.owned.configMaps.find((c) => c.metadata?.name === configMapName(ctx.cluster));
  const raw = cm?.data?.[CLUSTER_CONFIG_KEY];
  if (raw === undefined) return undefined;
  try {
    const members = (JSON.parse(raw) as { members?: unknown[] }).members;
    return Array.isArray(members) && members.length > 0 ? members.length : undefined;
  } catch {
    return undefined; // we wrote it; a broken one is rewritten from the spec by the config-map step
  }
}

export function withReplicas(cluster: MuCluster, replicas: number): MuCluster {
  return { ...cluster, spec: { ...cluster.spec, replicas } };
}

export const membershipStep: Step = {
  name: 'membership',
  mutates: false,
  async run(ctx) {
    const desired = ctx.cluster.spec.replicas;
    const current = membersInForce(ctx);
    if (current === undefined || current === desired || ctx.deps.settings.membershipChanges) {
      ctx.effective = ctx.cluster;
      return 'continue';
    }
    ctx.effective = withReplicas(ctx.cluster, current);
    const message =
      `spec.replicas is ${desired}, but this engine version cannot change the membership of a running cluster: ` +
      `it keeps its ${current} members. Set spec.replicas back to ${current}, or create a new MuCluster with ` +
      `${desired} replicas and move clients to it.`;
    ctx.problems.push({ reason: SCALING_NOT_SUPPORTED, message });
    await ctx.event({ type: 'Warning', reason: SCALING_NOT_SUPPORTED, message });
    return 'continue';
  },
};
