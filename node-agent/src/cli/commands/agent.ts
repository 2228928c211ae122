// `mu agent …`: runs one node agent in the foreground (the pod's command; `npm run agent -- …` from a checkout).
// It parses its own settings (flags, environment, cluster.json): see `mu agent --help`.
import { runAgentMain } from '../../agent/main.js';
import type { Command } from '../command.js';

export const agentCommand: Command = {
  name: 'agent',
  summary: 'run one replica and its node agent (/healthz /readyz /metrics /status)',
  passthrough: true,
  async run({ args, io }) {
    return runAgentMain(args, { io });
  },
};
