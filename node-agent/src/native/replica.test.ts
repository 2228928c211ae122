import { spawnSync } from 'node:child_process';

import { testBasePort } from '../agent/testing/ports.js';
import {
  addonPath, decodeResp, loadEngine, type Replica, type ReplicaEvent, type ReplicaOptions, RespError,
} from './engine.js';

// Slot 3 of this worker's ports: 3 replicas × (bootstrap, fabric, resp).
const BASE = testBasePort(3);

function members(n: number): ReplicaOptions['members'] {
  return Array.from({ length: n }, (_, id) => ({
    id, host: '127.0.0.1', bootstrapPort: BASE + 3 * id, fabricPort: BASE + 3 * id + 1, respPort: BASE + 3 * id + 2,
  }));
}

function options(id: number, n: number, extra: Partial<ReplicaOptions> = {}): ReplicaOptions {
  return {
    id, members: members(n), fabric: 'soft', secret: Buffer.from('binding-test-key'), logBytes: 4 << 20,
    bootstrap: true, busyPoll: false, respBind: '127.0.0.1', detector: { readPeriodMicros: 1000, scoreMax: 100 },
    ...extra,
  };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('startReplica options are checked before anything starts', () => {
  const engine = loadEngine();
  test.each<[string, unknown, RegExp]>([
    ['not an object', 42, /^startReplica: expects an options object/],
    ['no members', { id: 0, fabric: 'soft', secret: 's' }, /^startReplica: options.members must be a non-empty array/],
    ['a bad port', { ...options(0, 1), members: [{ id: 0, host: '127.0.0.1', bootstrapPort: 0, fabricPort: 1, respPort: 'x' }] },
      /^startReplica: options.members\[0\].respPort must be an integer in \[0, 65535\], got 'x'$/],
    ['an unknown option', { ...options(0, 1), colour: 'blue' }, /^startReplica: unknown option options.colour$/],
    ['an unknown detector option', { ...options(0, 1), detector: { period: 1 } },
      /^startReplica: unknown option options.detector.period$/],
    ['a bad fabric', { ...options(0, 1), fabric: 'rdma' }, /^startReplica: options.fabric must be 'soft' or 'verbs'/],
    ['an empty secret', { ...options(0, 1), secret: '' }, /^startReplica: options.secret must not be empty$/],
    ['a bad revocation', { ...options(0, 1), replication: { revocation: 'fast' } },
      /^startReplica: options.replication.revocation must be 'accessFlags', 'qpCycle' or 'mrReregister'/],
    ['a log too small for its entries', { ...options(0, 1), logBytes: 8192 },
      /^startReplica: invalid configuration: logSizeBytes: must be a multiple of 4096 and at least 4 maximal entries/],
    ['thresholds the wrong way round', { ...options(0, 1), detector: { failureThreshold: 7, recoveryThreshold: 6 } },
      /^startReplica: invalid configuration: heartbeat.failureThreshold: must be below recoveryThreshold$/],
    ['id not a member', { ...options(0, 1), id: 2 }, /^startReplica: invalid configuration: id: 2 is not in members$/],
    ['onEvent not a function', { ...options(0, 1), onEvent: 'log' }, /^startReplica: options.onEvent must be a function/],
  ])('%s', (_name, bad, message) => {
    // The addon's errors come from Node's realm, not jest's: compare names, not constructors.
    let thrown: Error | undefined;
    try {
      void engine.startReplica(bad as ReplicaOptions);
    } catch (e) {
      thrown = e as Error;
    }
    expect(thrown?.name).toBe('TypeError');
    expect(thrown?.message).toMatch(message);
  });

  test('a peer that never comes rejects the start with the fabric\'s error code', async () => {
    const start = engine.startReplica(options(0, 2, { bootstrapTimeoutMs: 300 }));
    await expect(start).rejects.toMatchObject({ code: 'unreachable', message: expect.stringMatching(/^startReplica: replica 0: /) });
  });
});

describe('a replica run from JavaScript', () => {
  const engine = loadEngine();
  let replica: Replica;
  const events: ReplicaEvent[] = [];

  beforeAll(async () => {
    replica = await engine.startReplica(options(0, 1, { onEvent: (e) => events.push(e) }));
    await until('leadership', () => replica.stats().role === 'leader', 60_000);
  }, 120_000);
  afterAll(async () => {
    await replica.stop();
  });

  test('stats: a plain snapshot with times in µs', () => {
    const s = replica.stats();
    expect(s).toMatchObject({ replicaId: 0, fabric: 'soft', running: true, role: 'leader', voter: true, leader: 0,
      leaderView: 0, logRingBytes: 4 << 20, peers: [], heartbeatStopped: false });
    expect(s.atMicros).toBeGreaterThan(Date.UTC(2020, 0) * 1000);
    expect(s.uptimeMicros).toBeGreaterThan(0);
    expect(replica.respPort).toBe(BASE + 2);
    const initial = s.timelines[0]!;
    expect(initial).toMatchObject({ from: null, to: 0, reason: 'initial' });
    // Epoch µs, consistent with the JS clock (within a minute: the machine may be slow).
    expect(Math.abs(initial.candidateAtMicros! / 1000 - Date.now())).toBeLessThan(60_000);
    expect(initial.firstCommitAtMicros!).toBeGreaterThanOrEqual(initial.candidateAtMicros!);
  });

  test('execute: commands through the log, RESP2 replies', async () => {
    expect(await replica.execute(['SET', 'k', 'v1'])).toBe('+OK\r\n');
    expect(await replica.execute(['GET', 'k'])).toBe('$2\r\nv1\r\n');
    expect(decodeResp(await replica.execute(['INCR', 'n']))).toBe(1);
    expect(decodeResp(await replica.execute(['MGET', 'k', 'nope']))).toEqual(['v1', null]);
    expect(() => decodeResp('-ERR boom\r\n')).toThrow(RespError);
    expect(await replica.execute(['NOSUCH'])).toMatch(/^-ERR unknown command/);
    // Snapshots are published every few hundred engine polls: they catch up shortly after the replies.
    const s = await until('stats to follow', () => {
      const x = replica.stats();
      return x.kv.keys === 2 && x.commitIndex >= 4 ? x : undefined;
    });
    expect(s.appliedIndex).toBeLessThanOrEqual(s.commitIndex);
    expect(() => replica.execute([] as string[])).toThrow(/^execute: expects a non-empty array of strings/);
    expect(() => replica.execute(['SET', 'k', 1 as unknown as string])).toThrow(/^execute: argv\[2\] must be a string/);
  });

  test('switchover: answered from the engine thread; to itself accepted, refusals say why', async () => {
    expect(replica.stats().preferredLeader).toBeNull();
    expect(await replica.switchover(1)).toEqual({ ok: false, error: 'replica 1 is not a member (ids 0..0)' });
    expect(await replica.switchover(0)).toEqual({ ok: true });
    await until('the preference in stats', () => replica.stats().preferredLeader === 0);
    expect(replica.stats()).toMatchObject({ role: 'leader', leaderView: 0 });
    expect(() => replica.switchover('1' as unknown as number)).toThrow(/^switchover: expects a replica id/);
    expect(() => replica.switchover(16)).toThrow(/^switchover: the replica id must be an integer in 0..15, got 16/);
    expect(() => replica.switchover(0.5)).toThrow(/^switchover: the replica id must be an integer/);
  });

  test('events arrive on the JS thread', async () => {
    await until('events', () => events.some((e) => e.kind === 'FailoverCompleted'));
    expect(events.find((e) => e.kind === 'LeaderChanged')).toMatchObject({ from: null, to: 0 });
    expect(events.find((e) => e.kind === 'PermissionSwitch')).toMatchObject({ candidate: 0, mechanism: 'accessFlags' });
  });

  test('stop: settles what is pending, then refuses; idempotent', async () => {
    const second = await engine.startReplica(options(0, 1, {
      members: [{ id: 0, host: '127.0.0.1', bootstrapPort: 0, fabricPort: BASE + 5, respPort: BASE + 6 }],
    }));
    const pending = Array.from({ length: 50 }, (_, i) => second.execute(['SET', `k${i}`, 'v']).catch((e: Error & { code: string }) => e.code));
    await Promise.all([second.stop(), second.stop()]);
    for (const p of await Promise.all(pending)) expect(['+OK\r\n', 'MU_REPLICA_STOPPED']).toContain(p);
    expect(second.running).toBe(false);
    expect(second.stats()).toMatchObject({ running: false, replicaId: 0 });
    await expect(second.execute(['GET', 'k0'])).rejects.toMatchObject({ code: 'MU_REPLICA_STOPPED' });
    expect(second.leave()).toBe(false);
    await expect(second.switchover(0)).rejects.toMatchObject({ code: 'MU_REPLICA_STOPPED' });
    await second.stop();
  });
});

describe('lifetime', () => {
  // In a child process: no jest module registry between the addon and the garbage collector.
  const run = (script: string): { status: number | null; out: string } => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' },
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const prelude = `
    import { createRequire } from 'node:module';
    const engine = createRequire(import.meta.url)(${JSON.stringify(addonPath())});
    const options = { id: 0, fabric: 'soft', secret: 'gc', logBytes: 4 << 20, bootstrap: true, busyPoll: false,
      respBind: '127.0.0.1', members: [{ id: 0, host: '127.0.0.1', bootstrapPort: 0, fabricPort: ${BASE + 20},
      respPort: ${BASE + 21} }], onEvent: () => {} };
  `;

  test('a Replica garbage-collected without stop() stops its engine (its ports are free again)', () => {
    const r = run(`${prelude}
      let replica = await engine.startReplica(options);
      await replica.execute(['SET', 'a', 'b']);
      replica = null;
      for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      const again = await engine.startReplica(options);
      console.log('restarted', await again.execute(['GET', 'a']) === '$-1\\r\\n');
      await again.stop();
    `);
    expect(r.out).toContain('restarted true');
    expect(r.status).toBe(0);
  });

  test('a process that exits with replicas running exits cleanly', () => {
    const r = run(`${prelude}
      const replica = await engine.startReplica(options);
      replica.execute(['SET', 'x', 'y']);
      console.log('exiting');
    `);
    expect(r.out).toContain('exiting');
    expect(r.status).toBe(0);
    const e = run(`${prelude}
      await engine.startReplica(options);
      process.exit(3);
    `);
    expect(e.status).toBe(3);
  });
});
