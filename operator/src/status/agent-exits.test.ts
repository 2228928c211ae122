import type { V1ContainerStatus } from '@kubernetes/client-node';
import { cluster, pod } from './testing/fixtures.js';
import { agentExitProblems } from './agent-exits.js';

const MEMLOCK = 'MemlockTooLow: the verbs fabric pins about 72.1 MiB (logSizeBytes plus queues) but RLIMIT_MEMLOCK is 8.0 MiB';

function withAgent(id: number, status: Partial<V1ContainerStatus>) {
  const p = pod(cluster({ replicas: 3 }), id, { ready: false });
  p.status!.containerStatuses = [{ name: 'agent', image: 'mu', imageID: '', ready: false, restartCount: 1, ...status }];
  return p;
}

describe('agent exit problems (from termination messages)', () => {
  it('names a known code as its own reason, with the pod, for a container that exited', () => {
    const p = withAgent(1, { state: { terminated: { exitCode: 1, reason: 'Error', message: MEMLOCK } } });
    expect(agentExitProblems([p])).toEqual([{ reason: 'MemlockTooLow', message: `demo-1: ${MEMLOCK}` }]);
  });

  it('reads the last exit of a container waiting to restart (CrashLoopBackOff)', () => {
    const p = withAgent(2, {
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 2, reason: 'Error', message: 'BadSetting: --rdma-gid-index: must be auto or 0..255' } },
    });
    expect(agentExitProblems([p])).toEqual([
      { reason: 'BadSetting', message: 'demo-2: BadSetting: --rdma-gid-index: must be auto or 0..255' },
    ]);
  });

  it('reports other codes and crash log tails as AgentFailed', () => {
    const p = withAgent(0, { state: { terminated: { exitCode: 1, reason: 'Error', message: 'EADDRINUSE: listen EADDRINUSE 0.0.0.0:8790' } } });
    const tail = withAgent(1, { state: { terminated: { exitCode: 134, reason: 'Error', message: 'Aborted (core dumped)\nlast log line' } } });
    expect(agentExitProblems([p, tail]).map((x) => x.reason)).toEqual(['AgentFailed', 'AgentFailed']);
  });

  it('ignores a past failure once the agent runs again, a clean exit, and pods being deleted', () => {
    const running = withAgent(0, {
      state: { running: {} },
      lastState: { terminated: { exitCode: 1, reason: 'Error', message: MEMLOCK } },
    });
    const clean = withAgent(1, { state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    const deleting = withAgent(2, { state: { terminated: { exitCode: 1, reason: 'Error', message: MEMLOCK } } });
    deleting.metadata!.deletionTimestamp = new Date();
    expect(agentExitProblems([running, clean, deleting])).toEqual([]);
  });
});
