import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { pino } from 'pino';

import { agentStatusProblem } from '../../../operator/src/agents/status-client.js';
import { RespProbe } from '../cli/resp-probe.js';
import { Agent } from './agent.js';
import { loadAgentConfig } from './config.js';
import { AgentHttpServer } from './http-server.js';
import { testBasePort } from './testing/ports.js';

interface Reply {
  code: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8') }));
      });
    req.on('error', reject);
    req.end(options.body);
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format back into samples (and checks every line is well-formed). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    // Values are Go floats: NaN and ±Inf in any case are allowed (prom-client writes "Nan" for an empty gauge).
    const raw = m[3]!;
    const value = /^nan$/i.test(raw) ? Number.NaN : /^[+-]?inf$/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity)
      : Number(raw);
    if (Number.isNaN(value) && !/^nan$/i.test(raw)) throw new Error(`not a number: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the agent\'s HTTP endpoints, on loopback, with a real one-replica engine', () => {
  const base = testBasePort(2);
  let dir: string;
  let agent: Agent;
  let port: number;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mu-agent-http-'));
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify({
      version: 1, cluster: 'http-test', namespace: 'default', fabric: 'soft',
      members: [{ id: 0, name: 'http-test-0', host: '127.0.0.1', respPort: base, agentPort: base + 1, fabricPort: base + 2 }],
      engine: { logSizeBytes: 4 << 20, heartbeatPeriodMicros: 1000 },
    }));
    writeFileSync(join(dir, 'key'), 'http-test-key');
    writeFileSync(join(dir, 'token'), 's3cret-token\n');
    const config = loadAgentConfig({
      argv: ['--replica-id=0', `--config=${join(dir, 'cluster.json')}`, `--fabric-key-file=${join(dir, 'key')}`,
        '--bootstrap', '--http-host=127.0.0.1', '--http-port=0', '--resp-bind=127.0.0.1', '--busy-poll=false',
        `--status-token-file=${join(dir, 'token')}`],
      env: { MU_POD_NAME: 'http-test-0' },
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    agent = await Agent.start(config, { logger: pino({ level: 'info' }, sink) });
    port = agent.httpAddress().port;
    await until('ready', async () => (await request(port, '/readyz')).code === 200, 120_000);
  }, 180_000);

  afterAll(async () => {
    await agent?.shutdown('test done');
    rmSync(dir, { recursive: true, force: true });
  });

  test('/healthz: alive', async () => {
    const r = await request(port, '/healthz');
    expect(r.code).toBe(200);
    expect(r.body).toBe('ok: running\n');
  });

  test('/readyz: connected to a quorum, caught up, a voter', async () => {
    const r = await request(port, '/readyz');
    expect(r.code).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ ready: true, quorum: true, voter: true, caughtUp: true, reasons: [],
      replicaId: 0, role: 'leader' });
  });

  test('/status needs the bearer token, then answers what the operator parses', async () => {
    expect((await request(port, '/status')).code).toBe(401);
    const wrong = await request(port, '/status', { headers: { Authorization: 'Bearer nope' } });
    expect(wrong.code).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer/);
    const auth = { headers: { Authorization: 'Bearer s3cret-token' } };
    // Engine events (the permission switch of the election) reach the agent within milliseconds.
    const r = await until('the election\'s events', async () => {
      const reply = await request(port, '/status', auth);
      return (JSON.parse(reply.body) as { permissionSwitch?: { recentMicros: number[] } }).permissionSwitch?.recentMicros
        .length ? reply : undefined;
    });
    expect(r.code).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const doc = JSON.parse(r.body) as Record<string, any>;
    expect(agentStatusProblem(doc)).toBeUndefined();
    expect(doc).toMatchObject({
      replicaId: 0, role: 'leader', leaderId: 0, applyLag: 0, ready: true, phase: 'running', cluster: 'http-test',
      fabric: { kind: 'soft', address: `127.0.0.1:${base + 2}` },
      members: [{ id: 0, name: 'http-test-0', self: true, leader: true, alive: true, resp: `127.0.0.1:${base}` }],
      pod: { name: 'http-test-0' }, bootstrap: true,
      versions: { agent: expect.any(String), engine: expect.any(String), node: process.version },
      log: { ringBytes: 4 << 20 },
    });
    expect(doc.failovers[0]).toMatchObject({ fromId: null, toId: 0, reason: 'initial', id: expect.stringMatching(/^0@\d+$/) });
    expect(doc.permissionSwitch.recentMicros.length).toBeGreaterThan(0);
    expect(doc.permissionSwitch.mechanismCounts.accessFlags).toBeGreaterThan(0);
  });

  test('/metrics: Prometheus exposition that parses back, following the engine', async () => {
    const probe = new RespProbe('127.0.0.1', base);
    try {
      for (let i = 0; i < 10; i++) expect((await probe.command(['SET', `k${i}`, 'v'])).line).toBe('+OK');
      expect((await probe.command(['GET', 'k3'])).line).toBe('v');
    } finally {
      probe.close();
    }
    const one = { replica: '0' };
    // The engine publishes its counters every few hundred polls: scrape until they caught up with the writes.
    const r = await until('metrics to follow the writes', async () => {
      const reply = await request(port, '/metrics');
      const { samples: s } = parseExposition(reply.body);
      return (sample(s, 'mu_proposals_total', one) ?? 0) >= 11 && sample(s, 'mu_kv_keys', one) === 10 ? reply : undefined;
    });
    expect(r.code).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(r.body);
    expect(sample(samples, 'mu_role', { ...one, role: 'leader' })).toBe(1);
    expect(sample(samples, 'mu_role', { ...one, role: 'follower' })).toBe(0);
    expect(sample(samples, 'mu_leader_id', one)).toBe(0);
    expect(sample(samples, 'mu_ready', one)).toBe(1);
    expect(sample(samples, 'mu_proposals_total', one)).toBeGreaterThanOrEqual(11);
    expect(sample(samples, 'mu_commits_total', one)).toBeGreaterThan(0);
    expect(sample(samples, 'mu_kv_keys', one)).toBe(10);
    expect(sample(samples, 'mu_apply_lag_entries', one)).toBe(0);
    expect(sample(samples, 'mu_log_size_bytes', one)).toBe(4 << 20);
    expect(sample(samples, 'mu_log_usage_ratio', one)).toBeGreaterThanOrEqual(0);
    expect(sample(samples, 'mu_failovers_total', { ...one, from: 'none', to: '0' })).toBe(1);
    expect(sample(samples, 'mu_permission_switch_seconds_count', { ...one, mechanism: 'accessFlags' })).toBeGreaterThan(0);
    expect(types.get('mu_permission_switch_seconds')).toBe('histogram');
    // Every decided entry is in the replication latency histogram, and the exact sum is positive.
    expect(types.get('mu_replication_latency_seconds')).toBe('histogram');
    expect(sample(samples, 'mu_replication_latency_seconds_count', one)).toBe(sample(samples, 'mu_commits_total', one));
    expect(sample(samples, 'mu_replication_latency_seconds_total', one)).toBeGreaterThan(0);
    expect(types.get('mu_failovers_total')).toBe('counter');
    expect(types.get('mu_peer_heartbeat_score')).toBe('gauge');
    expect(sample(samples, 'mu_replica_info', { ...one, cluster: 'http-test', fabric: 'soft' })).toBe(1);
    expect(sample(samples, 'mu_agent_process_resident_memory_bytes', one)).toBeGreaterThan(0);
    // Counters only grow between scrapes.
    const again = parseExposition((await request(port, '/metrics')).body).samples;
    expect(sample(again, 'mu_proposals_total', one)).toBeGreaterThanOrEqual(sample(samples, 'mu_proposals_total', one)!);
  });

  test('the role change and the election were logged at info with their timings', async () => {
    // The role is sampled from the engine's stats; give the sampler a few ticks before asserting.
    await until('the RoleChanged log line', async () => logLines.some((l) => l.event === 'RoleChanged' && l.to === 'leader'),
      5_000).catch(() => undefined);
    expect(logLines).toContainEqual(expect.objectContaining({ level: 30, event: 'RoleChanged', to: 'leader' }));
    expect(logLines).toContainEqual(expect.objectContaining({ level: 30, event: 'FailoverCompleted', to: 0,
      permissionSwitchMicros: expect.any(Number), totalMicros: expect.any(Number) }));
  });

  test('unknown paths and methods', async () => {
    expect((await request(port, '/nope')).code).toBe(404);
    const post = await request(port, '/status', { method: 'POST' });
    expect(post.code).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const get = await request(port, '/switchover', { headers: { Authorization: 'Bearer s3cret-token' } });
    expect(get.code).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });

  test('POST /switchover: the bearer token, the body checked, and to the leader itself accepted', async () => {
    const post = (body: string, token = 's3cret-token'): Promise<Reply> => request(port, '/switchover', {
      method: 'POST', body, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
    expect((await request(port, '/switchover', { method: 'POST', body: '{"to":0}' })).code).toBe(401);
    expect((await post('{"to":0}', 'nope')).code).toBe(401);
    for (const bad of ['', 'not json', '[]', '{}', '{"to":"0"}', '{"to":-1}', '{"to":0.5}', 'null']) {
      const r = await post(bad);
      expect({ bad, code: r.code }).toEqual({ bad, code: 400 });
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: expect.any(String) });
    }
    const nonMember = await post('{"to":1}');
    expect(nonMember.code).toBe(400);
    expect(JSON.parse(nonMember.body)).toEqual({ ok: false, error: 'replica 1 is not a member (ids 0..0)' });
    // One replica: a switchover to itself (the leader) is accepted and changes nothing but the preference.
    const self = await post('{"to":0}');
    expect(self.code).toBe(202);
    expect(JSON.parse(self.body)).toEqual({ ok: true, to: 0 });
    const status = await until('the preference in /status', async () => {
      const doc = JSON.parse((await request(port, '/status', { headers: { Authorization: 'Bearer s3cret-token' } })).body) as
        { leaderId: number; engine: { preferredLeader: number | null } };
      return doc.engine.preferredLeader === 0 ? doc : undefined;
    }, 5_000);
    expect(status.leaderId).toBe(0);
  });
});

describe('the HTTP server before the engine runs', () => {
  test('/healthz answers, /readyz and /status say the engine is starting', async () => {
    const server = new AgentHttpServer({
      health: () => ({ ok: true, detail: 'starting' }),
      readiness: () => ({ ready: false, reasons: ['the engine is starting'] }),
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      status: () => undefined,
      switchover: async () => ({ code: 503, doc: { ok: false, error: 'the engine is starting' } }),
    }, { host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    try {
      expect(await request(port, '/healthz')).toMatchObject({ code: 200, body: 'ok: starting\n' });
      const ready = await request(port, '/readyz');
      expect(ready.code).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({ ready: false, reasons: ['the engine is starting'] });
      expect((await request(port, '/status')).code).toBe(503);
      const switchover = await request(port, '/switchover', { method: 'POST', body: '{"to":1}' });
      expect(switchover.code).toBe(503);
      expect(JSON.parse(switchover.body)).toEqual({ ok: false, error: 'the engine is starting' });
    } finally {
      await server.close();
    }
  });
});
