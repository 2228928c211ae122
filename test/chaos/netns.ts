// The chaos testbed's network: one namespace per replica, joined by veth pairs through a bridge
// that lives in a "switch" namespace, where the driver (the clients) runs too. Nothing is created
// in the caller's namespace and no address leaves 10.251.0.0/24 (inside these namespaces only).
//
//   <tag>-sw:  br0 10.251.0.1/24 ── v<tag>r0 ─┐ ── v<tag>r1 ─┐ ...
//   <tag>-r0:  eth0 10.251.0.10/24 ───────────┘
//   <tag>-r1:  eth0 10.251.0.11/24 ───────────────────────────┘
//
// Faults: partition(i) drops everything from/to 10.251.0.0/24 in replica i's namespace with
// nftables (existing connections stall, as in a real partition); linkDown(i) takes its eth0 down.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SUBNET = '10.251.0';
export const SWITCH_ADDRESS = `${SUBNET}.1`;

export function replicaAddress(i: number): string {
  return `${SUBNET}.${10 + i}`;
}

export interface Testbed {
  tag: string;
  switchNs: string;
  replicaNs: string[];
}

export function testbedNames(tag: string, replicas: number): Testbed {
  return {
    tag,
    switchNs: `${tag}-sw`,
    replicaNs: Array.from({ length: replicas }, (_, i) => `${tag}-r${i}`),
  };
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates the namespaces, the bridge and the veth pairs. Throws (after undoing) on failure. */
export function createTestbed(tb: Testbed): void {
  try {
    ip(['netns', 'add', tb.switchNs]);
    ip(['-n', tb.switchNs, 'link', 'set', 'lo', 'up']);
    ip(['-n', tb.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', tb.switchNs, 'addr', 'add', `${SWITCH_ADDRESS}/24`, 'dev', 'br0']);
    ip(['-n', tb.switchNs, 'link', 'set', 'br0', 'up']);
    tb.replicaNs.forEach((ns, i) => {
      const port = `v${tb.tag.slice(-8)}r${i}`.slice(0, 15);
      ip(['netns', 'add', ns]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // Both ends are created inside our namespaces: nothing appears in the caller's.
      ip(['-n', tb.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', tb.switchNs, 'link', 'set', port, 'master', 'br0']);
      ip(['-n', tb.switchNs, 'link', 'set', port, 'up']);
      ip(['-n', ns, 'addr', 'add', `${replicaAddress(i)}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    });
  } catch (err) {
    destroyTestbed(tb);
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`creating the network namespaces: ${e.stderr?.toString().trim() || e.message}`);
  }
}

/** Processes still inside a namespace of the testbed. */
export function testbedPids(tb: Testbed): number[] {
  const pids: number[] = [];
  for (const ns of [...tb.replicaNs, tb.switchNs]) {
    try {
      const out = execFileSync('ip', ['netns', 'pids', ns], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      for (const line of out.split('\n')) if (line.trim()) pids.push(Number(line.trim()));
    } catch {
      // namespace gone already
    }
  }
  return pids;
}

/** SIGKILLs whatever runs in the namespaces (by pid, each one found there), then deletes them. */
export function destroyTestbed(tb: Testbed, except: number[] = []): void {
  for (const pid of testbedPids(tb)) {
    if (except.includes(pid)) continue;
    try {
      process.kill(pid, 'SIGCONT'); // a stopped process must run to die promptly
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const ns of [...tb.replicaNs, tb.switchNs]) {
    try {
      ip(['netns', 'del', ns]); // deleting a namespace removes its veth ends and the bridge
    } catch {
      // not there
    }
  }
}

/** Namespaces left by earlier runs (crashed drivers): names under /run/netns with our prefix. */
export function staleNamespaces(prefix: string): string[] {
  try {
    const out = execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return out
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

// --- faults (async: the clients keep running while a fault is applied) -------------------------

const TABLE = 'mu_chaos';

export async function partition(tb: Testbed, i: number): Promise<void> {
  const ns = tb.replicaNs[i];
  const rules = [
    `add table inet ${TABLE}`,
    `add chain inet ${TABLE} in { type filter hook input priority -10; policy accept; }`,
    `add chain inet ${TABLE} out { type filter hook output priority -10; policy accept; }`,
    `add rule inet ${TABLE} in iifname "eth0" drop`,
    `add rule inet ${TABLE} out oifname "eth0" drop`,
  ].join('\n');
  await nft(ns, rules);
}

export async function heal(tb: Testbed, i: number): Promise<void> {
  await nft(tb.replicaNs[i], `delete table inet ${TABLE}`).catch(() => undefined);
}

function nft(ns: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], (err, _out, stderr) => {
      if (err) reject(new Error(`nft in ${ns}: ${stderr.trim() || err.message}`));
      else resolve();
    });
    child.stdin?.end(script + '\n');
  });
}

export async function linkDown(tb: Testbed, i: number): Promise<void> {
  await run('ip', ['-n', tb.replicaNs[i], 'link', 'set', 'eth0', 'down']);
}

export async function linkUp(tb: Testbed, i: number): Promise<void> {
  await run('ip', ['-n', tb.replicaNs[i], 'link', 'set', 'eth0', 'up']);
}
