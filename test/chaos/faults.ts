// The faults a chaos run injects. Each one is applied, held for a while with the clients running,
// then healed; the driver waits for the cluster to be healthy again before the next one.
import type { Cluster } from './cluster.js';
import { heal, linkDown, linkUp, partition, type Testbed } from './netns.js';

export type FaultKind =
  | 'kill-leader' // SIGKILL, then a restart without --bootstrap: rejoin as a learner (§3.6)
  | 'pause-leader' // SIGSTOP ... SIGCONT: an old leader that wakes up and tries to go on
  | 'partition-leader' // nftables drops everything on the leader's eth0
  | 'partition-follower'
  | 'link-down' // a replica's veth goes down
  | 'fabric-delay' // soft fabric hook: every outgoing operation of the leader delayed
  | 'fabric-loss' // soft fabric hook: lost transmissions (retransmitted; QPs may fail)
  | 'fabric-hold'; // soft fabric hook: the leader's outgoing operations held (fate sharing)

export const ALL_FAULTS: FaultKind[] = [
  'kill-leader',
  'pause-leader',
  'partition-leader',
  'fabric-delay',
  'partition-follower',
  'fabric-loss',
  'link-down',
  'fabric-hold',
];

export interface FaultContext {
  cluster: Cluster;
  testbed: Testbed;
  rng: () => number;
  log: (line: string) => void;
}

export interface AppliedFault {
  kind: FaultKind;
  target: number;
  description: string;
  /** Undoes the fault (restart, SIGCONT, heal...). */
  heal: () => Promise<void>;
  holdMs: number;
}

function anyLeader(c: Cluster): number {
  const l = c.agreedLeader();
  if (l !== undefined) return l;
  const claimed = c.freshStats().find((s) => s.role === 'leader');
  return claimed ? claimed.id : 0;
}

function follower(c: Cluster, rng: () => number): number {
  const l = anyLeader(c);
  const others = c.replicas.map((r) => r.id).filter((id) => id !== l);
  return others[Math.floor(rng() * others.length)];
}

/** Applies one fault; the caller waits holdMs (clients running), then calls heal(). */
export async function applyFault(kind: FaultKind, ctx: FaultContext): Promise<AppliedFault> {
  const { cluster, testbed, rng } = ctx;
  const hold = (lo: number, hi: number) => Math.round(lo + rng() * (hi - lo));
  switch (kind) {
    case 'kill-leader': {
      const t = anyLeader(cluster);
      await cluster.kill(t);
      return {
        kind, target: t, holdMs: hold(1000, 2500),
        description: `SIGKILL replica ${t} (leader); restart it as a learner (no --bootstrap)`,
        heal: async () => cluster.start(t, false),
      };
    }
    case 'pause-leader': {
      const t = anyLeader(cluster);
      cluster.pause(t);
      return {
        kind, target: t, holdMs: hold(1000, 3000),
        description: `SIGSTOP replica ${t} (leader), then SIGCONT`,
        heal: async () => cluster.resume(t),
      };
    }
    case 'partition-leader':
    case 'partition-follower': {
      const t = kind === 'partition-leader' ? anyLeader(cluster) : follower(cluster, rng);
      await partition(testbed, t);
      return {
        kind, target: t, holdMs: hold(1500, 3000),
        description: `partition replica ${t} (${kind === 'partition-leader' ? 'leader' : 'follower'}): nftables drop on its eth0`,
        heal: () => heal(testbed, t),
      };
    }
    case 'link-down': {
      const t = rng() < 0.5 ? anyLeader(cluster) : follower(cluster, rng);
      await linkDown(testbed, t);
      return {
        kind, target: t, holdMs: hold(1500, 3000),
        description: `veth of replica ${t} down`,
        heal: () => linkUp(testbed, t),
      };
    }
    case 'fabric-delay': {
      const t = anyLeader(cluster);
      const us = [500, 2000, 5000][Math.floor(rng() * 3)];
      cluster.control(t, `delay ${us}`);
      return {
        kind, target: t, holdMs: hold(1500, 3000),
        description: `soft fabric: +${us} µs on every outgoing operation of replica ${t} (leader)`,
        heal: async () => cluster.control(t, 'delay 0'),
      };
    }
    case 'fabric-loss': {
      const t = rng() < 0.6 ? anyLeader(cluster) : follower(cluster, rng);
      // Moderate loss only costs retransmissions; heavy loss exhausts RC retries and fails QPs.
      const [ppm, retransmitUs] = rng() < 0.5 ? [200_000, 1000] : [650_000, 300];
      cluster.control(t, `loss ${ppm} ${retransmitUs}`);
      return {
        kind, target: t, holdMs: hold(1500, 3000),
        description: `soft fabric: replica ${t} loses ${ppm / 10_000}% of transmissions (retransmit ${retransmitUs} µs)`,
        heal: async () => cluster.control(t, 'loss 0 0'),
      };
    }
    case 'fabric-hold': {
      const t = anyLeader(cluster);
      cluster.control(t, 'hold 1');
      return {
        kind, target: t, holdMs: hold(500, 1500),
        description: `soft fabric: every outgoing operation of replica ${t} (leader) held`,
        heal: async () => cluster.control(t, 'hold 0'),
      };
    }
  }
}
