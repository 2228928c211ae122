// Polls every running replica's agent /status, in parallel. A failed poll is a result, not an error.
import { isTerminating } from '../../status/pods.js';
import type { Step } from '../context.js';

export const observeAgentsStep: Step = {
  name: 'observe-agents',
  mutates: false,
  async run(ctx) {
    const port = ctx.effective.spec.agentPort;
    const pods = ctx.owned.pods.filter((p) => p.status?.podIP && !isTerminating(p) && p.status?.phase === 'Running');
    const results = await Promise.all(pods.map(async (p) => [p.metadata!.name!, await ctx.deps.agents.probe(p, port)] as const));
    for (const [name, probe] of results) ctx.probes.set(name, probe);
    return 'continue';
  },
};
