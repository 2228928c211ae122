// Labels each pod with the role its agent reports, so the <name>-leader Service selects the leader. A pod whose
// agent did not answer keeps its label, unless another pod now reports leading (then its stale leader label goes).
import { LABEL_ROLE, ROLE_LEADER } from '../../api/labels.js';
import { objectPath, RESOURCES } from '../../kube/paths.js';
import { isNotFound } from '../../kube/rest.js';
import { isTerminating } from '../../status/pods.js';
import type { Step } from '../context.js';

export const rolesStep: Step = {
  name: 'roles',
  mutates: true,
  async run(ctx) {
    const reported = new Map<string, string>();
    for (const [name, probe] of ctx.probes) if (probe.ok) reported.set(name, probe.status.role);
    const someoneLeads = [...reported.values()].includes(ROLE_LEADER);
    for (const pod of ctx.owned.pods) {
      if (isTerminating(pod)) continue;
      const name = pod.metadata!.name!;
      const current = pod.metadata?.labels?.[LABEL_ROLE];
      let desired: string | null | undefined = reported.get(name);
      if (desired === undefined) desired = current === ROLE_LEADER && someoneLeads ? null : current;
      if ((desired ?? undefined) === current) continue;
      try {
        await ctx.deps.client.patch(objectPath(RESOURCES.pods, ctx.cluster.metadata.namespace, name), 'merge', {
          metadata: { labels: { [LABEL_ROLE]: desired } },
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return 'continue';
  },
};
