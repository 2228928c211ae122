// A cluster of agent processes on 127.0.0.1, as `mu local` and the multi-agent tests run it: the same agent, the same
// cluster.json and fabric-key files the operator mounts in pods, one process per replica. Ports of replica i:
// RESP base+10i, agent HTTP base+10i+1, soft NIC base+10i+2, bootstrap exchange base+10i+3 (fabricPort + 1).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { StatusDocument } from './status.js';

export const PORTS_PER_REPLICA = 10;

export interface LocalClusterOptions {
  replicas: number;
  basePort: number;
  fabric?: 'soft' | 'verbs' | 'auto';
  /** Where cluster.json, the key and the agents' logs go (default: a new temporary directory, removed at stop). */
  dir?: string;
  heartbeatPeriodMicros?: number;
  /** Failure-detector score ceiling: a silent peer is failed after (scoreMax - 2) read periods. */
  scoreMax?: number;
  stuckReplicationTimeoutMicros?: number;
  logSizeBytes?: number;
  logLevel?: string;
  /** More agent flags for every replica. */
  extraArgs?: string[];
  /** Keep the directory at stop (logs for a post-mortem). */
  keepDir?: boolean;
}

export interface LocalReplica {
  id: number;
  respPort: number;
  httpPort: number;
  fabricPort: number;
  logFile: string;
  process: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

/** How to run one agent process: node with tsx's loader (no tsx child process: a signal reaches the agent itself). */
export function agentProcessCommand(): { command: string; args: string[] } {
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  return { command: process.execPath, args: ['--import', tsx, main] };
}

export function localPorts(basePort: number, id: number): { resp: number; http: number; fabric: number } {
  const at = basePort + PORTS_PER_REPLICA * id;
  return { resp: at, http: at + 1, fabric: at + 2 };
}

/** GET a JSON document from an agent; undefined when it does not answer (yet). */
export function getJson<T>(port: number, path: string, timeoutMs = 2000): Promise<{ code: number; body: T } | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ code: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T });
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

export class LocalCluster {
  readonly replicas: LocalReplica[] = [];

  private constructor(readonly options: Required<Pick<LocalClusterOptions, 'replicas' | 'basePort'>> &
    LocalClusterOptions, readonly dir: string, private readonly ownsDir: boolean) {}

  static start(options: LocalClusterOptions): LocalCluster {
    if (options.basePort + PORTS_PER_REPLICA * options.replicas > 65535) {
      throw new RangeError(`--base-port ${options.basePort} leaves no room for ${options.replicas} replicas`);
    }
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mu-local-'));
    mkdirSync(dir, { recursive: true });
    const cluster = new LocalCluster(options, dir, ownsDir);
    cluster.writeFiles();
    for (let id = 0; id < options.replicas; id++) cluster.spawnAgent(id, true);
    return cluster;
  }

  get configPath(): string {
    return join(this.dir, 'cluster.json');
  }

  private writeFiles(): void {
    const { replicas, basePort } = this.options;
    const members = Array.from({ length: replicas }, (_, id) => {
      const p = localPorts(basePort, id);
      return { id, name: `local-${id}`, host: '127.0.0.1', respPort: p.resp, agentPort: p.http, fabricPort: p.fabric };
    });
    const fabric = this.options.fabric ?? 'soft';
    const doc = {
      version: 1,
      cluster: 'local',
      namespace: '',
      fabric,
      members,
      engine: {
        logSizeBytes: this.options.logSizeBytes ?? 16 << 20,
        // Reads every millisecond, and a peer is failed after ~98 silent periods: processes that share two busy
        // cores are descheduled for tens of ms without being dead. RDMA NICs and dedicated cores allow far less.
        heartbeatPeriodMicros: this.options.heartbeatPeriodMicros ?? 1000,
        scoreMax: this.options.scoreMax ?? 100,
        failureThreshold: 2,
        recoveryThreshold: 6,
        // A leader steps aside when its replication makes no progress this long (fate sharing); a busy laptop
        // stalls processes for longer than a pod with dedicated cores would.
        stuckReplicationTimeoutMicros: this.options.stuckReplicationTimeoutMicros ?? 1_000_000,
        brokenConnectionTimeoutMicros: 20_000,
        permissionSwitchMechanism: 'accessFlags',
        batching: { maxBatchRequests: 32, maxBatchBytes: 65536, maxOutstandingProposals: 32 },
      },
    };
    writeFileSync(this.configPath, `${JSON.stringify(doc, null, 2)}\n`);
    writeFileSync(join(this.dir, 'fabric-key'), randomBytes(32), { mode: 0o600 });
  }

  /** Starts replica `id`'s agent (bootstrap: part of a brand-new cluster; false: a restart that rejoins). */
  spawnAgent(id: number, bootstrap: boolean): LocalReplica {
    const p = localPorts(this.options.basePort, id);
    const { command, args } = agentProcessCommand();
    const logFile = join(this.dir, `agent-${id}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(command, [...args,
      `--replica-id=${id}`, `--config=${this.configPath}`, `--fabric-key-file=${join(this.dir, 'fabric-key')}`,
      ...(bootstrap ? ['--bootstrap'] : []),
      '--http-host=127.0.0.1', '--resp-bind=127.0.0.1', '--pod-ip=127.0.0.1', '--busy-poll=false',
      `--log-level=${this.options.logLevel ?? 'info'}`, '--bootstrap-timeout-seconds=120',
      ...(this.options.extraArgs ?? [])], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, NODE_OPTIONS: '' },
      // Its own process group: a terminal's Ctrl-C reaches the owner, which stops the agents in order.
      detached: true,
    });
    closeSync(fd);
    const replica: LocalReplica = { id, respPort: p.resp, httpPort: p.http, fabricPort: p.fabric, logFile, process: child };
    child.on('exit', (code, signal) => {
      replica.exit = { code, signal };
    });
    this.replicas[id] = replica;
    return replica;
  }

  status(id: number): Promise<StatusDocument | undefined> {
    return getJson<StatusDocument>(this.replicas[id]!.httpPort, '/status').then((r) =>
      (r && r.code === 200 ? r.body : undefined));
  }

  /** The leader every running replica agrees on, or null. */
  async leader(): Promise<number | null> {
    const running = this.replicas.filter((r) => !r.exit);
    const docs = await Promise.all(running.map((r) => this.status(r.id)));
    const views = docs.map((d) => d?.leaderId ?? null);
    const first = views[0] ?? null;
    return first !== null && views.every((v) => v === first) ? first : null;
  }

  /** Waits until every running agent is ready and agrees on a leader; throws with the agents' log tails on failure. */
  async waitReady(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exited = this.replicas.find((r) => r.exit);
      if (exited) throw new Error(`agent ${exited.id} exited (${JSON.stringify(exited.exit)}):\n${this.logTail(exited.id)}`);
      const ready = await Promise.all(this.replicas.map((r) => getJson<{ ready: boolean }>(r.httpPort, '/readyz')));
      if (ready.every((r) => r?.code === 200)) {
        const leader = await this.leader();
        if (leader !== null) return leader;
      }
      if (Date.now() > deadline) {
        throw new Error(`the local cluster was not ready within ${timeoutMs} ms:\n` +
          this.replicas.map((r) => `--- agent ${r.id}\n${this.logTail(r.id)}`).join('\n'));
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  logTail(id: number, lines = 15): string {
    try {
      return readFileSync(this.replicas[id]!.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  kill(id: number, signal: NodeJS.Signals): void {
    this.replicas[id]!.process.kill(signal);
  }

  waitExit(id: number, timeoutMs: number): Promise<LocalReplica['exit']> {
    const r = this.replicas[id]!;
    if (r.exit) return Promise.resolve(r.exit);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      r.process.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
  }

  /**
   * SIGTERM to every agent still running, SIGKILL after the grace period. The leader goes first: it hands over to a
   * follower that is still there (quick), instead of waiting for a hand-over nobody can take.
   */
  async stop(graceMs = 15_000): Promise<void> {
    const term = async (r: LocalReplica): Promise<void> => {
      r.process.kill('SIGTERM');
      const exit = await this.waitExit(r.id, graceMs);
      if (!exit) {
        r.process.kill('SIGKILL');
        await this.waitExit(r.id, 5000);
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const leader = await Promise.race([this.leader(), new Promise<null>((r) => { timer = setTimeout(() => r(null), 3000); })]);
    clearTimeout(timer);
    if (leader !== null && !this.replicas[leader]?.exit) await term(this.replicas[leader]!);
    await Promise.all(this.replicas.filter((r) => r && !r.exit).map(term));
    if (this.ownsDir && !this.options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
