// The replicas of a chaos run: one process per network namespace, started, killed, paused and
// restarted by the driver. Two kinds of replica process:
//   launcher  native/build-chaos/mu-kv-replica: prints JSON lines (started, engine events, stats
//             every --stats-interval-ms) and takes soft-fabric fault-hook commands on stdin
//             (delay, hold, loss);
//   agent     the node agent (node-agent/src/agent/main.ts) with a cluster.json and fabric key as
//             the operator mounts them: stats from its /status endpoint, events from its pino log;
//             no fabric fault hooks (the agent does not expose them).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { replicaAddress, type Testbed } from './netns.js';

export const BOOTSTRAP_PORT = 7000;
export const FABRIC_PORT = 7001;
export const RESP_PORT = 6379;
export const AGENT_PORT = 8080;

export type ReplicaKind = 'launcher' | 'agent';

export interface ReplicaStats {
  id: number;
  wall_us: number;
  role: 'leader' | 'follower' | 'candidate';
  leader: number | null;
  voter: boolean;
  phase: string;
  proposal: number;
  commit_index: number;
  applied_index: number;
  confirmed_followers: number;
  pending: number;
  failovers: number;
  heartbeat_stopped: boolean;
  leader_view: number | null;
  catch_up_impossible: number;
  /** Launcher only (this incarnation): states fetched and installed; as a candidate, caught itself up from a
   *  follower's log or fetched that follower's state. */
  state_transfers?: number;
  self_catch_ups?: number;
  self_transfers?: number;
  peers: { id: number; alive: boolean; score: number }[];
}

/** Engine recoveries seen over the whole run, every incarnation of every replica (launcher stats lines). */
export interface RecoveryCounts {
  stateTransfers: number;
  selfCatchUps: number;
  selfTransfers: number;
}

export interface ReplicaEvent {
  id: number;
  wall_us: number;
  kind: string;
  a: number | null;
  b: number | null;
  value: number;
  detail: string;
}

export type ReplicaState = 'down' | 'running' | 'paused';

export class Replica {
  readonly id: number;
  state: ReplicaState = 'down';
  process: ChildProcess | undefined;
  pid: number | undefined;
  stats: ReplicaStats | undefined;
  statsAt = 0; // Date.now() of the last stats line
  startedAt = 0;
  incarnation = 0;
  exited: Promise<void> = Promise.resolve();

  constructor(id: number) {
    this.id = id;
  }

  get respAddress(): string {
    return `${replicaAddress(this.id)}:${RESP_PORT}`;
  }
}

export interface ClusterOptions {
  kind: ReplicaKind;
  /** launcher: the mu-kv-replica binary. */
  binary: string;
  testbed: Testbed;
  replicas: number;
  secret: string;
  outDir: string;
  /** Extra flags for every replica process (launcher: detector settings, log size; agent: agent flags). */
  extraFlags: string[];
  onEvent?: (e: ReplicaEvent) => void;
  log: (line: string) => void;
}

export class Cluster {
  readonly replicas: Replica[];
  readonly events: ReplicaEvent[] = [];
  readonly recoveries: RecoveryCounts = { stateTransfers: 0, selfCatchUps: 0, selfTransfers: 0 };
  private readonly logs: WriteStream[];
  private readonly opts: ClusterOptions;

  private readonly pollers: NodeJS.Timeout[] = [];

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.replicas = Array.from({ length: opts.replicas }, (_, i) => new Replica(i));
    this.logs = this.replicas.map((r) => createWriteStream(join(opts.outDir, `replica-${r.id}.log`), { flags: 'a' }));
    if (opts.kind === 'agent') this.writeAgentFiles();
  }

  get hasFabricHooks(): boolean {
    return this.opts.kind === 'launcher';
  }

  // The files the operator mounts into pods: cluster.json (members, engine settings) and the key.
  private writeAgentFiles(): void {
    const members = this.replicas.map((r) => ({
      id: r.id, name: `chaos-${r.id}`, host: replicaAddress(r.id), respPort: RESP_PORT, agentPort: AGENT_PORT,
      fabricPort: FABRIC_PORT,
    }));
    const doc = {
      version: 1, cluster: 'chaos', namespace: '', fabric: 'soft', members,
      // As `mu local` runs on a busy 2-core machine (node-agent/src/agent/local-cluster.ts).
      engine: {
        logSizeBytes: 16 << 20, heartbeatPeriodMicros: 1000, scoreMax: 100, failureThreshold: 2, recoveryThreshold: 6,
        stuckReplicationTimeoutMicros: 1_000_000, brokenConnectionTimeoutMicros: 20_000,
        permissionSwitchMechanism: 'accessFlags',
        batching: { maxBatchRequests: 32, maxBatchBytes: 65536, maxOutstandingProposals: 32 },
      },
    };
    writeFileSync(join(this.opts.outDir, 'cluster.json'), `${JSON.stringify(doc, null, 2)}\n`);
    writeFileSync(join(this.opts.outDir, 'fabric-key'), randomBytes(32), { mode: 0o600 });
  }

  private command(i: number, bootstrap: boolean): string[] {
    const ip = replicaAddress(i);
    if (this.opts.kind === 'launcher') {
      return [this.opts.binary, '--id', String(i), '--members', this.members, '--resp-bind', ip,
        '--stats-interval-ms', '200', '--exit-on-stdin-eof', ...this.opts.extraFlags, ...(bootstrap ? ['--bootstrap'] : [])];
    }
    const require = createRequire(import.meta.url);
    const tsx = pathToFileURL(require.resolve('tsx')).href;
    const main = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../node-agent/src/agent/main.ts');
    return [process.execPath, '--import', tsx, main, `--replica-id=${i}`,
      `--config=${join(this.opts.outDir, 'cluster.json')}`, `--fabric-key-file=${join(this.opts.outDir, 'fabric-key')}`,
      `--http-host=${ip}`, `--resp-bind=${ip}`, `--pod-ip=${ip}`, '--fabric=soft', '--busy-poll=false',
      '--log-level=info', '--bootstrap-timeout-seconds=120', ...this.opts.extraFlags, ...(bootstrap ? ['--bootstrap'] : [])];
  }

  get members(): string {
    return this.replicas
      .map((r) => `${replicaAddress(r.id)}:${BOOTSTRAP_PORT}:${FABRIC_PORT}:${RESP_PORT}`)
      .join(',');
  }

  /** Starts replica i in its namespace: bootstrap=true only for the brand-new cluster. */
  start(i: number, bootstrap: boolean): void {
    const r = this.replicas[i];
    if (r.state !== 'down') throw new Error(`replica ${i} is already running`);
    const args = ['netns', 'exec', this.opts.testbed.replicaNs[i], ...this.command(i, bootstrap)];
    const log = this.logs[i];
    r.incarnation++;
    log.write(`--- ${new Date().toISOString()} start #${r.incarnation} (bootstrap=${bootstrap})\n`);
    const child = spawn('ip', args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, MU_SECRET: this.opts.secret, NODE_OPTIONS: '' },
    });
    r.process = child;
    r.pid = child.pid;
    r.state = 'running';
    r.stats = undefined;
    r.statsAt = 0;
    r.startedAt = Date.now();
    const incarnation = r.incarnation;
    child.stdin?.on('error', () => undefined); // a dead replica's stdin: EPIPE is expected
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(line + '\n');
      let msg: { type?: string } & Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (r.incarnation !== incarnation) return;
      if (this.opts.kind === 'agent') {
        // pino lines; engine events carry "event" (LeaderChanged, PeerFailed, QuorumLost, ...).
        if (typeof msg.event === 'string') {
          const e: ReplicaEvent = {
            id: i, wall_us: Date.now() * 1000, kind: msg.event,
            a: (msg.from ?? msg.peer ?? msg.candidate ?? null) as number | null, b: (msg.to ?? null) as number | null,
            value: 0, detail: String(msg.detail ?? msg.msg ?? ''),
          };
          this.events.push(e);
          this.opts.onEvent?.(e);
        }
        return;
      }
      if (msg.type === 'stats') {
        const next = msg as unknown as ReplicaStats;
        // Counters restart with each incarnation (r.stats is cleared at start): add what moved.
        const moved = (k: 'state_transfers' | 'self_catch_ups' | 'self_transfers') =>
          Math.max(0, (next[k] ?? 0) - (r.stats?.[k] ?? 0));
        this.recoveries.stateTransfers += moved('state_transfers');
        this.recoveries.selfCatchUps += moved('self_catch_ups');
        this.recoveries.selfTransfers += moved('self_transfers');
        r.stats = next;
        r.statsAt = Date.now();
      } else if (msg.type === 'event') {
        const e = msg as unknown as ReplicaEvent;
        this.events.push(e);
        this.opts.onEvent?.(e);
      } else if (msg.type === 'error') {
        this.opts.log(`replica ${i}: ${String(msg.message)}`);
      }
    });
    child.stderr?.on('data', (d: Buffer) => log.write(d));
    if (this.opts.kind === 'agent') this.pollStatus(r, incarnation);
    r.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        log.write(`--- ${new Date().toISOString()} exit #${incarnation} code=${code} signal=${signal}\n`);
        if (r.incarnation === incarnation) {
          r.state = 'down';
          r.process = undefined;
          r.pid = undefined;
          r.stats = undefined;
          if (signal !== 'SIGKILL') this.opts.log(`replica ${i} exited on its own (code ${code}, signal ${signal})`);
        }
        resolve();
      });
    });
  }

  // Agent mode: its /status, every 200 ms, as the launcher's stats line (a paused agent's goes stale).
  private pollStatus(r: Replica, incarnation: number): void {
    const timer = setInterval(() => {
      if (r.incarnation !== incarnation || r.state === 'down') {
        clearInterval(timer);
        return;
      }
      if (r.state === 'paused') return;
      getStatus(replicaAddress(r.id), AGENT_PORT).then((doc) => {
        if (!doc || r.incarnation !== incarnation || r.state !== 'running') return;
        const engine = (doc.engine ?? {}) as Record<string, unknown>;
        const members = (doc.members ?? []) as { id: number; self: boolean; alive: boolean; heartbeatScore: number | null }[];
        r.stats = {
          id: r.id, wall_us: Date.now() * 1000,
          role: doc.role === 'learner' ? 'follower' : (doc.role as ReplicaStats['role']),
          leader: (doc.leaderId ?? null) as number | null, voter: Boolean(engine.voter), phase: String(engine.phase ?? ''),
          proposal: Number(doc.proposalNumber ?? 0), commit_index: Number(doc.commitIndex ?? 0),
          applied_index: Number(doc.appliedIndex ?? 0), confirmed_followers: Number(engine.confirmedFollowers ?? 0),
          pending: Number(engine.pendingRequests ?? 0), failovers: Number(engine.failovers ?? 0),
          heartbeat_stopped: Boolean(engine.heartbeatStopped), leader_view: (engine.leaderView ?? null) as number | null,
          catch_up_impossible: 0,
          peers: members.filter((m) => !m.self).map((m) => ({ id: m.id, alive: m.alive, score: m.heartbeatScore ?? 0 })),
        };
        r.statsAt = Date.now();
      }, () => undefined);
    }, 200);
    this.pollers.push(timer);
  }

  async kill(i: number): Promise<void> {
    const r = this.replicas[i];
    if (r.state === 'down' || !r.process) return;
    r.process.kill('SIGKILL');
    if (r.state === 'paused') r.process.kill('SIGCONT');
    await r.exited;
  }

  pause(i: number): void {
    const r = this.replicas[i];
    if (r.state !== 'running' || !r.process) throw new Error(`replica ${i} is not running`);
    r.process.kill('SIGSTOP');
    r.state = 'paused';
  }

  resume(i: number): void {
    const r = this.replicas[i];
    if (r.state !== 'paused' || !r.process) return;
    r.process.kill('SIGCONT');
    r.state = 'running';
    r.statsAt = 0; // stale until it reports again
  }

  /** A fault-hook command on the replica's stdin (see mu_kv_replica_main.cc). */
  control(i: number, command: string): void {
    const r = this.replicas[i];
    if (r.state === 'down' || !r.process?.stdin) return;
    r.process.stdin.write(command + '\n');
  }

  /** Fresh stats (reported within `maxAgeMs`) of the running replicas. */
  freshStats(maxAgeMs = 1000): ReplicaStats[] {
    const now = Date.now();
    return this.replicas
      .filter((r) => r.state === 'running' && r.stats && now - r.statsAt <= maxAgeMs)
      .map((r) => r.stats!);
  }

  /** The replica that leads by its own account and everyone else's, if there is exactly one. */
  agreedLeader(): number | undefined {
    const stats = this.freshStats();
    const leaders = stats.filter((s) => s.role === 'leader');
    if (leaders.length !== 1) return undefined;
    const l = leaders[0].id;
    return stats.every((s) => s.leader === l) ? l : undefined;
  }

  /** Every replica running, reporting, a voter, following one leader, and caught up with it. */
  healthy(): { ok: boolean; why: string } {
    const down = this.replicas.filter((r) => r.state !== 'running');
    if (down.length) return { ok: false, why: `replica ${down.map((r) => r.id).join(',')} ${down[0].state}` };
    const stats = this.freshStats();
    if (stats.length !== this.replicas.length) return { ok: false, why: 'waiting for stats' };
    const learners = stats.filter((s) => !s.voter);
    if (learners.length) return { ok: false, why: `replica ${learners.map((s) => s.id).join(',')} still a learner` };
    const leader = this.agreedLeader();
    if (leader === undefined) {
      return { ok: false, why: `no agreed leader (${stats.map((s) => `${s.id}:${s.role}->${s.leader}`).join(' ')})` };
    }
    // Every pair sees the other alive, not only the leader's pairs: the next failover needs the
    // followers' links (a run once lost its quorum to a follower pair that never reconnected).
    const apart = stats.flatMap((s) => s.peers.filter((p) => !p.alive).map((p) => `${s.id}->${p.id}`));
    if (apart.length) return { ok: false, why: `peers not seen alive: ${apart.join(' ')}` };
    const ls = stats.find((s) => s.id === leader)!;
    if (ls.confirmed_followers < this.replicas.length - 1) {
      return { ok: false, why: `leader ${leader} confirms ${ls.confirmed_followers} followers` };
    }
    const behind = stats.filter((s) => s.applied_index + 64 < ls.commit_index);
    if (behind.length) return { ok: false, why: `replica ${behind.map((s) => s.id).join(',')} behind the leader` };
    return { ok: true, why: `leader ${leader}` };
  }

  async stopAll(): Promise<void> {
    for (const t of this.pollers) clearInterval(t);
    await Promise.all(this.replicas.map((r) => this.kill(r.id)));
    await Promise.all(this.logs.map((l) => new Promise<void>((resolve) => l.end(resolve))));
  }
}

function getStatus(host: string, port: number): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolveGet) => {
    const req = http.get({ host, port, path: '/status', timeout: 500 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolveGet(res.statusCode === 200 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined);
        } catch {
          resolveGet(undefined);
        }
      });
      res.on('error', () => resolveGet(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveGet(undefined));
  });
}
