import { observedLeader } from './leader.js';
import { agent } from './testing/fixtures.js';

describe('observedLeader', () => {
  it('is the agent that says it leads', () => {
    expect(observedLeader([agent(0, 1), agent(1, 1), agent(2, 1)], 3)).toMatchObject({ id: 1, support: 3 });
  });

  it('prefers the claimant most agents follow when two claim (an old leader paused mid-failover)', () => {
    const stale = agent(0, 0); // still believes it leads
    expect(observedLeader([stale, agent(1, 1), agent(2, 1)], 3)).toMatchObject({
      id: 1,
      support: 2,
      reason: expect.stringContaining('2 agents claim leadership'),
    });
  });

  it('breaks a tie by the lowest id, as Mu does', () => {
    expect(observedLeader([agent(2, 2), agent(1, 1)], 3)?.id).toBe(1);
  });

  it('reports an unreachable leader that a majority names', () => {
    expect(observedLeader([agent(0, 2), agent(1, 2)], 3)).toMatchObject({ id: 2, support: 2 });
    expect(observedLeader([agent(0, 2)], 3)).toBeUndefined();
  });

  it('is undefined when nobody knows a leader', () => {
    expect(observedLeader([agent(0, null, { role: 'candidate' }), agent(1, null)], 3)).toBeUndefined();
    expect(observedLeader([], 3)).toBeUndefined();
  });
});
