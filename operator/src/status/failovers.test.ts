import type { FailoverRecord } from '../api/types.js';
import {
  camelCaseReason,
  dedupeTimelines,
  failoverRecord,
  failoverTimelines,
  summarizeFailovers,
} from './failovers.js';
import { agent, cluster, T0_MICROS, timeline } from './testing/fixtures.js';

describe('failover timelines → records', () => {
  const c = cluster();

  it('breaks a failover down into detection, permission switch, catch-up and total µs', () => {
    const r = failoverRecord(c, timeline(0, 1));
    expect(r).toEqual({
      id: '1-0',
      from: 'demo-0',
      to: 'demo-1',
      fromId: 0,
      toId: 1,
      detectedAt: '2025-03-01T12:00:00.000600Z',
      completedAt: '2025-03-01T12:00:00.000870Z',
      detectionMicros: 600,
      permissionSwitchMicros: 240, // candidacy → a majority granted
      catchUpMicros: 30, // granted → prepared
      totalMicros: 870, // suspected → first commit
      reason: 'LeaderFailed',
    });
  });

  it('keeps whole microseconds (the CRD schema type) when the agent reports fractions', () => {
    const r = failoverRecord(c, timeline(0, 1, 0.4, { catchUpMicros: 17.982 }));
    for (const k of ['detectionMicros', 'permissionSwitchMicros', 'catchUpMicros', 'totalMicros'] as const) {
      expect(Number.isInteger(r[k])).toBe(true);
    }
    expect(r.catchUpMicros).toBe(18);
  });

  it('without a grant time, takes the majority-th fastest switch: an unreachable replica does not count', () => {
    const t = timeline(0, 1, 0, {
      permissionsGrantedAtMicros: undefined,
      permissionSwitches: [
        { replica: 1, mechanism: 'accessFlags', durationMicros: 100 },
        { replica: 2, mechanism: 'qpCycle', durationMicros: 900 },
        { replica: 3, mechanism: 'accessFlags', durationMicros: 200 },
        { replica: 4, mechanism: 'accessFlags', durationMicros: 5000 },
      ],
    });
    expect(failoverRecord(cluster({ replicas: 5 }), t).permissionSwitchMicros).toBe(900); // 3rd of 100,200,900,5000
  });

  it('uses the reported grant time when there is one', () => {
    const t = timeline(0, 1, 0, { permissionsGrantedAtMicros: T0_MICROS + 600 + 333 });
    expect(failoverRecord(c, t).permissionSwitchMicros).toBe(333);
  });

  it('measures from candidacy when nothing was suspected (e.g. a lower id taking leadership back)', () => {
    const t = timeline(0, 1, 0, { suspectedAtMicros: undefined, reason: 'lower-id-recovered' });
    const r = failoverRecord(c, t);
    expect(r).toMatchObject({
      detectionMicros: 0,
      permissionSwitchMicros: 240,
      totalMicros: 270,
      reason: 'LowerIdRecovered',
    });
  });

  it('takes catch-up as reported when the agent gives a duration instead of a prepared time', () => {
    const t = timeline(0, 1, 0, { preparedAtMicros: undefined, catchUpMicros: 45 });
    expect(failoverRecord(c, t).catchUpMicros).toBe(45);
  });

  it('skips the first election: there was no leader to fail over from', () => {
    const first = { ...timeline(0, 1), fromId: null };
    expect(failoverTimelines([first, timeline(1, 2, 5)]).map((t) => t.id)).toEqual(['2-5']);
  });

  it('turns reasons into CamelCase', () => {
    expect(['leader-failed', 'lower-id-recovered', 'Switchover', 'stuck_replication'].map(camelCaseReason)).toEqual([
      'LeaderFailed',
      'LowerIdRecovered',
      'Switchover',
      'StuckReplication',
    ]);
  });

  it('sums the phases while the failover has no first commit yet, and leaves completedAt unset', () => {
    const { firstCommitAtMicros: _f, ...t } = timeline(0, 1);
    const r = failoverRecord(c, t);
    expect(r.completedAt).toBeUndefined();
    expect(r.totalMicros).toBe(600 + 240 + 30);
  });

  it("keeps one timeline per id, preferring the new leader's own report", () => {
    const full = timeline(0, 1);
    const partial = {
      ...full,
      permissionSwitches: [],
      catchUpMicros: undefined,
      detectedAtMicros: full.detectedAtMicros + 5,
    };
    const byFollower = agent(2, 1, { failovers: [partial] });
    const byLeader = agent(1, 1, { failovers: [full] });
    expect(dedupeTimelines([byFollower, byLeader]).get(full.id)).toBe(full);
    expect(dedupeTimelines([byLeader, byFollower]).get(full.id)).toBe(full);
    expect(dedupeTimelines([byFollower]).get(full.id)).toBe(partial);
  });
});

describe('summarizeFailovers', () => {
  const c = cluster();
  const rec = (from: number, to: number, offset: number): FailoverRecord =>
    failoverRecord(c, timeline(from, to, offset));

  it('records new failovers newest first and counts them', () => {
    const s = summarizeFailovers([rec(0, 1, 0), rec(1, 2, 5000)], undefined, 10);
    expect(s.failoverHistory.map((r) => r.id)).toEqual(['2-5000', '1-0']);
    expect(s.lastFailover?.id).toBe('2-5000');
    expect(s.failoverCount).toBe(2);
    expect(s.newIds.sort()).toEqual(['1-0', '2-5000']);
  });

  it('does not count a failover again when agents keep reporting it', () => {
    const first = summarizeFailovers([rec(0, 1, 0)], undefined, 10);
    const previous = {
      failoverHistory: first.failoverHistory,
      lastFailover: first.lastFailover!,
      failoverCount: first.failoverCount,
    };
    const again = summarizeFailovers([rec(0, 1, 0)], previous, 10);
    expect(again.failoverCount).toBe(1);
    expect(again.newIds).toEqual([]);
  });

  it('bounds the history by the limit but keeps counting, and never recounts a trimmed one', () => {
    let previous = undefined as Parameters<typeof summarizeFailovers>[1];
    for (let i = 0; i < 5; i++) {
      const s = summarizeFailovers([rec(i % 3, (i + 1) % 3, i * 1000)], previous, 2);
      previous = {
        failoverHistory: s.failoverHistory,
        failoverCount: s.failoverCount,
        ...(s.lastFailover ? { lastFailover: s.lastFailover } : {}),
      };
    }
    expect(previous!.failoverHistory!.map((r) => r.detectedAt)).toHaveLength(2);
    expect(previous!.failoverCount).toBe(5);
    // An agent that still remembers the very first one (trimmed from history) does not make it count twice.
    const s = summarizeFailovers([rec(0, 1, 0)], previous, 2);
    expect(s.failoverCount).toBe(5);
    expect(s.failoverHistory.map((r) => r.id)).not.toContain('1-0');
  });

  it('keeps lastFailover and the count with a history limit of 0', () => {
    const s = summarizeFailovers([rec(0, 1, 0)], undefined, 0);
    expect(s.failoverHistory).toEqual([]);
    expect(s.lastFailover?.id).toBe('1-0');
    const again = summarizeFailovers(
      [rec(0, 1, 0)],
      { lastFailover: s.lastFailover!, failoverCount: 1, failoverHistory: [] },
      0,
    );
    expect(again.failoverCount).toBe(1);
  });

  it('completes a failover first seen before its first commit, without counting it twice', () => {
    const { firstCommitAtMicros: _f, ...t } = timeline(0, 1);
    const early = summarizeFailovers([failoverRecord(c, t)], undefined, 10);
    const previous = { failoverHistory: early.failoverHistory, lastFailover: early.lastFailover!, failoverCount: 1 };
    const later = summarizeFailovers([rec(0, 1, 0)], previous, 10);
    expect(later.failoverCount).toBe(1);
    expect(later.lastFailover?.completedAt).toBe('2025-03-01T12:00:00.000870Z');
  });
});
