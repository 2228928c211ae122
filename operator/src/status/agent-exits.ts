// Why agents exited, from what they left in their pods' termination messages (the agent writes "<Code>: <message>"
// to the container's terminationMessagePath; kubelet reports it as state.terminated.message). Only what the operator
// can see this way: an agent that cannot start never serves /status. Known codes become their own reasons
// (MemlockTooLow: the node or runtime must change); anything else is AgentFailed with the message.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER } from '../builders/pod.js';
import type { OperatorProblem } from './observation.js';

/** Codes the agent writes that name a problem with a reason of its own (node-agent/src/agent/main.ts). */
export const AGENT_EXIT_REASONS: ReadonlySet<string> = new Set(['MemlockTooLow', 'BadSetting']);
export const AGENT_FAILED = 'AgentFailed';

/** The exit message that explains the container's current state: it is not running because of this. */
function currentExitMessage(c: V1ContainerStatus): string | undefined {
  if (c.state?.running) return undefined; // an old failure in lastState is history once it runs again
  const message = c.state?.terminated?.message ?? (c.state?.waiting ? c.lastState?.terminated?.message : undefined);
  return message?.trim() || undefined;
}

export function agentExitProblems(pods: readonly V1Pod[]): OperatorProblem[] {
  const out: OperatorProblem[] = [];
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const agent = pod.status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER);
    const message = agent && currentExitMessage(agent);
    if (!message) continue;
    const code = /^([A-Za-z][A-Za-z0-9]*): /.exec(message)?.[1];
    const reason = code && AGENT_EXIT_REASONS.has(code) ? code : AGENT_FAILED;
    out.push({ reason, message: `${pod.metadata!.name}: ${message}` });
  }
  return out;
}
