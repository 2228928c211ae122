// One pod per member id. Missing members are created; the first members of a cluster that never had a leader get
// the bootstrap flag, every later one (a replacement, a member added later) joins as a learner without it.
// status.bootstrappedAt is written before the first bootstrap pod is created, so it is recorded even if the
// operator dies half-way. Pods beyond spec.replicas are removed one at a time, highest id first, only while every
// other member is healthy (only reachable when the engine supports membership changes; see membership.ts).
// A finished pod (phase Failed or Succeeded: a bootstrap member, restartPolicy Never, whose agent exited) is
// deleted, and the next pass replaces it like a lost one.
import type { V1Pod } from '@kubernetes/client-node';
import type { MuCluster } from '../../api/types.js';
import { buildPod } from '../../builders/pod.js';
import { collectionPath, objectPath, RESOURCES } from '../../kube/paths.js';
import { isAlreadyExists, isNotFound } from '../../kube/rest.js';
import { isPodReady, isTerminating, replicaIdOf } from '../../status/pods.js';
import { requeueSoon, type ReconcileContext, type Step } from '../context.js';

/** True until a leader was ever observed: only then may new members start a brand-new cluster. */
export function neverLed(cluster: MuCluster): boolean {
  const s = cluster.status;
  if (!s) return true;
  if (s.leader || (s.failoverCount ?? 0) > 0) return false;
  return !(s.members ?? []).some((m) => m.joinedAt !== undefined);
}

async function recordBootstrap(ctx: ReconcileContext): Promise<void> {
  if (ctx.cluster.status?.bootstrappedAt) return;
  const at = ctx.deps.now().toISOString().replace(/\.\d+Z$/, 'Z');
  // resourceVersion makes this a compare-and-swap: a second writer (or a stale cache) gets a conflict and retries.
  const updated = await ctx.deps.client.patch<MuCluster>(
    objectPath(RESOURCES.muClusters, ctx.cluster.metadata.namespace, ctx.cluster.metadata.name, 'status'),
    'merge',
    { metadata: { resourceVersion: ctx.cluster.metadata.resourceVersion }, status: { bootstrappedAt: at } },
  );
  ctx.cluster.metadata.resourceVersion = updated.metadata.resourceVersion;
  ctx.cluster.status = { ...ctx.cluster.status, bootstrappedAt: at };
  ctx.effective.status = ctx.cluster.status;
}

export const podsStep: Step = {
  name: 'pods',
  mutates: true,
  async run(ctx) {
    const n = ctx.effective.spec.replicas;
    const byId = new Map<number, V1Pod>();
    for (const pod of ctx.owned.pods) {
      const id = replicaIdOf(pod);
      if (id !== undefined) byId.set(id, pod);
    }
    for (const [id, pod] of byId) {
      const phase = pod.status?.phase;
      if (isTerminating(pod) || (phase !== 'Failed' && phase !== 'Succeeded')) continue;
      try {
        await ctx.deps.client.delete(objectPath(RESOURCES.pods, ctx.cluster.metadata.namespace, pod.metadata!.name!), {}, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          preconditions: { uid: pod.metadata!.uid },
          gracePeriodSeconds: 0,
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      byId.delete(id);
      await ctx.event({
        type: 'Warning',
        reason: 'MemberFailed',
        message: `${pod.metadata!.name} exited (${finishedHow(pod)}); replacing it`,
      });
      requeueSoon(ctx);
    }
    const missing = [...Array(n).keys()].filter((id) => !byId.has(id));
    if (missing.length > 0) {
      const bootstrap = neverLed(ctx.cluster);
      if (bootstrap) await recordBootstrap(ctx);
      for (const id of missing) {
        const { pod } = buildPod(ctx.effective, { replicaId: id, bootstrap }, ctx.deps.settings.builder);
        try {
          await ctx.deps.client.create(collectionPath(RESOURCES.pods, ctx.cluster.metadata.namespace), pod);
        } catch (e) {
          if (isAlreadyExists(e)) {
            requeueSoon(ctx); // the old pod of that name is still going away
            continue;
          }
          throw e;
        }
        const how = bootstrap ? 'with --bootstrap (new cluster)' : 'joining as a learner';
        await ctx.event({ type: 'Normal', reason: 'MemberCreated', message: `created ${pod.metadata!.name} ${how}` });
      }
      requeueSoon(ctx);
    }

    const extra = [...byId.entries()].filter(([id, p]) => id >= n && !isTerminating(p)).sort(([a], [b]) => b - a);
    if (extra.length > 0) {
      const othersHealthy = [...byId.entries()].every(([id, p]) => id >= n || isPodReady(p));
      if (!othersHealthy) {
        requeueSoon(ctx, 2000);
        return 'continue';
      }
      const [, pod] = extra[0]!;
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
        reason: 'MemberRemoved',
        message: `removed ${pod.metadata!.name}: spec.replicas is ${n}`,
      });
      requeueSoon(ctx);
    }
    return 'continue';
  },
};

/** How a finished pod's agent ended, for the event: "exit code 1", "signal SIGKILL", or the pod phase. */
function finishedHow(pod: V1Pod): string {
  const t = pod.status?.containerStatuses?.[0]?.state?.terminated;
  if (t?.signal) return `signal ${t.signal}`;
  if (t?.reason && t.reason !== 'Error' && t.reason !== 'Completed') return `${t.reason}, exit code ${t.exitCode}`;
  if (t) return `exit code ${t.exitCode}`;
  return `pod ${pod.status?.phase}`;
}
