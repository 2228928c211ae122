// Runs one pod's containers as local processes and reports their state the way a kubelet would: container statuses
// with restart counts, readiness from the container's own readiness probe, restarts per restartPolicy with backoff,
// liveness kills, and SIGTERM → grace period → SIGKILL on deletion. Each process gets its own process group, so a
// kill takes everything it spawned with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type {
  V1Container,
  V1ContainerStatus,
  V1EnvVar,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
  V1Probe,
} from '@kubernetes/client-node';
import type { KubeClient } from '../../operator/src/kube/rest.js';
import { commandOnNode, type NodeNetwork } from './network.js';
import { mountMap, rewritePaths, syncVolumes } from './volumes.js';

/** kubelet's bounds: 4096 bytes of termination message; the log fallback takes the last 80 lines, at most 2048 bytes. */
const TERMINATION_MESSAGE_LIMIT = 4096;
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;

export interface RunnerDeps {
  client: KubeClient;
  node: NodeNetwork;
  /** Directory for this pod: volumes/, <container>.log. */
  podDir: string;
  /** Prepended to PATH (e.g. a directory with the `mu` command). */
  pathPrepend: readonly string[];
  /** Called whenever status() changed. */
  onStatus(): void;
  log(message: string): void;
}

type ContainerPhase = 'waiting' | 'running' | 'terminated';

interface ContainerState {
  spec: V1Container;
  phase: ContainerPhase;
  waitingReason?: string;
  waitingMessage?: string;
  process?: ChildProcess;
  startedAt?: Date;
  ready: boolean;
  restartCount: number;
  lastTerminated?: { exitCode: number; signal?: string; message?: string; reason: string; startedAt: Date; finishedAt: Date };
  terminated?: { exitCode: number; message?: string; reason: string; startedAt: Date; finishedAt: Date };
  readinessFailures: number;
  readinessSuccesses: number;
  livenessFailures: number;
  timers: NodeJS.Timeout[];
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 20_000;
const VOLUME_REFRESH_MS = 2000;

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

export class PodRunner {
  private pod: V1Pod;
  private readonly containers: ContainerState[];
  private readonly startTime = new Date();
  private volumeDirs = new Map<string, string>();
  private volumeTimer?: NodeJS.Timeout;
  private terminating = false;
  private stopped = false;
  private deleting = false;

  constructor(
    pod: V1Pod,
    private readonly deps: RunnerDeps,
  ) {
    this.pod = pod;
    this.containers = (pod.spec?.containers ?? []).map((spec) => ({
      spec,
      phase: 'waiting',
      waitingReason: 'ContainerCreating',
      ready: false,
      restartCount: 0,
      readinessFailures: 0,
      readinessSuccesses: 0,
      livenessFailures: 0,
      timers: [],
    }));
  }

  get name(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  /** True the first time: the caller then owns stopping the pod for its deletion. */
  beginDeletion(): boolean {
    if (this.deleting) return false;
    this.deleting = true;
    return true;
  }

  update(pod: V1Pod): void {
    this.pod = pod;
  }

  async start(): Promise<void> {
    mkdirSync(this.deps.podDir, { recursive: true });
    await this.prepareVolumes();
    this.volumeTimer = setInterval(() => void this.refreshVolumes(), VOLUME_REFRESH_MS);
  }

  private async prepareVolumes(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      try {
        const { dirs, waiting } = await syncVolumes(this.deps.client, this.pod, this.deps.podDir);
        if (!waiting) {
          this.volumeDirs = dirs;
          break;
        }
        this.setWaiting('ContainerCreating', `waiting for volumes: ${waiting}`);
      } catch (e) {
        this.setWaiting('ContainerCreating', `volumes: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const c of this.containers) this.launch(c);
  }

  private async refreshVolumes(): Promise<void> {
    if (this.stopped || this.terminating) return;
    try {
      await syncVolumes(this.deps.client, this.pod, this.deps.podDir);
    } catch {
      // The next refresh tries again; a missing ConfigMap leaves the files as they were, like kubelet.
    }
  }

  private setWaiting(reason: string, message: string): void {
    let changed = false;
    for (const c of this.containers) {
      if (c.phase === 'waiting' && (c.waitingReason !== reason || c.waitingMessage !== message)) {
        c.waitingReason = reason;
        c.waitingMessage = message;
        changed = true;
      }
    }
    if (changed) this.deps.onStatus();
  }

  /**
   * A real kubelet bind-mounts a fresh file at the container's terminationMessagePath and reports what the process
   * wrote there as state.terminated.message. The stand-in gives each container a file in the pod directory and
   * rewrites the path, as it does for volumes.
   */
  private terminationFile(container: V1Container): string {
    return path.join(this.deps.podDir, `${container.name}.termination-log`);
  }

  private mounts(container: V1Container): Array<[string, string]> {
    const mounts = mountMap(container, this.volumeDirs);
    mounts.push([container.terminationMessagePath ?? '/dev/termination-log', this.terminationFile(container)]);
    return mounts.sort((a, b) => b[0].length - a[0].length);
  }

  /** What the process left in its termination file; with FallbackToLogsOnError and nothing there, its log's tail. */
  private terminationMessage(container: V1Container, exitCode: number): string | undefined {
    const read = (file: string): string => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    };
    const written = read(this.terminationFile(container)).slice(0, TERMINATION_MESSAGE_LIMIT).trim();
    if (written) return written;
    if (exitCode === 0 || container.terminationMessagePolicy !== 'FallbackToLogsOnError') return undefined;
    const tail = read(path.join(this.deps.podDir, `${container.name}.log`)).split('\n').slice(-FALLBACK_LOG_LINES).join('\n');
    return tail.slice(-FALLBACK_LOG_BYTES).trim() || undefined;
  }

  private env(container: V1Container): Record<string, string> {
    const mounts = this.mounts(container);
    const env: Record<string, string> = {
      PATH: [...this.deps.pathPrepend, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
      HOME: process.env.HOME ?? '/root',
      HOSTNAME: this.pod.spec?.hostNetwork ? this.deps.node.name : (this.pod.metadata?.name ?? ''),
    };
    for (const v of container.env ?? []) {
      const value = this.envValue(v);
      if (value !== undefined) env[v.name] = rewritePaths(value, mounts);
    }
    return env;
  }

  private envValue(v: V1EnvVar): string | undefined {
    if (v.value !== undefined) return v.value;
    const field = v.valueFrom?.fieldRef?.fieldPath;
    if (field) {
      const meta = this.pod.metadata ?? {};
      const values: Record<string, string | undefined> = {
        'metadata.name': meta.name,
        'metadata.namespace': meta.namespace,
        'metadata.uid': meta.uid,
        'spec.nodeName': this.pod.spec?.nodeName,
        'spec.serviceAccountName': this.pod.spec?.serviceAccountName,
        'status.podIP': this.deps.node.address,
        'status.hostIP': this.deps.node.address,
      };
      return values[field] ?? '';
    }
    return undefined; // configMapKeyRef/secretKeyRef/resourceFieldRef: not modelled by the stand-in
  }

  private launch(c: ContainerState): void {
    if (this.stopped || this.terminating) return;
    const argv = [...(c.spec.command ?? []), ...(c.spec.args ?? [])];
    if (argv.length === 0) {
      c.phase = 'waiting';
      c.waitingReason = 'CreateContainerError';
      c.waitingMessage = 'the stand-in runs processes, not images: the container needs a command';
      this.deps.onStatus();
      return;
    }
    const mounts = this.mounts(c.spec);
    const rewritten = argv.map((a) => rewritePaths(a, mounts));
    writeFileSync(this.terminationFile(c.spec), ''); // fresh for each run, as kubelet's
    const full = commandOnNode(this.deps.node, rewritten);
    const logPath = path.join(this.deps.podDir, `${c.spec.name}.log`);
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(full[0]!, full.slice(1), {
        cwd: this.deps.podDir,
        env: this.env(c.spec),
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    c.process = child;
    c.phase = 'running';
    c.startedAt = new Date();
    c.ready = false;
    c.readinessFailures = 0;
    c.readinessSuccesses = 0;
    c.livenessFailures = 0;
    delete c.waitingReason;
    delete c.waitingMessage;
    delete c.terminated;
    this.deps.log(`${this.name}: started ${c.spec.name} (pid ${child.pid}): ${rewritten.join(' ')}`);
    child.on('error', (e) => {
      this.deps.log(`${this.name}: ${c.spec.name} could not start: ${e.message}`);
    });
    child.on('exit', (code, signal) => this.exited(c, child, code, signal));
    this.startProbes(c, child);
    this.deps.onStatus();
  }

  private exited(c: ContainerState, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (c.process !== child) return;
    for (const t of c.timers.splice(0)) clearTimeout(t);
    c.process = undefined;
    c.ready = false;
    const exitCode = code ?? 128 + (signal ? (osSignalNumber(signal) ?? 9) : 9);
    const finishedAt = new Date();
    const message = this.terminationMessage(c.spec, exitCode);
    const record = {
      exitCode,
      ...(signal ? { signal } : {}),
      ...(message ? { message } : {}),
      reason: exitCode === 0 ? 'Completed' : signal ? 'Killed' : 'Error',
      startedAt: c.startedAt ?? finishedAt,
      finishedAt,
    };
    this.deps.log(`${this.name}: ${c.spec.name} exited (code ${code}, signal ${signal})`);
    if (this.stopped || this.terminating) {
      c.phase = 'terminated';
      c.terminated = record;
      this.deps.onStatus();
      return;
    }
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) {
      c.phase = 'terminated';
      c.terminated = record;
      this.deps.onStatus();
      return;
    }
    c.lastTerminated = record;
    const ranMs = finishedAt.getTime() - (c.startedAt?.getTime() ?? finishedAt.getTime());
    const delay = ranMs > 60_000 ? BACKOFF_BASE_MS : Math.min(BACKOFF_BASE_MS * 2 ** c.restartCount, BACKOFF_MAX_MS);
    c.restartCount++;
    c.phase = 'waiting';
    c.waitingReason = 'CrashLoopBackOff';
    c.waitingMessage = `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name}`;
    this.deps.onStatus();
    const t = setTimeout(() => this.launch(c), delay);
    c.timers.push(t);
  }

  private startProbes(c: ContainerState, child: ChildProcess): void {
    const readiness = c.spec.readinessProbe;
    const liveness = c.spec.livenessProbe;
    if (!readiness) {
      c.ready = true;
    } else {
      this.schedule(c, child, readiness, (ok) => {
        const successThreshold = readiness.successThreshold ?? 1;
        const failureThreshold = readiness.failureThreshold ?? 3;
        if (ok) {
          c.readinessFailures = 0;
          c.readinessSuccesses++;
          if (!c.ready && c.readinessSuccesses >= successThreshold) {
            c.ready = true;
            this.deps.onStatus();
          }
        } else {
          c.readinessSuccesses = 0;
          c.readinessFailures++;
          if (c.ready && c.readinessFailures >= failureThreshold) {
            c.ready = false;
            this.deps.onStatus();
          }
        }
      });
    }
    if (liveness) {
      this.schedule(c, child, liveness, (ok) => {
        c.livenessFailures = ok ? 0 : c.livenessFailures + 1;
        if (c.livenessFailures >= (liveness.failureThreshold ?? 3)) {
          this.deps.log(`${this.name}: ${c.spec.name} failed its liveness probe; killing it`);
          killGroup(child, 'SIGKILL');
        }
      });
    }
  }

  private schedule(c: ContainerState, child: ChildProcess, probe: V1Probe, onResult: (ok: boolean) => void): void {
    const period = (probe.periodSeconds ?? 10) * 1000;
    const run = async () => {
      if (c.process !== child) return;
      const ok = await this.probe(c.spec, probe);
      if (c.process !== child) return;
      onResult(ok);
      c.timers.push(setTimeout(() => void run(), period));
    };
    c.timers.push(setTimeout(() => void run(), (probe.initialDelaySeconds ?? 0) * 1000 || 200));
  }

  private async probe(container: V1Container, probe: V1Probe): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    const resolvePort = (port: number | string | undefined): number | undefined => {
      if (typeof port === 'number') return port;
      if (port === undefined) return undefined;
      if (/^\d+$/.test(port)) return Number(port);
      return container.ports?.find((p) => p.name === port)?.containerPort;
    };
    if (probe.httpGet) {
      const port = resolvePort(probe.httpGet.port as number | string);
      if (port === undefined) return false;
      const host = probe.httpGet.host ?? this.deps.node.address;
      return await new Promise<boolean>((resolve) => {
        const req = http.get({ host, port, path: probe.httpGet!.path ?? '/', timeout: timeoutMs }, (res) => {
          res.resume();
          resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(false));
      });
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port as number | string);
      if (port === undefined) return false;
      return await new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: probe.tcpSocket!.host ?? this.deps.node.address, port, timeout: timeoutMs });
        socket.on('connect', () => (socket.destroy(), resolve(true)));
        socket.on('timeout', () => (socket.destroy(), resolve(false)));
        socket.on('error', () => resolve(false));
      });
    }
    if (probe.exec?.command) {
      const argv = commandOnNode(this.deps.node, probe.exec.command);
      return await new Promise<boolean>((resolve) => {
        const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: timeoutMs });
        p.on('exit', (code) => resolve(code === 0));
        p.on('error', () => resolve(false));
      });
    }
    return true;
  }

  /** SIGTERM every container, SIGKILL what is left after the grace period; resolves when all have exited. */
  async terminate(gracePeriodSeconds: number): Promise<void> {
    this.terminating = true;
    if (this.volumeTimer) clearInterval(this.volumeTimer);
    const live = this.containers.filter((c) => c.process);
    for (const c of this.containers) for (const t of c.timers.splice(0)) clearTimeout(t);
    await Promise.all(
      live.map(async (c) => {
        const child = c.process!;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        if (child.exitCode !== null || child.signalCode !== null) return;
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), Math.max(0, gracePeriodSeconds) * 1000);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.stopped = true;
  }

  status(): V1PodStatus {
    const previous = this.pod.status ?? {};
    const containerStatuses = this.containers.map((c) => containerStatus(c));
    const allReady = this.containers.length > 0 && this.containers.every((c) => c.ready && c.phase === 'running');
    const allTerminated = this.containers.length > 0 && this.containers.every((c) => c.phase === 'terminated');
    const anyRunning = this.containers.some((c) => c.phase === 'running');
    let phase: V1PodStatus['phase'] = 'Pending';
    if (allTerminated && !this.terminating) {
      phase = this.containers.every((c) => c.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
    } else if (anyRunning || this.containers.some((c) => c.restartCount > 0)) {
      phase = 'Running';
    }
    const now = iso(new Date());
    const condition = (type: string, ok: boolean, reason?: string): V1PodCondition => {
      const old = previous.conditions?.find((x) => x.type === type);
      const status = ok ? 'True' : 'False';
      return {
        type,
        status,
        lastTransitionTime: (old && old.status === status ? old.lastTransitionTime : now) as unknown as Date,
        ...(reason && !ok ? { reason } : {}),
      } as V1PodCondition;
    };
    const address = this.deps.node.address;
    return {
      phase,
      conditions: [
        condition('PodReadyToStartContainers', true),
        condition('Initialized', true),
        condition('ContainersReady', allReady, 'ContainersNotReady'),
        condition('Ready', allReady, 'ContainersNotReady'),
      ],
      hostIP: address,
      hostIPs: [{ ip: address }],
      podIP: address,
      podIPs: [{ ip: address }],
      startTime: iso(this.startTime) as unknown as Date,
      containerStatuses,
    };
  }
}

function containerStatus(c: ContainerState): V1ContainerStatus {
  const at = (d: Date) => iso(d) as unknown as Date;
  const state: V1ContainerStatus['state'] =
    c.phase === 'running'
      ? { running: { startedAt: at(c.startedAt!) } }
      : c.phase === 'terminated' && c.terminated
        ? {
            terminated: {
              exitCode: c.terminated.exitCode,
              reason: c.terminated.reason,
              ...(c.terminated.message ? { message: c.terminated.message } : {}),
              startedAt: at(c.terminated.startedAt),
              finishedAt: at(c.terminated.finishedAt),
            },
          }
        : { waiting: { reason: c.waitingReason ?? 'ContainerCreating', message: c.waitingMessage ?? '' } };
  return {
    name: c.spec.name,
    image: c.spec.image ?? '',
    imageID: '',
    ready: c.ready && c.phase === 'running',
    started: c.phase === 'running',
    restartCount: c.restartCount,
    ...(c.process?.pid ? { containerID: `standin://${c.process.pid}` } : {}),
    state,
    lastState: c.lastTerminated
      ? {
          terminated: {
            exitCode: c.lastTerminated.exitCode,
            reason: c.lastTerminated.reason,
            ...(c.lastTerminated.message ? { message: c.lastTerminated.message } : {}),
            startedAt: at(c.lastTerminated.startedAt),
            finishedAt: at(c.lastTerminated.finishedAt),
          },
        }
      : {},
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

function osSignalNumber(signal: NodeJS.Signals): number | undefined {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGSEGV: 11, SIGABRT: 6 };
  return table[signal];
}
