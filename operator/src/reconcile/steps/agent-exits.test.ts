import { cluster, pod } from '../../status/testing/fixtures.js';
import { fakeContext } from '../testing/fake-deps.js';
import { agentExitsStep } from './agent-exits.js';

describe('agent-exits step', () => {
  it('turns a MemlockTooLow termination message into a problem and a Warning event, changing nothing', async () => {
    const c = cluster({ replicas: 3 });
    const failed = pod(c, 1, { ready: false });
    const message = 'MemlockTooLow: the verbs fabric pins about 72.1 MiB but RLIMIT_MEMLOCK is 8.0 MiB';
    failed.status!.containerStatuses = [
      { name: 'agent', image: 'mu', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, message } } },
    ];
    const ctx = fakeContext(c, { pods: [pod(c, 0), failed, pod(c, 2)] });
    expect(await agentExitsStep.run(ctx)).toBe('continue');
    expect(ctx.problems).toEqual([{ reason: 'MemlockTooLow', message: `demo-1: ${message}` }]);
    expect(ctx.events).toEqual([{ type: 'Warning', reason: 'MemlockTooLow', message: `demo-1: ${message}` }]);
    expect(ctx.client.calls).toEqual([]);
  });
});
