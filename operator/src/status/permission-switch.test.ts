import { permissionSwitchStats } from './permission-switch.js';
import { agent } from './testing/fixtures.js';

describe('permissionSwitchStats', () => {
  it("computes p50/p99 over every agent's recent samples and sums mechanism counts", () => {
    const stats = permissionSwitchStats([
      agent(0, 1, { permissionSwitch: { recentMicros: [100, 300], mechanismCounts: { accessFlags: 2 } } }),
      agent(1, 1, { permissionSwitch: { recentMicros: [200, 4000], mechanismCounts: { accessFlags: 1, qpCycle: 1 } } }),
      agent(2, 1),
    ]);
    expect(stats).toEqual({
      samples: 4,
      p50Micros: 200,
      p99Micros: 4000,
      mechanismCounts: { accessFlags: 3, qpCycle: 1 },
    });
  });

  it('reports zero samples without percentiles, and nothing at all when no agent answered', () => {
    expect(permissionSwitchStats([agent(0, 0)])).toEqual({ samples: 0, mechanismCounts: {} });
    expect(permissionSwitchStats([])).toBeUndefined();
  });

  it('rounds to whole microseconds, as the CRD schema stores them', () => {
    const stats = permissionSwitchStats([
      agent(0, 0, { permissionSwitch: { recentMicros: [0.19, 13.338, 2.5], mechanismCounts: { accessFlags: 3 } } }),
    ]);
    expect(stats).toMatchObject({ p50Micros: 3, p99Micros: 13 });
  });
});
