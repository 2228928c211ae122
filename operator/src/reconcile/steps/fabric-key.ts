// The fabric key Secret: created when absent, never updated. Replacing the key of a running cluster would cut every
// replica off from its peers, so even a Secret that differs from what we would build is left alone.
import { buildFabricKeySecret, generateFabricKey } from '../../builders/fabric-key.js';
import { fabricKeySecretName } from '../../builders/names.js';
import { collectionPath, RESOURCES } from '../../kube/paths.js';
import { isAlreadyExists } from '../../kube/rest.js';
import type { Step } from '../context.js';

export const fabricKeyStep: Step = {
  name: 'fabric-key',
  mutates: true,
  async run(ctx) {
    const name = fabricKeySecretName(ctx.cluster);
    if (ctx.owned.secrets.some((s) => s.metadata?.name === name)) return 'continue';
    try {
      await ctx.deps.client.create(
        collectionPath(RESOURCES.secrets, ctx.cluster.metadata.namespace),
        buildFabricKeySecret(ctx.cluster, generateFabricKey()),
      );
      ctx.deps.log.info({ secret: name }, 'created the fabric key');
    } catch (e) {
      // The informer has not caught up with a Secret that exists: keep it, whatever it holds.
      if (!isAlreadyExists(e)) throw e;
    }
    return 'continue';
  },
};
