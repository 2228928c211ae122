// Chaos on real processes (DESIGN.md §6, issue 4 "Verification, part 2"): N mu-kv-replica processes
// on the soft fabric, one network namespace each, under concurrent RESP clients, with faults
// injected — SIGKILL of the leader and its restart as a learner, SIGSTOP/SIGCONT of the leader,
// nftables partitions, a veth taken down, and the soft fabric's delay, loss and hold hooks. Every
// client operation is recorded with its invocation and completion time; afterwards every
// acknowledged write must be readable (through successive leaders, including the restarted one)
// and the history must be linearizable (porcupine, test/chaos/linearizability).
//
//   tsx test/chaos/driver.ts [--duration 60] [--clients 6] [--max-ops 60000] [--seed N]
//                            [--faults kill-leader,pause-leader,...] [--out DIR] [--budget S]
//                            [--fault-order shuffled|given] [--keys 8] [--think-ms 8]
//                            [--recovery-timeout 45] [--liveness fail|warn]
//                            [--replica launcher|agent] [--binary native/build-chaos/mu-kv-replica]
//                            [--checker PATH]
//                            [--replica-args "--heartbeat-period-us 1000 ..."]
//
// Needs root (namespaces, nftables). Exit: 0 passed; 1 a linearizability violation or a lost
// acknowledged write; 3 the cluster did not recover from a healed fault in time (liveness; with
// --liveness warn it is reported and the run goes on to verify what it can); 2 the run itself
// failed (setup, checker, budget). The outer process creates the namespaces and
// runs the driver proper inside the switch namespace; whatever happens, it kills every process
// left in the namespaces and deletes them.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Cluster, RESP_PORT, type ReplicaKind } from './cluster.js';
import { ALL_FAULTS, applyFault, type FaultKind } from './faults.js';
import {
  createTestbed,
  destroyTestbed,
  replicaAddress,
  staleNamespaces,
  testbedNames,
  type Testbed,
} from './netns.js';
import { Client, History, keys, Workload, type WorkloadOptions } from './workload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PREFIX = 'mcx';

const { values: args } = parseArgs({
  options: {
    inner: { type: 'boolean', default: false },
    tag: { type: 'string' },
    replicas: { type: 'string', default: '3' },
    duration: { type: 'string', default: '60' },
    clients: { type: 'string', default: '6' },
    'max-ops': { type: 'string', default: '60000' },
    keys: { type: 'string', default: '8' },
    'think-ms': { type: 'string', default: '8' },
    seed: { type: 'string' },
    faults: { type: 'string', default: ALL_FAULTS.join(',') },
    'fault-order': { type: 'string', default: 'shuffled' },
    out: { type: 'string' },
    budget: { type: 'string' },
    replica: { type: 'string', default: 'launcher' },
    binary: { type: 'string', default: join(ROOT, 'native/build-chaos/mu-kv-replica') },
    checker: { type: 'string', default: join(ROOT, 'out/chaos/bin/linearizability') },
    'check-timeout': { type: 'string', default: '300' },
    'recovery-timeout': { type: 'string', default: '45' },
    liveness: { type: 'string', default: 'fail' },
    'replica-args': { type: 'string', default: '' },
  },
});

const int = (name: keyof typeof args) => {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < 0) {
    console.error(`chaos: --${name}: not a non-negative integer: ${String(args[name])}`);
    process.exit(2);
  }
  return v;
};

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// =============================================================================================
// Outer: namespaces, the inner driver inside the switch namespace, cleanup whatever happens.
// =============================================================================================
async function outer(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('chaos: needs root (network namespaces, nftables)');
    return 2;
  }
  if (args.replica !== 'launcher' && args.replica !== 'agent') {
    console.error(`chaos: --replica: launcher or agent, not '${args.replica}'`);
    return 2;
  }
  const addon = process.env.MU_ENGINE_ADDON ?? join(ROOT, 'native/build-addon/Release/mu_engine.node');
  const needed = args.replica === 'launcher'
    ? [['--binary', args.binary!], ['--checker', args.checker!]]
    : [['the engine addon (node hack/build-addon.mjs)', addon], ['--checker', args.checker!]];
  for (const [what, path] of needed) {
    if (!existsSync(path)) {
      console.error(`chaos: ${what}: ${path} does not exist (test/chaos/run.sh builds it)`);
      return 2;
    }
  }
  // Namespaces of crashed earlier runs: their tag carries the pid of the driver that made them.
  const stale = new Set<string>();
  for (const ns of staleNamespaces(PREFIX)) {
    const pid = Number(ns.slice(PREFIX.length).split('-')[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (!alive) stale.add(ns.split('-')[0]);
  }
  for (const tag of stale) {
    console.log(`chaos: removing namespaces left by an earlier run (${tag}-*)`);
    destroyTestbed(testbedNames(tag, 5));
  }

  const replicas = int('replicas');
  const tag = `${PREFIX}${process.pid}`;
  const tb = testbedNames(tag, replicas);
  const out = args.out ?? join(ROOT, 'out/chaos', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(out, { recursive: true });
  const budgetS = args.budget ? int('budget') : int('duration') + 240;

  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    destroyTestbed(tb, [process.pid]);
  };
  createTestbed(tb);
  console.log(`chaos: testbed ${tb.switchNs} + ${tb.replicaNs.join(' ')} (10.251.0.0/24); output in ${out}`);

  const passthrough = process.argv.slice(2).filter((a) => a !== '--inner');
  const child = spawn(
    'ip',
    ['netns', 'exec', tb.switchNs, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url),
      ...passthrough, '--inner', '--tag', tag, '--out', out],
    { stdio: 'inherit' },
  );
  const onSignal = (sig: NodeJS.Signals) => {
    // The driver stops its clients and writes the history so far (no verification), then exits.
    console.error(`chaos: ${sig}: stopping (the history so far is kept)`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const budget = setTimeout(() => {
    console.error(`chaos: the run exceeded its budget of ${budgetS} s: stopping it`);
    child.kill('SIGKILL');
  }, budgetS * 1000);
  const code = await new Promise<number>((resolveExit) => {
    child.on('exit', (c, signal) => resolveExit(c ?? (signal ? 2 : 0)));
    child.on('error', (err) => {
      console.error(`chaos: ${err.message}`);
      resolveExit(2);
    });
  });
  clearTimeout(budget);
  cleanup();
  const left = staleNamespaces(tag);
  if (left.length) console.error(`chaos: namespaces still present after cleanup: ${left.join(' ')}`);
  return code;
}

// =============================================================================================
// Inner: runs inside the switch namespace (the clients' addresses are on the bridge).
// =============================================================================================
interface Annotation {
  start: number;
  end: number;
  tag: string;
  description: string;
}

interface FaultRecord {
  kind: FaultKind;
  target: number;
  description: string;
  startUs: number;
  healUs: number;
  recoveredMs: number | null;
}

async function inner(): Promise<number> {
  const out = args.out!;
  const tb: Testbed = testbedNames(args.tag!, int('replicas'));
  const logFile = createWriteStream(join(out, 'driver.log'));
  const origin = process.hrtime.bigint();
  const now = () => Number((process.hrtime.bigint() - origin) / 1000n);
  const log = (line: string) => {
    const text = `[chaos +${(now() / 1e6).toFixed(3)}s] ${line}`;
    console.log(text);
    logFile.write(text + '\n');
  };
  const seed = args.seed ? int('seed') : Math.floor(Math.random() * 2 ** 31);
  const rng = mulberry32(seed);
  const kind = args.replica as ReplicaKind;
  let faultKinds = args.faults!.split(',').filter(Boolean) as FaultKind[];
  for (const f of faultKinds) {
    if (!ALL_FAULTS.includes(f)) {
      log(`unknown fault '${f}' (known: ${ALL_FAULTS.join(', ')})`);
      return 2;
    }
  }
  if (kind === 'agent') {
    const hooks = faultKinds.filter((f) => f.startsWith('fabric-'));
    if (hooks.length) log(`agent replicas have no fabric fault hooks: ${hooks.join(', ')} left out`);
    faultKinds = faultKinds.filter((f) => !f.startsWith('fabric-'));
    if (faultKinds.length === 0) {
      log('no faults left to inject');
      return 2;
    }
  }
  let interrupted = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (!interrupted) log(`${sig}: stopping; no verification, the history so far is checked`);
      interrupted = true;
    });
  }
  const durationMs = int('duration') * 1000;
  const recoveryMs = int('recovery-timeout') * 1000;
  if (args.liveness !== 'fail' && args.liveness !== 'warn') {
    log(`--liveness: fail or warn, not '${args.liveness}'`);
    return 2;
  }
  const livenessFatal = args.liveness === 'fail';
  log(`seed ${seed}; ${kind} replicas; faults ${faultKinds.join(',')}; duration ${durationMs / 1000} s`);

  const annotations: Annotation[] = [];
  const faults: FaultRecord[] = [];
  const cluster = new Cluster({
    kind,
    binary: args.binary!,
    testbed: tb,
    replicas: tb.replicaNs.length,
    secret: `chaos-${seed}-${process.pid}`,
    outDir: out,
    extraFlags: args['replica-args']!.split(/\s+/).filter(Boolean),
    log,
    onEvent: (e) => {
      if (e.kind === 'LeaderChanged' || e.kind === 'QuorumLost' || e.kind === 'QuorumRestored') {
        log(`replica ${e.id}: ${e.kind} ${e.a ?? '-'} -> ${e.b ?? '-'} ${e.detail}`);
      }
    },
  });
  const addresses = cluster.replicas.map((r) => `${replicaAddress(r.id)}:${RESP_PORT}`);
  const wopts: WorkloadOptions = {
    clients: int('clients'),
    keysPerKind: int('keys'),
    requestTimeoutMs: 1000,
    connectTimeoutMs: 500,
    opDeadlineMs: 10_000,
    thinkMs: int('think-ms'),
    maxOps: int('max-ops'),
    addresses,
    now,
    log,
  };
  const workload = new Workload(wopts);
  // Probes (unrecorded reads) and the final verification reads (recorded, as client N).
  const probe = new Client(1000, { ...wopts, opDeadlineMs: 2000 }, new History());
  const verifier = new Client(wopts.clients, { ...wopts, opDeadlineMs: 15_000 }, workload.history);

  const waitHealthy = async (timeoutMs: number, what: string): Promise<number | null> => {
    const start = Date.now();
    let why = '';
    while (Date.now() - start < timeoutMs) {
      const h = cluster.healthy();
      why = h.why;
      if (h.ok) {
        const r = await probe.run('GET', 'probe', undefined, false);
        if (r.status === 'ok') return Date.now() - start;
        why = `probe read: ${r.error}`;
      }
      await sleep(100);
    }
    log(`NOT RECOVERED ${what} within ${timeoutMs / 1000} s: ${why}`);
    return null;
  };

  const verdict = { code: 0, problems: [] as string[], liveness: [] as string[] };
  const fail = (code: number, problem: string) => {
    log(`FAILURE: ${problem}`);
    verdict.problems.push(problem);
    if (verdict.code === 0 || code === 1) verdict.code = code;
  };
  // The cluster did not come back: a failure, or (--liveness warn) a finding reported at the end.
  const stuck = (problem: string) => {
    verdict.liveness.push(problem);
    if (livenessFatal) fail(3, problem);
    else log(`LIVENESS: ${problem}`);
  };
  /** Some leader answers reads (not necessarily with every replica back). */
  const waitServing = async (timeoutMs: number): Promise<boolean> => {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      const r = await probe.run('GET', 'probe', undefined, false);
      if (r.status === 'ok') return true;
      await sleep(100);
    }
    return false;
  };

  try {
    for (let i = 0; i < cluster.replicas.length; i++) cluster.start(i, true);
    if ((await waitHealthy(kind === 'agent' ? 120_000 : 60_000, 'after start')) === null) {
      fail(2, 'the cluster did not come up');
      return await finish();
    }
    log(`cluster up: ${cluster.healthy().why}`);
    workload.start();
    await sleep(2000);

    // Faults, round-robin over a shuffled (or the given) order, until the duration or the op budget is spent.
    const order = args['fault-order'] === 'given' ? faultKinds : [...faultKinds].sort(() => rng() - 0.5);
    const started = Date.now();
    for (let n = 0; Date.now() - started < durationMs && !workload.exhausted && !interrupted; n++) {
      const kind = order[n % order.length];
      const startUs = now();
      const f = await applyFault(kind, { cluster, testbed: tb, rng, log });
      log(`fault ${n + 1}: ${f.description}; held ${f.holdMs} ms`);
      for (const until = Date.now() + f.holdMs; Date.now() < until && !interrupted; ) await sleep(50);
      await f.heal();
      const healUs = now();
      annotations.push({ start: startUs, end: healUs, tag: 'faults', description: f.description });
      const recovered = await waitHealthy(recoveryMs, `from ${kind}`);
      faults.push({ kind, target: f.target, description: f.description, startUs, healUs, recoveredMs: recovered });
      if (recovered === null) {
        // No more faults on a cluster that is not whole (another kill could take its quorum).
        stuck(`the cluster did not recover within ${recoveryMs / 1000} s after healing '${f.description}': ${cluster.healthy().why}`);
        break;
      }
      log(`recovered ${recovered} ms after healing (${cluster.healthy().why}); ${workload.issuedOps} ops so far`);
      await sleep(500 + rng() * 1500);
    }
    log('stopping the clients');
    await workload.stop();

    if (interrupted) fail(2, 'interrupted');
    else if (verdict.code === 0 || verdict.code === 3) await verify();
  } catch (err) {
    fail(2, `driver error: ${(err as Error).stack ?? err}`);
  }
  return await finish();

  // --- every acknowledged write readable, through successive leaders ---------------------------
  async function readAll(label: string): Promise<Map<string, string | null> | undefined> {
    const k = keys(wopts.keysPerKind);
    const snapshot = new Map<string, string | null>();
    for (const key of [...k.registers, ...k.counters, ...k.logs]) {
      const r = await verifier.run('GET', key);
      if (r.status !== 'ok' || r.error) {
        stuck(`final read ${label}: GET ${key} failed: ${r.error}`);
        return undefined;
      }
      snapshot.set(key, r.result as string | null);
    }
    log(`final read ${label}: ${snapshot.size} keys via ${verifier.currentTarget}`);
    return snapshot;
  }

  function checkAcknowledged(label: string, snapshot: Map<string, string | null>): void {
    const ops = workload.history.ops.filter((o) => o.client < wopts.clients);
    const k = keys(wopts.keysPerKind);
    let problems = 0;
    const problem = (text: string) => {
      if (problems++ < 20) fail(1, `${label}: ${text}`);
    };
    for (const key of k.logs) {
      const tokens = (snapshot.get(key) ?? '').split(';').filter(Boolean);
      const count = new Map<string, number>();
      for (const t of tokens) count.set(t, (count.get(t) ?? 0) + 1);
      const appends = ops.filter((o) => o.op === 'APPEND' && o.key === key);
      const known = new Set(appends.filter((o) => o.status !== 'fail').map((o) => o.value!.slice(0, -1)));
      for (const o of appends) {
        const t = o.value!.slice(0, -1);
        const c = count.get(t) ?? 0;
        if (o.status === 'ok' && c !== 1) problem(`acknowledged APPEND ${key} ${t} appears ${c} times`);
        if (o.status === 'unknown' && c > 1) problem(`APPEND ${key} ${t} (outcome unknown) appears ${c} times`);
        if (o.status === 'fail' && c > 0) problem(`APPEND ${key} ${t} was refused (${o.error}) yet applied`);
      }
      for (const t of count.keys()) if (!known.has(t)) problem(`${key} holds ${t}, which no client appended`);
    }
    for (const key of k.counters) {
      const v = Number(snapshot.get(key) ?? 0);
      const incrs = ops.filter((o) => o.op === 'INCR' && o.key === key);
      const acked = incrs.filter((o) => o.status === 'ok').length;
      const unknown = incrs.filter((o) => o.status === 'unknown').length;
      if (v < acked) problem(`counter ${key} = ${v} but ${acked} INCRs were acknowledged (lost writes)`);
      if (v > acked + unknown) problem(`counter ${key} = ${v} > ${acked} acknowledged + ${unknown} unknown INCRs`);
    }
    for (const key of k.registers) {
      const v = snapshot.get(key) ?? null;
      const sets = ops.filter((o) => o.op === 'SET' && o.key === key && o.status !== 'fail');
      if (v === null ? sets.some((o) => o.status === 'ok') : !sets.some((o) => o.value === v)) {
        problem(`register ${key} = ${JSON.stringify(v)}: not a value any client wrote (or acknowledged writes lost)`);
      }
    }
    if (problems === 0) log(`${label}: every acknowledged write is there`);
  }

  async function verify(): Promise<void> {
    log('verification: waiting for the cluster to be healthy');
    const whole = (await waitHealthy(recoveryMs, 'for verification')) !== null;
    if (!whole) {
      stuck(`the cluster is not whole after the last fault: ${cluster.healthy().why}`);
      if (!(await waitServing(30_000))) {
        stuck('no leader serves reads: acknowledged writes cannot be verified');
        return;
      }
    }
    const first = await readAll('via the leader');
    if (!first) return;
    checkAcknowledged('via the leader', first);
    if (!whole) return; // killing a replica now could take the quorum
    // The data must survive the leader: kill it, read through the next one.
    // The leader may have changed since the read (a spurious change on a loaded machine): wait
    // until everyone agrees again rather than kill whoever happens to be named.
    let l = cluster.agreedLeader();
    for (const deadline = Date.now() + recoveryMs; l === undefined && Date.now() < deadline; l = cluster.agreedLeader()) {
      await sleep(100);
    }
    if (l === undefined) {
      stuck(`no agreed leader to kill for verification within ${recoveryMs / 1000} s: ${cluster.healthy().why}`);
      return;
    }
    const killUs = now();
    await cluster.kill(l);
    log(`verification: SIGKILL replica ${l} (leader)`);
    const second = await readAll('after killing the leader');
    annotations.push({ start: killUs, end: now(), tag: 'faults', description: `verification: replica ${l} killed` });
    if (!second) return;
    checkAcknowledged('after killing the leader', second);
    // And the restarted replica, once caught up, must hold it too (it leads again when it has the
    // lowest id; otherwise this reads through whoever leads).
    cluster.start(l, false);
    if ((await waitHealthy(recoveryMs, 'after the verification restart')) === null) {
      stuck(`replica ${l}, restarted as a learner, did not rejoin within ${recoveryMs / 1000} s: ${cluster.healthy().why}`);
      return;
    }
    const third = await readAll(`after replica ${l} rejoined`);
    if (!third) return;
    checkAcknowledged(`after replica ${l} rejoined (leader ${cluster.agreedLeader()})`, third);
  }

  async function finish(): Promise<number> {
    await workload.stop().catch(() => undefined);
    probe.close();
    verifier.close();
    await cluster.stopAll();
    const history = {
      meta: { seed, replicaKind: kind, replicas: cluster.replicas.length, clients: wopts.clients, faults, started: new Date().toISOString() },
      operations: workload.history.ops,
      annotations,
    };
    const historyPath = join(out, 'history.json');
    writeFileSync(historyPath, JSON.stringify(history));
    const stats = workload.stats();
    const leaderChanges = cluster.events.filter((e) => e.kind === 'LeaderChanged' && e.b === e.id).length;
    log(`history: ${workload.history.ops.length} operations (${stats.ok} ok, ${stats.unknown} unknown, ${stats.fail} refused) -> ${historyPath}`);

    let checker: Record<string, unknown> = { verdict: 'not run' };
    if (workload.history.ops.length > 0) {
      log('checking linearizability (porcupine)');
      const r = await runChecker(historyPath);
      checker = r.summary;
      if (r.code === 1) fail(1, `the history is NOT linearizable; visualization: ${String(r.summary.visualization)}`);
      else if (r.code !== 0) fail(2, `the checker did not give a verdict (exit ${r.code}): ${r.stderr.trim()}`);
      else log(`linearizable: ${JSON.stringify(r.summary)}`);
    }
    // Per fault: the longest stretch without any completed operation, from the fault to recovery.
    const completions = workload.history.ops
      .filter((o) => o.status === 'ok' && o.client < wopts.clients)
      .map((o) => o.return!)
      .sort((a, b) => a - b);
    const longestGapMs = (from: number, to: number) => {
      let prev = from;
      let gap = 0;
      for (const t of completions) {
        if (t < from) continue;
        if (t > to) break;
        gap = Math.max(gap, t - prev);
        prev = t;
      }
      return Math.round(Math.max(gap, to - prev) / 1000);
    };
    const summary = {
      passed: verdict.code === 0,
      exitCode: verdict.code,
      problems: verdict.problems,
      seed,
      replicaKind: kind,
      operations: workload.history.ops.length,
      ...stats,
      liveness: verdict.liveness,
      faults: faults.map((f) => ({
        kind: f.kind,
        target: f.target,
        heldMs: Math.round((f.healUs - f.startUs) / 1000),
        recoveredMs: f.recoveredMs,
        longestGapMs: longestGapMs(f.startUs, f.healUs + (f.recoveredMs ?? 0) * 1000),
      })),
      faultCounts: faults.reduce<Record<string, number>>((m, f) => ((m[f.kind] = (m[f.kind] ?? 0) + 1), m), {}),
      leaderChanges,
      // States fetched by a replica whose missing entries were recycled, and candidates that caught themselves up.
      recoveries: cluster.recoveries,
      checker,
      history: historyPath,
      output: out,
    };
    writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2));
    for (const f of summary.faults) {
      log(`  ${f.kind.padEnd(18)} replica ${f.target}  held ${String(f.heldMs).padStart(5)} ms  recovered ${String(f.recoveredMs ?? 'NO').padStart(6)} ms after healing  longest stall ${String(f.longestGapMs).padStart(6)} ms`);
    }
    log(`summary: ${JSON.stringify({ ...summary, faults: undefined })}`);
    const warned = verdict.liveness.length ? ` with ${verdict.liveness.length} liveness problem(s) (--liveness warn)` : '';
    log(verdict.code === 0 ? `PASSED${warned} (output in ${out})` : `FAILED (exit ${verdict.code}); history ${historyPath}, logs in ${out}`);
    await new Promise<void>((r) => logFile.end(r));
    return verdict.code;
  }
}

function runChecker(historyPath: string): Promise<{ code: number; summary: Record<string, unknown>; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(args.checker!, ['--timeout', `${int('check-timeout')}s`, historyPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      let summary: Record<string, unknown> = {};
      try {
        summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
      } catch {
        summary = { raw: stdout };
      }
      resolveRun({ code: code ?? 2, summary, stderr });
    });
  });
}

const main = args.inner ? inner : outer;
main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`chaos: ${(err as Error).stack ?? err}`);
    process.exit(2);
  },
);
