import { agent, cluster, ok, pod, T0, timeline } from '../status/testing/fixtures.js';
import { computeStatus } from '../status/compute-status.js';
import { desiredHash } from '../status/testing/fixtures.js';
import { formatFailovers, formatStatus, table } from './format.js';
import { parseArgs, PluginError } from './kubectl-mu.js';

describe('kubectl mu', () => {
  it('parses commands, the namespace and --to', () => {
    expect(parseArgs(['status', 'demo', '-n', 'db'])).toEqual({ command: 'status', name: 'demo', namespace: 'db' });
    expect(parseArgs(['switchover', 'demo', '--to=demo-2'])).toEqual({ command: 'switchover', name: 'demo', to: 'demo-2' });
    expect(() => parseArgs(['switchover', 'demo'])).toThrow(/--to MEMBER/);
    expect(() => parseArgs(['explode', 'demo'])).toThrow(PluginError);
    expect(() => parseArgs(['status'])).toThrow(/needs the MuCluster NAME/);
    expect(() => parseArgs(['status', 'demo', '--color'])).toThrow(/unknown flag --color/);
  });

  it('aligns table columns', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A    BB\nxxx  y');
  });

  it('shows members, the leader and the last failover with its breakdown', () => {
    const c = cluster({ replicas: 3 });
    const pods = [0, 1, 2].map((id) => pod(c, id));
    const probes = new Map([
      ['demo-0', ok(agent(0, 1))],
      ['demo-1', ok(agent(1, 1, { failovers: [timeline(0, 1)] }))],
      ['demo-2', ok(agent(2, 1))],
    ]);
    c.status = computeStatus({ cluster: c, pods, probes, desiredPodSpecHash: desiredHash(c), problems: [], now: T0 }).status;
    const now = new Date(T0.getTime() + 60_000);
    const text = formatStatus(c, now);
    expect(text).toContain('MuCluster db/demo: ');
    expect(text).toMatch(/leader demo-1 \(id 1\) on node-1/);
    expect(text).toMatch(/demo-1\s+1\s+leader\s+yes\s+node-1/);
    expect(text).toMatch(/demo-0 → demo-1\s+870µs\s+600µs\s+240µs\s+30µs\s+LeaderFailed/);
    expect(formatFailovers(c, now)).toMatch(/1 failover\(s\) since creation/);
  });
});
