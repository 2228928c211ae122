// A real Redis client library (ioredis) against a real multi-process local cluster (`mu local`: three agent processes
// on the soft fabric): commands through the leader, pipelining, a follower's -MOVED naming the leader, concurrent
// clients on one counter, and a SIGKILL of the leader after which every acknowledged write reads back from the new
// leader, found by following MOVED.
//
// Outcomes only, never timings: these run on loaded 2-core machines, where a replica process can be descheduled long
// enough for the others to replace a leader that is alive. Such a spurious leader change is legal, so the client side
// here handles it the way an application must: -MOVED / -CLUSTERDOWN / -TRYAGAIN mean "not applied, go to the leader
// and retry"; -UNCERTAIN (or a connection lost mid-command) means the write may or may not have been applied, so it is
// never retried blindly and never counted as acknowledged. Exact expectations hold for every acknowledged write.
import { Redis, ReplyError } from 'ioredis';

import { LocalCluster } from './local-cluster.js';
import { testBasePort } from './testing/ports.js';

const READY_MS = 120_000;
const LEADER_MS = 90_000;
const ATTEMPTS = 8;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number,
  context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}\n${context()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** An ioredis client that fails fast instead of reconnecting or queueing: the test decides where to go next. */
function client(port: number): Redis {
  const c = new Redis({
    host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0,
    enableOfflineQueue: false, autoResendUnfulfilledCommands: false, connectTimeout: 20_000, commandTimeout: 60_000,
  });
  c.on('error', () => { /* surfaced by the commands themselves */ });
  return c;
}

async function connected(port: number): Promise<Redis> {
  const c = client(port);
  try {
    await c.connect();
  } catch (e) {
    c.disconnect();
    throw e;
  }
  return c;
}

/** A RESP error reply (ioredis types its ReplyError class as `any`). */
function isReplyError(e: unknown): e is Error {
  return e instanceof (ReplyError as typeof Error) && e.name === 'ReplyError';
}

/** Parses `MOVED 0 host:port` from an error, or undefined. */
function movedTo(e: unknown): { host: string; port: number } | undefined {
  const m = e instanceof Error ? /^MOVED \d+ ([^:\s]+):(\d+)$/.exec(e.message) : null;
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/** Not applied, safe to retry at the leader: a redirect, no leader yet, a retryable read, or never sent. */
function notApplied(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return /^(MOVED|CLUSTERDOWN|TRYAGAIN) /.test(e.message) || /enableOfflineQueue|ECONNREFUSED/.test(e.message);
}

/** The leadership moved under the command: retry the whole step elsewhere (an uncertain write is not acknowledged). */
function leadershipMoved(e: unknown): boolean {
  if (notApplied(e)) return true;
  if (isReplyError(e)) return e.message.startsWith('UNCERTAIN ');
  // The connection died mid-command (a killed leader), or the command outlived commandTimeout.
  return e instanceof Error && /Connection is closed|Command timed out|ECONNRESET|EPIPE|write after end/.test(e.message);
}

const logs = (cluster: LocalCluster): string =>
  cluster.replicas.map((r) => `--- agent ${r.id}\n${cluster.logTail(r.id, 30)}`).join('\n');

describe('ioredis against a three-process local cluster (soft fabric)', () => {
  let cluster: LocalCluster;
  const clients = new Set<Redis>();
  // Every write the cluster acknowledged (key → value): all must read back after the leader is killed.
  const acknowledged = new Map<string, string>();
  let leader: { id: number; port: number; client: Redis } | undefined;
  // Leader changes the client side had to ride out (spurious ones on a loaded machine): printed at the end.
  const retries: string[] = [];

  const track = (c: Redis): Redis => {
    clients.add(c);
    return c;
  };
  const running = () => cluster.replicas.filter((r) => !r.exit);

  /**
   * The replica that serves: asks the agents' /status who leads, then checks with a real command; a replica that is no
   * longer leading names the new one with -MOVED, which is followed.
   */
  async function findLeader(): Promise<{ id: number; port: number; client: Redis }> {
    if (leader) leader.client.disconnect();
    leader = undefined;
    const found = await until('a replica that serves commands', async () => {
      const viewed = await cluster.leader();
      const candidates = viewed !== null ? [cluster.replicas[viewed]!, ...running()] : running();
      for (const r of candidates) {
        if (r.exit) continue;
        let port = r.respPort;
        for (let hop = 0; hop < 3; hop++) {
          let c: Redis | undefined;
          try {
            c = await connected(port);
            await c.get('probe:leader');
            const id = cluster.replicas.find((x) => x.respPort === port)!.id;
            return { id, port, client: track(c) };
          } catch (e) {
            c?.disconnect();
            const to = movedTo(e);
            if (!to) break;
            port = to.port;
          }
        }
      }
      return undefined;
    }, LEADER_MS, () => logs(cluster));
    leader = found;
    return found;
  }

  /** Runs `step` against the leader; when leadership moves under it, finds the leader again and runs it afresh. */
  async function atLeader<T>(what: string, step: (c: Redis, attempt: number) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const l = leader ?? await findLeader();
      try {
        return await step(l.client, attempt);
      } catch (e) {
        if (!leadershipMoved(e)) throw e;
        lastError = e;
        retries.push(`${what}: ${String(e)}`);
        await findLeader();
      }
    }
    throw new Error(`${what}: leadership kept moving (${ATTEMPTS} attempts), last error: ${String(lastError)}\n` +
      logs(cluster));
  }

  beforeAll(async () => {
    cluster = LocalCluster.start({ replicas: 3, basePort: testBasePort(0), heartbeatPeriodMicros: 1000, scoreMax: 255,
      stuckReplicationTimeoutMicros: 5_000_000,
      ...(process.env.MU_TEST_KEEP_DIR ? { dir: process.env.MU_TEST_KEEP_DIR, keepDir: true } : {}) });
    await cluster.waitReady(READY_MS);
    await atLeader('the first write', async (c) => {
      expect(await c.set('hello', 'world')).toBe('OK');
    });
    acknowledged.set('hello', 'world');
  }, READY_MS + LEADER_MS * 2);

  afterAll(async () => {
    if (retries.length > 0) process.stderr.write(`redis-client.test: rode out leader changes:\n  ${retries.join('\n  ')}\n`);
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  }, 60_000);

  test('SET/GET/INCR/MSET/MGET/EXPIRE/TTL/DEL through the leader', async () => {
    // Fresh keys per attempt: an attempt cut short by a leader change may have applied part of its writes.
    const written = await atLeader('basic commands', async (c, attempt) => {
      const k = (name: string) => `basic:${attempt}:${name}`;
      expect(await c.get('hello')).toBe('world');
      expect(await c.set(k('set'), 'v1')).toBe('OK');
      expect(await c.get(k('set'))).toBe('v1');
      expect(await c.get(k('missing'))).toBeNull();
      expect(await c.incr(k('counter'))).toBe(1);
      expect(await c.incrby(k('counter'), 41)).toBe(42);
      expect(await c.get(k('counter'))).toBe('42');
      expect(await c.mset(k('a'), 'A', k('b'), 'B', k('c'), 'C')).toBe('OK');
      expect(await c.mget(k('a'), k('b'), k('missing'), k('c'))).toEqual(['A', 'B', null, 'C']);
      expect(await c.ttl(k('a'))).toBe(-1);  // no expiry
      expect(await c.ttl(k('missing'))).toBe(-2);  // no such key
      expect(await c.expire(k('a'), 1000)).toBe(1);
      const ttl = await c.ttl(k('a'));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1000);
      expect(await c.expire(k('missing'), 1000)).toBe(0);
      expect(await c.del(k('b'), k('c'), k('missing'))).toBe(2);
      expect(await c.mget(k('a'), k('b'), k('c'))).toEqual(['A', null, null]);
      // A command the server rejects leaves the connection usable.
      await expect(c.incr(k('set'))).rejects.toThrow(/^ERR value is not an integer/);
      expect(await c.get(k('set'))).toBe('v1');
      return [[k('set'), 'v1'], [k('counter'), '42'], [k('a'), 'A']] as const;
    });
    for (const [key, value] of written) acknowledged.set(key, value);
  }, 300_000);

  test('pipelined commands come back in order, each with its own reply', async () => {
    const n = 200;
    const written = await atLeader('a pipeline', async (c, attempt) => {
      const k = (name: string | number) => `pipe:${attempt}:${name}`;
      const p = c.pipeline();
      for (let i = 0; i < n; i++) p.set(k(i), `value-${i}`);
      for (let i = 0; i < n; i++) p.incr(k('counter'));
      for (let i = 0; i < n; i++) p.get(k(i));
      const replies = (await p.exec())!;
      expect(replies).toHaveLength(3 * n);
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0];  // a leadership error retries the pipeline; anything else fails the test
      expect(replies.slice(0, n).map(([, r]) => r)).toEqual(Array(n).fill('OK'));
      // The INCRs were applied in the order they were sent: 1, 2, ..., n.
      expect(replies.slice(n, 2 * n).map(([, r]) => r)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(replies.slice(2 * n).map(([, r]) => r)).toEqual(Array.from({ length: n }, (_, i) => `value-${i}`));
      return [...Array.from({ length: n }, (_, i) => [k(i), `value-${i}`] as const), [k('counter'), String(n)] as const];
    });
    for (const [key, value] of written) acknowledged.set(key, value);
  }, 300_000);

  test('a follower answers -MOVED naming the leader, and the client surfaces it as an error', async () => {
    let checked = 0;
    await until('a MOVED from each follower while the leadership holds still', async () => {
      const l = await findLeader();
      const address = `127.0.0.1:${l.port}`;
      for (const follower of running().filter((r) => r.id !== l.id)) {
        const c = track(await connected(follower.respPort));
        try {
          for (const command of [() => c.get('hello'), () => c.set('via-follower', 'x'), () => c.incr('via-follower:n')]) {
            const error = await command().then(() => undefined, (e: unknown) => e);
            // The client library surfaces the redirect as a ReplyError carrying the leader's address.
            if (!isReplyError(error) || !movedTo(error)) return false;  // the leadership moved meanwhile
            if (movedTo(error)!.port !== l.port) return false;
            expect(error.message).toBe(`MOVED 0 ${address}`);
            expect(movedTo(error)).toEqual({ host: '127.0.0.1', port: l.port });
          }
        } finally {
          c.disconnect();
          clients.delete(c);
        }
        checked++;
      }
      // Nothing was applied through a follower, and the address named serves.
      expect(await l.client.exists('via-follower', 'via-follower:n')).toBe(0);
      expect(await l.client.get('hello')).toBe('world');
      return true;
    }, LEADER_MS, () => logs(cluster));
    expect(checked).toBeGreaterThanOrEqual(2);
  }, 300_000);

  test('concurrent clients incrementing one counter: every acknowledged INCR counted exactly once', async () => {
    const nClients = 6;
    const perClient = 50;
    const key = 'concurrent:counter';
    let uncertain = 0;
    const seen = await Promise.all(Array.from({ length: nClients }, async () => {
      const values: number[] = [];
      let c: Redis | undefined;
      let port = (leader ?? await findLeader()).port;
      for (let done = 0; done < perClient;) {
        try {
          c ??= track(await connected(port));
          values.push(await c.incr(key));
          done++;
        } catch (e) {
          if (!leadershipMoved(e)) throw e;
          // Not applied: retried. Uncertain: may have been applied; counted as one more attempt, not retried.
          retries.push(`concurrent INCR: ${String(e)}`);
          if (!notApplied(e)) {
            uncertain++;
            done++;
          }
          c?.disconnect();
          c = undefined;
          port = movedTo(e)?.port ?? (await findLeader()).port;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      c?.disconnect();
      return values;
    }));
    const acked = seen.flat();
    const final = Number(await atLeader('reading the counter', async (c) => c.get(key)));
    // Each acknowledged INCR returned a distinct value, each client's values increase, and the counter holds every
    // acknowledged increment (plus those of uncertain outcome that were applied after all).
    expect(new Set(acked).size).toBe(acked.length);
    for (const values of seen) expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(final).toBeGreaterThanOrEqual(acked.length);
    expect(final).toBeLessThanOrEqual(acked.length + uncertain);
    expect(Math.max(...acked)).toBeLessThanOrEqual(final);
    if (uncertain === 0) {
      // No leader change cut an INCR short (the usual case): the exact sum, and exactly the values 1..total.
      expect(final).toBe(nClients * perClient);
      expect([...acked].sort((a, b) => a - b)).toEqual(Array.from({ length: nClients * perClient }, (_, i) => i + 1));
    }
    // With uncertain INCRs left, one might still be decided by a later leader: the value is only checked without them.
    if (uncertain === 0) acknowledged.set(key, String(final));
  }, 300_000);

  test('SIGKILL of the leader: the client follows MOVED to the new leader and reads back every acknowledged write',
    async () => {
      // Writes racing the kill, on their own connection to the leader: those acknowledged must survive. Until the kill,
      // a (spurious) leader change only sends the writer to the new leader.
      let target = await findLeader();
      let writer = track(await connected(target.port));
      let killed = false;
      let acks = 0;
      let afterKill = 0;
      const race = (async () => {
        for (let i = 0; ; i++) {
          try {
            if ((await writer.set(`race:${i}`, `r${i}`)) === 'OK') {
              acknowledged.set(`race:${i}`, `r${i}`);
              acks++;
            }
          } catch (e) {
            if (!leadershipMoved(e)) throw e;
            if (killed) return;  // the leader died under this write: its outcome is unknown
            retries.push(`racing writer: ${String(e)}`);
            writer.disconnect();
            target = await findLeader();
            writer = track(await connected(target.port));
          }
          if (killed && ++afterKill > 1000) return;  // the writer had moved away from the killed leader
        }
      })();
      await until('some writes acknowledged before the kill', async () => acks >= 20, LEADER_MS, () => logs(cluster));
      const old = target;
      killed = true;
      cluster.kill(old.id, 'SIGKILL');
      expect(await cluster.waitExit(old.id, 10_000)).toMatchObject({ signal: 'SIGKILL' });
      await race;

      // Ask a survivor: a follower names the new leader with -MOVED, the new leader answers.
      const l = await until('a survivor that serves, or names one with MOVED', async () => {
        for (const r of running()) {
          const s = track(await connected(r.respPort).catch(() => undefined) ?? client(r.respPort));
          const reply = await s.get('hello').then((v) => ({ v }), (e: unknown) => ({ e }));
          if ('v' in reply) return { id: r.id, client: s };
          s.disconnect();
          const to = movedTo(reply.e);
          if (!to || to.port === old.port) continue;  // no leader yet, or a stale view
          const next = track(await connected(to.port).catch(() => undefined) ?? client(to.port));
          if (await next.get('hello').then(() => true, () => false)) {
            return { id: cluster.replicas.find((x) => x.respPort === to.port)!.id, client: next };
          }
          next.disconnect();
        }
        return undefined;
      }, LEADER_MS, () => logs(cluster));
      expect(l.id).not.toBe(old.id);
      // The surviving agents agree on it.
      await until('the survivors naming the new leader in /status', async () => (await cluster.leader()) === l.id,
        LEADER_MS, () => logs(cluster));
      leader = { id: l.id, port: cluster.replicas[l.id]!.respPort, client: l.client };

      const keys = [...acknowledged.keys()];
      expect(keys.length).toBeGreaterThan(200 + 20);
      const values = await atLeader('reading every acknowledged write', async (c) => c.mget(...keys));
      const lost = keys.flatMap((k, i) => (values[i] === acknowledged.get(k) ? [] :
        [`${k}: acknowledged ${acknowledged.get(k)}, read ${values[i]}`]));
      expect(lost).toEqual([]);
      // The new leader takes writes.
      await atLeader('a write after the failover', async (c) => {
        expect(await c.set('after-failover', 'yes')).toBe('OK');
        expect(await c.get('after-failover')).toBe('yes');
      });
    }, LEADER_MS * 4);
});
