// One node agent: runs one replica of the engine (through the addon) and serves its health, readiness, metrics and
// status. Start-up, in order: choose the fabric (RDMA discovery, `auto` falls back to soft on a machine without
// RDMA), check the memlock limit (verbs), serve HTTP (so probes answer during the bootstrap exchange), resolve the
// members' addresses, start the replica. Engine events become log lines, metrics and status; SIGTERM (shutdown())
// hands leadership over before stopping.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

import type { Logger } from 'pino';

import {
  loadEngine, type MuEngine, packageRoot, type Replica, type ReplicaEvent, type ReplicaOptions, type ReplicaStats,
} from '../native/engine.js';
import { type AgentConfig, ConfigError } from './config.js';
import { AgentHttpServer } from './http-server.js';
import { checkMemlock, pinnedBytesEstimate } from './memlock.js';
import { AgentMetrics } from './metrics.js';
import { mergeVerbsDiscovery, readRdmaSysfs, selectRdma } from './rdma.js';
import { SETTINGS } from './settings.js';
import {
  agentRole, buildStatus, type FabricState, leaderOf, majority, newTally, RECENT_SWITCHES, readiness,
  type StatusContext, type StatusDocument,
} from './status.js';

/** A start-up failure that is not a bad setting (exit status 1): a stable code and a message. */
export class AgentStartError extends Error {
  readonly code: string;
  constructor(code: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'AgentStartError';
    this.code = code;
  }
}

export interface AgentDeps {
  logger: Logger;
  engine?: MuEngine;
  /** Host name → IPv4 address (default: DNS, IPv4 only). */
  resolveHost?: (host: string) => Promise<string>;
  /** How often the agent samples stats for role changes (ms). */
  monitorPeriodMs?: number;
}

/** A setting as the user gave it (flag, variable or cluster.json field), for error messages. */
const labelOf = (config: Pick<AgentConfig, 'labels'>, key: string): string =>
  config.labels?.[key] ?? `--${SETTINGS.find((s) => s.key === key)?.flag ?? key}`;

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Which fabric this replica runs: soft, or verbs with a device/port/GID (DESIGN.md §4). */
export function chooseFabric(config: AgentConfig, engine: Pick<MuEngine, 'fabrics' | 'discoverVerbs'>): FabricState {
  if (config.fabric === 'soft') return { kind: 'soft', reason: 'configured' };
  const infiniband = join(config.sysfsRoot, 'class', 'infiniband');
  const hasVerbs = engine.fabrics.includes('verbs');
  let devices = readRdmaSysfs(config.sysfsRoot);
  if (hasVerbs && engine.discoverVerbs && devices.length > 0) {
    try {
      devices = mergeVerbsDiscovery(devices, engine.discoverVerbs(infiniband));
    } catch {
      // sysfs alone still describes the devices; libibverbs adds only the active MTU.
    }
  }
  const selected = selectRdma(devices, config.rdma, config.sysfsRoot);
  if (config.fabric === 'auto') {
    if (!hasVerbs) {
      return { kind: 'soft', reason: 'auto: this engine build has no verbs backend (built without libibverbs)', devices };
    }
    const nothingUsable = !selected.ok &&
      (selected.setting === 'rdma' || (selected.setting === 'rdmaPort' && !config.rdma.device && !config.rdma.netdev));
    if (nothingUsable) return { kind: 'soft', reason: `auto: ${selected.problem}; using the soft fabric`, devices };
  }
  if (!hasVerbs) {
    throw new ConfigError(labelOf(config, 'fabric'), 'verbs needs an engine built with libibverbs (install libibverbs-dev and ' +
      'rebuild: node hack/build-addon.mjs), or use --fabric soft');
  }
  if (!selected.ok) {
    throw new ConfigError(labelOf(config, selected.setting === 'rdma' ? 'fabric' : selected.setting),
      `${selected.problem}${config.fabric === 'verbs' ? ' (fabric verbs)' : ''}`);
  }
  return { kind: 'verbs', reason: config.fabric === 'auto' ? 'auto: an active RDMA port' : 'configured',
    selection: selected.selection, devices };
}

async function defaultResolve(host: string): Promise<string> {
  if (isIP(host) === 4) return host;
  return (await lookup(host, { family: 4 })).address;
}

export class Agent {
  private replica?: Replica;
  private readonly ctx: StatusContext;
  private metrics?: AgentMetrics;
  private http?: AgentHttpServer;
  private monitor?: NodeJS.Timeout;
  private lastRole?: string;
  private lastStats?: ReplicaStats;
  private stopping?: Promise<void>;
  private handedOver?: () => void;
  private readonly engine: MuEngine;
  private readonly log: Logger;
  /** Called when the engine stopped on its own or the agent cannot go on (the caller exits non-zero). */
  onFatal?: (error: Error) => void;

  private constructor(readonly config: AgentConfig, private readonly deps: AgentDeps) {
    this.engine = deps.engine ?? loadEngine();
    this.log = deps.logger;
    this.ctx = {
      config,
      fabric: { kind: 'soft', reason: 'not chosen yet' },
      addresses: config.members.map((m) => m.host),
      versions: { agent: packageVersion(), engine: this.engine.version(), node: process.version,
        napi: this.engine.napiVersion },
      startedAtMs: Date.now(),
      tally: newTally(),
      phase: 'starting',
    };
  }

  static async start(config: AgentConfig, deps: AgentDeps): Promise<Agent> {
    const agent = new Agent(config, deps);
    try {
      await agent.run();
    } catch (e) {
      await agent.http?.close();
      agent.ctx.phase = 'failed';
      throw e;
    }
    return agent;
  }

  /** The HTTP address actually listened on (useful with --http-port 0). */
  httpAddress(): { host: string; port: number } {
    const a = this.http!.address();
    return { host: a.address, port: a.port };
  }

  stats(): ReplicaStats | undefined {
    return this.replica?.stats() ?? this.lastStats;
  }

  status(): StatusDocument | undefined {
    const stats = this.stats();
    return stats ? buildStatus(stats, this.ctx) : undefined;
  }

  /** Targeted switchover (POST /switchover): see AgentEndpoints.switchover. */
  async switchover(to: number): Promise<{ code: 202 | 400 | 409 | 503; doc: Record<string, unknown> }> {
    const n = this.config.members.length;
    if (to >= n) {
      return { code: 400, doc: { ok: false, error: `replica ${to} is not a member (ids 0..${n - 1})` } };
    }
    const replica = this.replica;
    if (!replica?.running || this.stopping) {
      return { code: 503, doc: { ok: false, error: this.stopping ? 'the agent is stopping' : 'the engine is starting' } };
    }
    let answer;
    try {
      answer = await replica.switchover(to);
    } catch (e) {
      return { code: 503, doc: { ok: false, error: (e as Error).message } };
    }
    const leader = replica.stats().leaderView;
    if (!answer.ok) {
      this.log.warn({ to, leader, reason: answer.error }, 'switchover refused');
      return { code: 409, doc: { ok: false, error: answer.error, leader } };
    }
    this.log.info({ from: this.config.replicaId, to }, `switchover: handing leadership to replica ${to}`);
    return { code: 202, doc: { ok: true, to } };
  }

  private async run(): Promise<void> {
    const { config } = this;
    this.log.info({ replicaId: config.replicaId, cluster: config.cluster, members: config.members.length,
      bootstrap: config.bootstrap, fabric: config.fabric, configPath: config.configPath, versions: this.ctx.versions },
    'mu agent starting');

    // 1. The fabric.
    const fabric = chooseFabric(config, this.engine);
    this.ctx.fabric = fabric;
    if (fabric.kind === 'soft' && config.fabric !== 'soft') this.log.info({ reason: fabric.reason }, 'no usable RDMA: soft fabric');
    if (fabric.selection) {
      this.log.info({ rdma: fabric.selection }, 'RDMA device chosen');
      for (const w of fabric.selection.warnings) this.log.warn(w);
    }

    // 2. Pinned memory (verbs only: the soft fabric registers nothing with a NIC).
    if (fabric.kind === 'verbs') {
      const maxEntry = Math.max(config.engine.maxBatchBytes, config.engine.maxRequestBytes) + 4096;
      const verdict = checkMemlock(pinnedBytesEstimate(config.engine.logSizeBytes, maxEntry));
      if (!verdict.ok) throw new AgentStartError(verdict.code, verdict.message);
      this.log.info({ memlock: verdict }, 'memlock limit checked');
    }

    // 3. Probes answer from now on (not ready until the engine runs).
    this.metrics = new AgentMetrics(config, this.ctx.versions.agent, fabric.kind);
    this.http = new AgentHttpServer({
      health: () => this.health(),
      readiness: () => this.readiness(),
      metrics: async () => {
        const stats = this.stats();
        if (stats) this.metrics!.refresh(stats, this.readiness());
        return { contentType: this.metrics!.registry.contentType, body: await this.metrics!.registry.metrics() };
      },
      status: () => this.status(),
      switchover: (to) => this.switchover(to),
    }, { host: config.httpHost, port: config.httpPort, statusToken: config.statusToken,
      onError: (e) => this.log.error({ err: e }, 'HTTP server error') });
    try {
      const a = await this.http.listen();
      this.log.info({ address: `http://${a.address}:${a.port}` }, 'HTTP endpoints listening');
    } catch (e) {
      throw new ConfigError(labelOf(config, 'httpPort'), `cannot listen on ${config.httpHost}:${config.httpPort}: ` +
        `${(e as Error).message}`);
    }

    // 4. Member addresses (DNS names of the members Service, resolved to IPv4; peers may not be published yet).
    this.ctx.addresses = await this.resolveMembers();

    // 5. The replica.
    const options = this.replicaOptions(fabric);
    this.log.info({ members: options.members, fabric: fabric.kind, busyPoll: options.busyPoll,
      logBytes: options.logBytes, detector: options.detector }, 'starting the replica (waiting for every peer)');
    const started = Date.now();
    try {
      this.replica = await this.engine.startReplica(options);
    } catch (e) {
      const error = e as Error & { code?: string };
      const invalid = /^startReplica: invalid configuration: ([^:]+): (.*)$/.exec(error.message);
      if (invalid) throw new ConfigError(invalid[1]!, invalid[2]!);
      if (error instanceof TypeError) throw new ConfigError('configuration', error.message);
      throw new AgentStartError(`MU_ENGINE_${(error.code ?? 'failed').toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`,
        error.message, e);
    }
    this.ctx.phase = 'running';
    this.lastStats = this.replica.stats();
    this.log.info({ respPort: this.replica.respPort, setupMs: Date.now() - started }, 'replica running');
    this.monitor = setInterval(() => this.sample(), this.deps.monitorPeriodMs ?? 100);
    this.monitor.unref();
    this.sample();
  }

  private replicaOptions(fabric: FabricState): ReplicaOptions {
    const { config } = this;
    const e = config.engine;
    return {
      id: config.replicaId,
      members: config.members.map((m) => ({
        id: m.id, host: this.ctx.addresses[m.id]!, bootstrapPort: m.bootstrapPort, fabricPort: m.fabricPort,
        respPort: m.respPort,
      })),
      fabric: fabric.kind,
      secret: config.fabricKey,
      ...(config.netns ? { netns: config.netns } : {}),
      ...(fabric.selection ? { verbs: { device: fabric.selection.device, port: fabric.selection.port,
        gidIndex: fabric.selection.gidIndex } } : {}),
      logBytes: e.logSizeBytes,
      replication: {
        maxRequestBytes: e.maxRequestBytes, maxBatchRecords: e.maxBatchRequests, maxBatchBytes: e.maxBatchBytes,
        maxInflight: e.maxOutstandingProposals, revocation: e.permissionSwitchMechanism,
      },
      detector: {
        readPeriodMicros: e.heartbeatPeriodMicros, scoreMax: e.scoreMax, failureThreshold: e.failureThreshold,
        recoveryThreshold: e.recoveryThreshold, fateShareMicros: e.stuckReplicationTimeoutMicros,
        connectionTimeoutMicros: e.brokenConnectionTimeoutMicros,
      },
      bootstrap: config.bootstrap,
      busyPoll: config.busyPoll === 'auto' ? fabric.kind === 'verbs' : config.busyPoll,
      bootstrapTimeoutMs: config.bootstrapTimeoutSeconds * 1000,
      respBind: config.respBind,
      onEvent: (event) => this.onEvent(event),
    };
  }

  private async resolveMembers(): Promise<string[]> {
    const { config } = this;
    const resolve = this.deps.resolveHost ?? defaultResolve;
    const deadline = Date.now() + config.bootstrapTimeoutSeconds * 1000;
    const out: string[] = [];
    for (const m of config.members) {
      if (m.id === config.replicaId && config.podIP) {
        out[m.id] = config.podIP;
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        try {
          out[m.id] = await resolve(m.host);
          break;
        } catch (e) {
          if (Date.now() > deadline) {
            throw new AgentStartError('MU_AGENT_UNRESOLVABLE_MEMBER', `cannot resolve member ${m.id} host ` +
              `"${m.host}" to an IPv4 address: ${(e as Error).message}`);
          }
          if (attempt === 0) this.log.info({ member: m.id, host: m.host, error: (e as Error).message }, 'waiting for DNS');
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
    return out;
  }

  private health(): { ok: boolean; detail: string } {
    if (this.ctx.phase === 'failed') return { ok: false, detail: 'the engine stopped unexpectedly' };
    if (!this.replica) return { ok: true, detail: 'starting' };
    return { ok: true, detail: this.ctx.phase };
  }

  private readiness(): ReturnType<typeof readiness> & { replicaId: number; role: string | null } {
    const stats = this.stats();
    const r = readiness(stats, this.config.members.length, this.ctx.phase, this.ctx.tally);
    return { ...r, replicaId: this.config.replicaId, role: stats ? agentRole(stats) : null };
  }

  /** Periodic: role changes (logged), an engine that stopped without being asked. */
  private sample(): void {
    if (!this.replica) return;
    const stats = this.replica.stats();
    this.lastStats = stats;
    const role = agentRole(stats);
    if (role !== this.lastRole) {
      this.log.info({ event: 'RoleChanged', from: this.lastRole ?? null, to: role, leaderId: leaderOf(stats),
        proposal: stats.proposal, commitIndex: stats.commitIndex }, `role: ${role}`);
      this.lastRole = role;
    }
    if (!stats.running && this.ctx.phase === 'running') {
      this.ctx.phase = 'failed';
      this.log.error('the engine stopped unexpectedly');
      this.onFatal?.(new Error('the engine stopped unexpectedly'));
    }
  }

  private onEvent(e: ReplicaEvent): void {
    this.metrics?.onEvent(e);
    const tally = this.ctx.tally;
    switch (e.kind) {
      case 'LeaderChanged':
        tally.leaderChanges++;
        this.log.info({ event: e.kind, from: e.from, to: e.to, atMicros: e.atMicros }, `leader: ${e.to ?? 'none'}`);
        break;
      case 'FailoverCompleted': {
        const stats = this.replica?.stats();
        const t = stats?.timelines.filter((x) => x.to === this.config.replicaId).at(-1);
        this.log.info({
          event: e.kind, from: e.from, to: e.to, reason: e.reason, totalMicros: e.totalMicros,
          ...(t ? { detectionMicros: t.detectionMicros, permissionSwitchMicros: t.permissionSwitchMicros,
            catchUpMicros: t.catchUpMicros, grants: t.grants } : {}),
        }, e.from === null ? 'elected leader' : `failover from ${e.from} completed in ${e.totalMicros.toFixed(0)} µs`);
        // Log the role change now rather than at the next monitor tick, so the log reads in causal order.
        this.sample();
        break;
      }
      case 'PermissionSwitch':
        tally.permissionSwitches[e.mechanism === 'unknown' ? 'accessFlags' : e.mechanism] =
          (tally.permissionSwitches[e.mechanism === 'unknown' ? 'accessFlags' : e.mechanism] ?? 0) + 1;
        tally.recentSwitchMicros.push(e.durationMicros);
        if (tally.recentSwitchMicros.length > RECENT_SWITCHES) tally.recentSwitchMicros.shift();
        this.log.info({ event: e.kind, candidate: e.candidate, mechanism: e.mechanism, durationMicros: e.durationMicros },
          `write permission moved to ${e.candidate}`);
        if (this.handedOver && e.candidate !== this.config.replicaId) this.handedOver();
        break;
      case 'PeerFailed':
        this.log.warn({ event: e.kind, peer: e.peer, detail: e.detail }, `replica ${e.peer} failed`);
        break;
      case 'PeerRecovered':
        this.log.info({ event: e.kind, peer: e.peer }, `replica ${e.peer} recovered`);
        break;
      case 'LogFull':
        this.log.warn({ event: e.kind, pendingRequests: e.pendingRequests }, 'log full: back-pressure');
        break;
      case 'QuorumLost':
        tally.quorumLost = { since: e.atMicros, detail: e.detail ?? 'quorum lost' };
        this.log.error({ event: e.kind, detail: e.detail, aliveVoters: e.value }, 'quorum lost');
        break;
      case 'QuorumRestored':
        tally.quorumLost = null;
        this.log.info({ event: e.kind, aliveVoters: e.value }, 'quorum restored');
        break;
      default:
        this.log.info({ event: e }, 'engine event');
    }
  }

  /**
   * SIGTERM: a leader hands over (leave(): peers treat it as failed at once; done when a peer's permission request
   * reaches this replica, i.e. the next leader is taking over) when the others still make a majority; then the
   * engine stops. A follower just stops. Idempotent.
   */
  shutdown(reason = 'shutdown'): Promise<void> {
    this.stopping ??= this.doShutdown(reason);
    return this.stopping;
  }

  private async doShutdown(reason: string): Promise<void> {
    const replica = this.replica;
    if (this.monitor) clearInterval(this.monitor);
    if (replica?.running) {
      const stats = replica.stats();
      const n = this.config.members.length;
      const alivePeers = stats.peers.filter((p) => p.alive).length;
      if (stats.role === 'leader' && n > 1 && alivePeers >= majority(n)) {
        this.ctx.phase = 'leaving';
        const started = Date.now();
        this.log.info({ reason, alivePeers, timeoutMs: this.config.handoverTimeoutMs }, 'leader: handing over');
        const handedOver = new Promise<boolean>((resolve) => {
          this.handedOver = () => resolve(true);
          setTimeout(() => resolve(false), this.config.handoverTimeoutMs).unref();
        });
        replica.leave();
        const ok = await handedOver;
        this.handedOver = undefined;
        const after = replica.stats();
        if (ok) {
          this.log.info({ to: leaderOf(after), ms: Date.now() - started }, 'leadership handed over');
        } else {
          this.log.warn({ ms: Date.now() - started, leaderView: leaderOf(after) },
            'no other replica took over before the hand-over timeout; stopping anyway');
        }
      } else if (stats.role === 'leader' && n > 1) {
        this.log.warn({ reason, alivePeers, needed: majority(n) },
          'leader: the others are no majority without this replica; stopping without hand-over');
      } else {
        this.log.info({ reason, role: agentRole(stats) }, 'stopping');
      }
    }
    this.ctx.phase = 'stopping';
    if (replica) {
      await replica.stop();
      this.lastStats = replica.stats();
    }
    this.ctx.phase = 'stopped';
    await this.http?.close();
    this.log.info({ reason }, 'stopped');
  }
}
