// The ConfigMap with cluster.json (members, engine settings), kept equal to what the effective spec says.
import { buildConfigMap } from '../../builders/config-map.js';
import { configMapName } from '../../builders/names.js';
import { RESOURCES } from '../../kube/paths.js';
import { applyOwned } from '../apply.js';
import type { Step } from '../context.js';

export const configMapStep: Step = {
  name: 'config-map',
  mutates: true,
  async run(ctx) {
    const live = ctx.owned.configMaps.find((c) => c.metadata?.name === configMapName(ctx.cluster));
    const desired = buildConfigMap(ctx.effective, ctx.deps.settings.builder);
    await applyOwned(ctx.deps.client, RESOURCES.configMaps, desired, live, ctx.deps.settings.fieldManager);
    return 'continue';
  },
};
