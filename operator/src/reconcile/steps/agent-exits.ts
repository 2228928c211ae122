// Reports agents that exited on an error (e.g. MemlockTooLow) as problems — Degraded condition and a Warning event
// naming the pod — from their termination messages (status/agent-exits.ts). Observation only.
import { agentExitProblems } from '../../status/agent-exits.js';
import type { Step } from '../context.js';

export const agentExitsStep: Step = {
  name: 'agent-exits',
  mutates: false,
  async run(ctx) {
    for (const problem of agentExitProblems(ctx.owned.pods)) {
      ctx.problems.push(problem);
      await ctx.event({ type: 'Warning', reason: problem.reason, message: problem.message });
    }
    return 'continue';
  },
};
