// Computes status from what this reconcile observed and writes it through the status subresource (a PUT with the
// resourceVersion read: a concurrent change makes it fail with a conflict, and the reconcile is retried). Events
// the change calls for are recorded after the write succeeds, so a failed write does not announce anything.
// An unchanged status is not written; one that differs only in members[].lastSeen is written at most every 30 s.
import type { MuCluster, MuClusterStatus } from '../../api/types.js';
import { buildPod } from '../../builders/pod.js';
import { objectPath, RESOURCES } from '../../kube/paths.js';
import { computeStatus } from '../../status/compute-status.js';
import { stableJson } from '../../builders/stable-json.js';
import type { Step } from '../context.js';

const LAST_SEEN_REFRESH_MS = 30_000;

function withoutLastSeen(s: MuClusterStatus | undefined): string {
  return stableJson({ ...s, members: (s?.members ?? []).map(({ lastSeen: _l, ...m }) => m) });
}

function lastSeenAge(s: MuClusterStatus | undefined, now: Date): number {
  const times = (s?.members ?? []).map((m) => (m.lastSeen ? Date.parse(m.lastSeen) : 0)).filter((t) => t > 0);
  return times.length === 0 ? Infinity : now.getTime() - Math.max(...times);
}

export const statusStep: Step = {
  name: 'status',
  mutates: false,
  async run(ctx) {
    const now = ctx.deps.now();
    const desiredPodSpecHash = buildPod(ctx.effective, { replicaId: 0, bootstrap: false }, ctx.deps.settings.builder)
      .specHash;
    const observed: MuCluster = { ...ctx.effective, status: ctx.cluster.status };
    const { status, events } = computeStatus({
      cluster: observed,
      pods: ctx.owned.pods,
      probes: ctx.probes,
      desiredPodSpecHash,
      problems: ctx.problems,
      now,
    });
    if (ctx.statusPatch.bootstrappedAt && !status.bootstrappedAt) status.bootstrappedAt = ctx.statusPatch.bootstrappedAt;
    if (ctx.statusPatch.targetLeader === null) delete status.targetLeader;
    else if (ctx.statusPatch.targetLeader !== undefined) status.targetLeader = ctx.statusPatch.targetLeader;
    const previous = ctx.cluster.status;
    const same = stableJson(previous) === stableJson(status);
    const onlyLastSeen = !same && withoutLastSeen(previous) === withoutLastSeen(status);
    if (same || (onlyLastSeen && lastSeenAge(previous, now) < LAST_SEEN_REFRESH_MS)) return 'continue';
    const body: MuCluster = { ...ctx.cluster, status };
    const written = await ctx.deps.client.replace<MuCluster>(
      objectPath(RESOURCES.muClusters, ctx.cluster.metadata.namespace, ctx.cluster.metadata.name, 'status'),
      body,
    );
    ctx.cluster.metadata.resourceVersion = written.metadata.resourceVersion;
    ctx.cluster.status = written.status;
    for (const e of events) {
      await ctx.event({ type: e.type, reason: e.reason, message: e.message });
    }
    return 'continue';
  },
};
