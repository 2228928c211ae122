// The headless members Service (per-member DNS names) and the <name>-leader Service (follows the leader label).
import { buildLeaderService } from '../../builders/leader-service.js';
import { buildMembersService } from '../../builders/members-service.js';
import { RESOURCES } from '../../kube/paths.js';
import { applyOwned } from '../apply.js';
import type { Step } from '../context.js';

export const servicesStep: Step = {
  name: 'services',
  mutates: true,
  async run(ctx) {
    for (const desired of [buildMembersService(ctx.effective), buildLeaderService(ctx.effective)]) {
      const live = ctx.owned.services.find((s) => s.metadata?.name === desired.metadata!.name);
      await applyOwned(ctx.deps.client, RESOURCES.services, desired, live, ctx.deps.settings.fieldManager);
    }
    return 'continue';
  },
};
