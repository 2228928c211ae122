// `mu local`: a cluster of agent processes on 127.0.0.1 — the same agent, cluster.json and key files as in pods —
// with each replica's RESP and agent addresses, who leads, and live status until Ctrl-C (or --duration / --once),
// then everything it started is stopped.
import { writeFileSync } from 'node:fs';

import { LocalCluster, type LocalReplica } from '../../agent/local-cluster.js';
import type { StatusDocument } from '../../agent/status.js';
import type { CliIo, Command } from '../command.js';
import { percentile, RespProbe } from '../resp-probe.js';

interface Tick {
  commands: number;
  atMs: number;
}

function pad(value: string | number, width: number): string {
  return String(value).padEnd(width);
}

function fmtMicros(v: number): string {
  return Number.isFinite(v) ? v.toFixed(0) : 'n/a';
}

/** A line about a new leader from its /status: the failover timeline it reports. */
function failoverLine(doc: StatusDocument | undefined, from: number | null, to: number): string {
  const f = doc?.failovers.find((x) => x.toId === to);
  if (!f || f.fromId === null) return `leader changed: ${from ?? 'none'} → ${to}`;
  const x = f as typeof f & { detectionMicros?: number; permissionSwitchMicros?: number; totalMicros?: number };
  return `leader changed: ${from ?? 'none'} → ${to} (failover ${f.reason ?? ''}: detection ${fmtMicros(x.detectionMicros ?? NaN)} µs, ` +
    `permission switch ${fmtMicros(x.permissionSwitchMicros ?? NaN)} µs, catch-up ${fmtMicros(f.catchUpMicros ?? NaN)} µs, ` +
    `total ${fmtMicros(x.totalMicros ?? NaN)} µs)`;
}

async function liveStatus(cluster: LocalCluster, io: CliIo, options: { durationS: number; intervalMs: number;
  probes: number; once: boolean; stopped: () => boolean }): Promise<void> {
  const started = Date.now();
  let previous: Tick | undefined;
  let leaderSeen: number | null = null;
  let probe: RespProbe | undefined;
  const exitedReported = new Set<number>();
  io.out(`${pad('time', 8)}${pad('leader', 8)}${pad('FUO', 10)}${pad('commit', 10)}${pad('ops/s', 10)}` +
    `${pad('p50 µs', 9)}${pad('p99 µs', 9)}roles\n`);
  for (;;) {
    const docs = await Promise.all(cluster.replicas.map((r) => (r.exit ? undefined : cluster.status(r.id))));
    for (const r of cluster.replicas) {
      if (r.exit && !exitedReported.has(r.id)) {
        exitedReported.add(r.id);
        io.out(`replica ${r.id}: agent exited (${r.exit.signal ?? `code ${r.exit.code}`}); log ${r.logFile}\n`);
      }
    }
    const leader = docs.find((d) => d && d.role === 'leader') ?? undefined;
    const leaderId = leader?.replicaId ?? null;
    if (leaderId !== null && leaderId !== leaderSeen) {
      if (leaderSeen !== null) io.out(`${failoverLine(leader, leaderSeen, leaderId)}\n`);
      leaderSeen = leaderId;
      probe?.close();
      probe = new RespProbe('127.0.0.1', cluster.replicas[leaderId]!.respPort);
    }
    // Latency: a few SETs through the leader (replicated), timed by this client.
    const samples: number[] = [];
    if (probe && options.probes > 0) {
      for (let i = 0; i < options.probes; i++) {
        try {
          const r = await probe.command(['SET', 'mu:local:probe', String(Date.now())]);
          if (r.line === '+OK') samples.push(r.micros);
        } catch {
          probe.close();
          break;
        }
      }
    }
    samples.sort((a, b) => a - b);
    const now = Date.now();
    const commands = docs.reduce((sum, d) => sum + ((d?.kv as { commands?: number } | undefined)?.commands ?? 0), 0);
    const ops = previous ? Math.max(0, commands - previous.commands - samples.length) / ((now - previous.atMs) / 1000) : 0;
    previous = { commands, atMs: now };
    const roles = docs.map((d, i) => (cluster.replicas[i]!.exit ? 'x' : (d?.role ?? '?')[0]!.toUpperCase())).join(' ');
    const seconds = ((now - started) / 1000).toFixed(0);
    io.out(`${pad(`${seconds}s`, 8)}${pad(leaderId ?? '-', 8)}${pad(leader?.firstUndecidedOffset ?? '-', 10)}` +
      `${pad((leader?.commitIndex as number | undefined) ?? '-', 10)}${pad(ops.toFixed(0), 10)}` +
      `${pad(fmtMicros(percentile(samples, 50)), 9)}${pad(fmtMicros(percentile(samples, 99)), 9)}${roles}\n`);
    if (options.once || options.stopped()) break;
    if (options.durationS > 0 && now - started >= options.durationS * 1000) break;
    await new Promise((r) => setTimeout(r, options.intervalMs));
    if (options.stopped()) break;
  }
  probe?.close();
}

export const localCommand: Command = {
  name: 'local',
  summary: 'a local cluster of agent processes on 127.0.0.1 with live status',
  description:
    'Starts N node agents on 127.0.0.1 (a brand-new cluster: every replica bootstraps), each running one replica\n' +
    'with its RESP front end, and prints each replica\'s RESP address and agent HTTP address and who leads. Then\n' +
    'live status once a second — leader, FUO, commit point, ops/s over all replicas, and the p50/p99 latency of a\n' +
    'few SETs through the leader (client-observed, loopback TCP included) — until Ctrl-C, --duration or --once;\n' +
    'then it stops every agent it started (the leader first: it hands over). Agent logs: <dir>/agent-<id>.log.\n' +
    'Ports of replica i: RESP P+10i, agent HTTP P+10i+1, soft NIC P+10i+2, bootstrap P+10i+3.',
  flags: [
    { name: 'replicas', kind: 'int', valueName: 'N', min: 1, max: 9, default: 3, help: 'number of replicas' },
    { name: 'fabric', kind: 'choice', choices: ['soft', 'auto', 'verbs'], default: 'soft', help: 'fabric backend' },
    { name: 'base-port', kind: 'int', valueName: 'P', min: 1024, max: 65000, default: 7000,
      help: 'first port (keep below 32768, the ephemeral range)' },
    { name: 'duration', kind: 'int', valueName: 'S', min: 0, max: 86400, default: 0,
      help: 'stop after S seconds of live status (0: until Ctrl-C)' },
    { name: 'once', kind: 'boolean', help: 'print addresses, leader and one status line, then stop' },
    { name: 'interval-ms', kind: 'int', valueName: 'MS', min: 100, max: 60000, default: 1000,
      help: 'live status period' },
    { name: 'probes', kind: 'int', valueName: 'N', min: 0, max: 1000, default: 20,
      help: 'latency probes (SETs through the leader) per status line; 0: none' },
    { name: 'heartbeat-period-micros', kind: 'int', valueName: 'µs', min: 1, max: 1_000_000, default: 1000,
      help: 'failure-detector read period' },
    { name: 'score-max', kind: 'int', valueName: 'N', min: 7, max: 255, default: 100,
      help: 'failure-detector score ceiling: a silent peer is failed after N-2 read periods' },
    { name: 'dir', kind: 'string', valueName: 'DIR', help: 'where cluster.json, the key and agent logs go (kept)' },
    { name: 'keep', kind: 'boolean', help: 'keep the temporary directory with the agent logs' },
    { name: 'ready-file', kind: 'string', valueName: 'FILE',
      help: 'write {leader, replicas:[{id, resp, agent}]} as JSON to FILE once the cluster is ready (for scripts)' },
    { name: 'ready-timeout', kind: 'int', valueName: 'S', min: 1, max: 3600, default: 120,
      help: 'give up if the cluster is not ready within S seconds' },
  ],
  examples: [
    'mu local --replicas 3',
    'mu local --replicas 5 --base-port 9000 --duration 30',
    'mu local --once',
  ],
  async run({ flags, io }) {
    const replicas = flags.replicas as number;
    let stopRequested = false;
    const cluster = LocalCluster.start({
      replicas,
      basePort: flags['base-port'] as number,
      fabric: flags.fabric as 'soft' | 'auto' | 'verbs',
      heartbeatPeriodMicros: flags['heartbeat-period-micros'] as number,
      scoreMax: flags['score-max'] as number,
      dir: flags.dir as string | undefined,
      keepDir: flags.keep as boolean,
    });
    // Agents run in their own process group (a terminal's Ctrl-C reaches only this process, which stops them in
    // order); if this process dies, they are killed with it.
    const killAll = (): void => {
      for (const r of cluster.replicas) if (r && !r.exit) r.process.kill('SIGKILL');
    };
    process.on('exit', killAll);
    const onSignal = (): void => {
      if (stopRequested) return;
      stopRequested = true;
      io.err('\nmu local: stopping…\n');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    try {
      io.out(`mu local: ${replicas} replica${replicas > 1 ? 's' : ''} on 127.0.0.1 (${flags.fabric} fabric); ` +
        `files and agent logs in ${cluster.dir}\n`);
      const ready = cluster.waitReady((flags['ready-timeout'] as number) * 1000);
      ready.catch(() => {}); // abandoned when stopped first: its failure is then no news
      const leader = await Promise.race([ready, new Promise<null>((resolve) => {
        const t = setInterval(() => {
          if (stopRequested) {
            clearInterval(t);
            resolve(null);
          }
        }, 100);
        ready.then(() => clearInterval(t), () => clearInterval(t));
      })]);
      if (leader === null) {
        io.err('mu local: interrupted before the cluster was ready\n');
        return 1;
      }
      const describe = (r: LocalReplica): string =>
        `  replica ${r.id}  RESP 127.0.0.1:${r.respPort}  agent http://127.0.0.1:${r.httpPort}`;
      for (const r of cluster.replicas) io.out(`${describe(r)}${r.id === leader ? '  (leader)' : ''}\n`);
      io.out(`leader: replica ${leader} (RESP 127.0.0.1:${cluster.replicas[leader]!.respPort})\n`);
      const readyFile = flags['ready-file'] as string | undefined;
      if (readyFile) {
        writeFileSync(readyFile, `${JSON.stringify({
          leader,
          leaderResp: `127.0.0.1:${cluster.replicas[leader]!.respPort}`,
          dir: cluster.dir,
          replicas: cluster.replicas.map((r) => ({ id: r.id, resp: `127.0.0.1:${r.respPort}`,
            agent: `http://127.0.0.1:${r.httpPort}` })),
        }, null, 2)}\n`);
      }
      const once = flags.once as boolean;
      if (!once && (flags.duration as number) === 0) io.out('live status (Ctrl-C to stop):\n');
      await liveStatus(cluster, io, {
        durationS: flags.duration as number, intervalMs: flags['interval-ms'] as number,
        probes: flags.probes as number, once, stopped: () => stopRequested,
      });
      return 0;
    } catch (e) {
      io.err(`mu local: ${(e as Error).message}\n`);
      return 1;
    } finally {
      await cluster.stop();
      const exits = cluster.replicas.map((r) => `${r.id}:${r.exit?.signal ?? r.exit?.code ?? '?'}`).join(' ');
      io.out(`mu local: stopped every agent (exit: ${exits})${flags.keep || flags.dir ? `; logs in ${cluster.dir}` : ''}\n`);
      process.off('exit', killAll);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
    }
  },
};
