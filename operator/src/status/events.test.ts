import type { MemberStatus, MuClusterStatus } from '../api/types.js';
import { statusEvents, type EventContext } from './events.js';
import { failoverRecord } from './failovers.js';
import { cluster, timeline } from './testing/fixtures.js';

const context: EventContext = { timelines: new Map(), permissionSwitchSlowMicros: 1000 };
const member = (id: number, m: Partial<MemberStatus>): MemberStatus => ({ name: `demo-${id}`, id, ...m });
const at = '2025-03-01T12:00:00.000Z';

describe('statusEvents', () => {
  it('says nothing when nothing changed', () => {
    const status: MuClusterStatus = {
      leader: { member: 'demo-0', id: 0 },
      members: [member(0, { role: 'leader', ready: true, joinedAt: at })],
    };
    expect(statusEvents(status, structuredClone(status), context)).toEqual([]);
  });

  it('reports a failover once, when it completes, not when first seen half-way', () => {
    const c = cluster();
    const { firstCommitAtMicros: _f, ...unfinished } = timeline(0, 1);
    const early = failoverRecord(c, unfinished);
    const done = failoverRecord(c, timeline(0, 1));
    const first = statusEvents(undefined, { lastFailover: early, failoverHistory: [early] }, context);
    expect(first.filter((e) => e.reason === 'FailoverCompleted')).toEqual([]);
    const second = statusEvents(
      { lastFailover: early, failoverHistory: [early] },
      { lastFailover: done, failoverHistory: [done] },
      context,
    );
    expect(second.map((e) => e.reason)).toEqual(['FailoverCompleted']);
    expect(
      statusEvents(
        { lastFailover: done, failoverHistory: [done] },
        { lastFailover: done, failoverHistory: [done] },
        context,
      ),
    ).toEqual([]);
  });

  it('reports several new failovers oldest first', () => {
    const c = cluster();
    const a = failoverRecord(c, timeline(0, 1, 1000));
    const b = failoverRecord(c, timeline(1, 2, 2000));
    const events = statusEvents(undefined, { lastFailover: b, failoverHistory: [b, a] }, context);
    expect(events.map((e) => e.message.slice(0, 15))).toEqual(['demo-0 → demo-1', 'demo-1 → demo-2']);
  });

  it('does not call a new member (scale-up) or a bootstrapping one "rejoined"', () => {
    const before: MuClusterStatus = { members: [member(3, { role: 'learner', ready: false, lastSeen: at })] };
    const after: MuClusterStatus = {
      members: [member(3, { role: 'follower', ready: true, lastSeen: at, joinedAt: at })],
    };
    expect(statusEvents(before, after, context)).toEqual([]);
  });

  it('calls a member that voted before and is back after a replacement "rejoined"', () => {
    const before: MuClusterStatus = { members: [member(2, { role: 'learner', ready: false, joinedAt: at })] };
    const after: MuClusterStatus = { members: [member(2, { role: 'follower', ready: true, joinedAt: at })] };
    expect(statusEvents(before, after, context)).toEqual([
      { type: 'Normal', reason: 'MemberRejoined', message: 'demo-2 rejoined as follower', member: 'demo-2' },
    ]);
  });

  it('reports a member that drops to learner as leaving the quorum', () => {
    const before: MuClusterStatus = { members: [member(1, { role: 'follower', ready: true, joinedAt: at })] };
    const after: MuClusterStatus = { members: [member(1, { role: 'learner', ready: true, joinedAt: at })] };
    expect(statusEvents(before, after, context)).toEqual([
      { type: 'Warning', reason: 'MemberNotReady', message: 'demo-1 left the quorum: learner', member: 'demo-1' },
    ]);
  });

  it('warns once when a learner cannot be caught up (its state transfer fails), not while it fetches', () => {
    const fetching = 'learner fetching the state: the log entries it lacks were recycled on the leader';
    const stuck = 'learner cannot be caught up: fetching the state failed: replica 0 has no state for us: 3';
    const asked: MuClusterStatus = { members: [member(2, { role: 'learner', ready: false, message: fetching })] };
    expect(statusEvents({ members: [member(2, { role: 'learner', ready: false, message: 'pod is not Ready' })] }, asked, context)).toEqual([]);
    const before: MuClusterStatus = { members: [member(2, { role: 'learner', ready: false, message: 'pod is not Ready' })] };
    const after: MuClusterStatus = { members: [member(2, { role: 'learner', ready: false, message: stuck })] };
    expect(statusEvents(before, after, context)).toEqual([
      { type: 'Warning', reason: 'MemberCannotCatchUp', message: `demo-2: ${stuck}`, member: 'demo-2' },
    ]);
    const later: MuClusterStatus = { members: [member(2, { role: 'learner', ready: false, message: stuck.replace('3', '9') })] };
    expect(statusEvents(after, later, context)).toEqual([]);
  });

  it('elects without "replacing" the first time', () => {
    expect(statusEvents(undefined, { leader: { member: 'demo-0', id: 0 } }, context)).toEqual([
      { type: 'Normal', reason: 'LeaderElected', message: 'demo-0 is the leader', member: 'demo-0' },
    ]);
  });
});
