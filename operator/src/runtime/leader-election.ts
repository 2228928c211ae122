// Operator HA: one active instance, chosen through a coordination.k8s.io Lease, the way client-go's leaderelection
// does it. The holder renews every retryPeriod; a candidate takes over a Lease whose renewTime it has not seen
// change for leaseDuration, measured on its own clock from when it observed the record (clocks of different
// machines are never compared). A leader that cannot renew within renewDeadline stops leading. On a clean stop the
// leader releases the Lease so a standby takes over at once.
import type { V1Lease } from '@kubernetes/client-node';
import { collectionPath, objectPath, RESOURCES } from '../kube/paths.js';
import { isConflict, isNotFound, type KubeClient } from '../kube/rest.js';

export interface LeaderElectionConfig {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Milliseconds, monotonic; injected for tests. */
  now?: () => number;
  wallClock?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  onNewLeader?(identity: string): void;
  log?: (msg: string, fields?: object) => void;
}

function microTime(d: Date): string {
  return d.toISOString().replace('Z', '000Z');
}

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly wallClock: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;
  private observed?: { holder: string; renewTime: string; at: number };
  private leading = false;
  private stopped = false;
  private lastRenewAt = 0;
  private knownLeader = '';
  private wake?: () => void;

  constructor(private readonly config: LeaderElectionConfig) {
    this.leaseDurationMs = config.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = config.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = config.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new RangeError('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
    this.now = config.now ?? (() => performance.now());
    this.wallClock = config.wallClock ?? (() => new Date());
    this.sleep =
      config.sleep ??
      ((ms) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        }));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Time since the last successful renewal while leading (for /healthz); 0 when not leading. */
  get renewAgeMs(): number {
    return this.leading ? this.now() - this.lastRenewAt : 0;
  }

  /** Campaigns until stop(); resolves then. */
  async run(): Promise<void> {
    while (!this.stopped) {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenewAt = this.now();
        if (!this.leading) {
          this.leading = true;
          this.config.log?.('became the leader', { lease: this.config.name, identity: this.config.identity });
          this.config.onStartedLeading();
        }
      } else if (this.leading && this.now() - this.lastRenewAt > this.renewDeadlineMs) {
        this.leading = false;
        this.config.log?.('lost the lease', { lease: this.config.name });
        this.config.onStoppedLeading();
      }
      if (this.stopped) break;
      await this.sleep(this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    if (this.leading) await this.release();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
  }

  private path(): string {
    return objectPath(RESOURCES.leases, this.config.namespace, this.config.name);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity } = this.config;
    const wall = this.wallClock();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    try {
      const lease = await client.find<V1Lease>(this.path());
      if (!lease) {
        await client.create(collectionPath(RESOURCES.leases, this.config.namespace), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.config.name, namespace: this.config.namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(wall),
            renewTime: microTime(wall),
            leaseTransitions: 0,
          },
        });
        this.noteLeader(identity);
        return true;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const renewTime = String(spec.renewTime ?? '');
      if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
        this.observed = { holder, renewTime, at: this.now() };
      }
      this.noteLeader(holder);
      const heldByOther = holder !== '' && holder !== identity;
      const theirDurationMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (heldByOther && this.now() - this.observed.at < theirDurationMs) return false;
      const taking = holder !== identity;
      const updated: V1Lease = {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          renewTime: microTime(wall) as unknown as Date,
          ...(taking
            ? { acquireTime: microTime(wall) as unknown as Date, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
            : {}),
        },
      };
      const written = await client.replace<V1Lease>(this.path(), updated);
      this.observed = { holder: identity, renewTime: String(written.spec?.renewTime ?? ''), at: this.now() };
      this.noteLeader(identity);
      return true;
    } catch (e) {
      if (!isConflict(e) && !isNotFound(e)) this.config.log?.('lease update failed', { error: (e as Error).message });
      return false;
    }
  }

  private noteLeader(holder: string): void {
    if (holder && holder !== this.knownLeader) {
      this.knownLeader = holder;
      this.config.onNewLeader?.(holder);
    }
  }

  /** Gives the Lease up: an empty holder and a 1 s duration let a standby take it on its next try. */
  private async release(): Promise<void> {
    try {
      const lease = await this.config.client.find<V1Lease>(this.path());
      if (lease?.spec?.holderIdentity === this.config.identity) {
        await this.config.client.replace(this.path(), {
          ...lease,
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 },
        });
      }
    } catch (e) {
      this.config.log?.('could not release the lease', { error: (e as Error).message });
    }
    this.leading = false;
    this.config.onStoppedLeading();
  }
}
