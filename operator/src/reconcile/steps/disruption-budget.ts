// The PodDisruptionBudget keeping quorum, or none when spec.podDisruptionBudget.enabled is false.
import { podDisruptionBudgetName } from '../../builders/names.js';
import { buildPodDisruptionBudget } from '../../builders/pod-disruption-budget.js';
import { objectPath, RESOURCES } from '../../kube/paths.js';
import { isNotFound } from '../../kube/rest.js';
import { applyOwned } from '../apply.js';
import type { Step } from '../context.js';

export const disruptionBudgetStep: Step = {
  name: 'disruption-budget',
  mutates: true,
  async run(ctx) {
    const name = podDisruptionBudgetName(ctx.cluster);
    const live = ctx.owned.podDisruptionBudgets.find((p) => p.metadata?.name === name);
    const decision = buildPodDisruptionBudget(ctx.effective);
    if (decision.value) {
      await applyOwned(ctx.deps.client, RESOURCES.podDisruptionBudgets, decision.value, live, ctx.deps.settings.fieldManager);
    } else if (live) {
      try {
        await ctx.deps.client.delete(objectPath(RESOURCES.podDisruptionBudgets, ctx.cluster.metadata.namespace, name));
        ctx.deps.log.info({ pdb: name, reason: decision.reason }, 'deleted the PodDisruptionBudget');
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return 'continue';
  },
};
