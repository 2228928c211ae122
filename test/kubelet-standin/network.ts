// Where the stand-in's nodes live on the network.
//
// netns mode (root): one network namespace per node, joined to a bridge in the host namespace by a veth pair:
//   host: bridge mu-br-<tag> 10.250.0.1/24          node i: namespace mu-<tag>-node-<i>, eth0 10.250.0.(10+i)/24
// The host (operator, probes, tests) reaches every node; nodes reach each other through the bridge. A pod with host
// networking runs inside its node's namespace, so two replicas can listen on the same port as on real machines.
// Each namespace gets /etc/netns/<ns>/hosts, which `ip netns exec` mounts over /etc/hosts: the stand-in writes the
// pods' DNS names there (<hostname>.<subdomain>.<namespace>.svc.<domain>), standing in for cluster DNS.
//
// shared mode (not root): every node is an address on loopback (127.0.1.i); nothing is isolated and there is no DNS.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';

export interface NodeNetwork {
  /** Node name. */
  name: string;
  /** The node's InternalIP: what hostNetwork pods get as their IP. */
  address: string;
  /** Network namespace, in netns mode. */
  netns?: string;
}

export interface NetworkPlan {
  mode: 'netns' | 'shared';
  bridge?: { name: string; address: string };
  nodes: NodeNetwork[];
}

/** subnet is three octets, e.g. "10.250.0"; the tag in interface names is the third octet. */
export function planNetwork(nodeNames: readonly string[], subnet: string, netns: boolean): NetworkPlan {
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new Error(`--subnet must be three octets, got "${subnet}"`);
  if (nodeNames.length > 200) throw new Error(`at most 200 nodes, got ${nodeNames.length}`);
  if (!netns) {
    return { mode: 'shared', nodes: nodeNames.map((name, i) => ({ name, address: `127.0.1.${i + 1}` })) };
  }
  const tag = subnet.split('.')[2]!;
  return {
    mode: 'netns',
    bridge: { name: `mu-br-${tag}`, address: `${subnet}.1` },
    nodes: nodeNames.map((name, i) => ({ name, address: `${subnet}.${10 + i + 1}`, netns: `mu-${tag}-node-${i + 1}` })),
  };
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
function ipQuiet(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // Removing what is not there is fine.
  }
}

function vethName(plan: NetworkPlan, index: number): string {
  return `${plan.bridge!.name.replace('mu-br-', 'mu-v')}-${index + 1}`;
}

/** Creates the bridge and namespaces, replacing leftovers of an earlier run with the same names. */
export function setUpNetwork(plan: NetworkPlan): void {
  if (plan.mode !== 'netns') return;
  tearDownNetwork(plan);
  const bridge = plan.bridge!;
  ip('link', 'add', bridge.name, 'type', 'bridge');
  ip('addr', 'add', `${bridge.address}/24`, 'dev', bridge.name);
  ip('link', 'set', bridge.name, 'up');
  plan.nodes.forEach((node, i) => {
    const ns = node.netns!;
    const veth = vethName(plan, i);
    ip('netns', 'add', ns);
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', veth, 'master', bridge.name);
    ip('link', 'set', veth, 'up');
    ip('-n', ns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', bridge.address);
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/hosts`, hostsFile(node, []));
    // No resolver is reachable from the namespace; without a nameserver line the C library asks 127.0.0.1, which
    // refuses at once, instead of timing out on the host's resolver (seconds per lookup). Names come from hosts.
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, '# kubelet stand-in: no DNS server; pod names are in /etc/hosts\n');
  });
}

export function tearDownNetwork(plan: NetworkPlan): void {
  if (plan.mode !== 'netns') return;
  plan.nodes.forEach((node, i) => {
    ipQuiet('netns', 'del', node.netns!);
    ipQuiet('link', 'del', vethName(plan, i));
    if (existsSync(`/etc/netns/${node.netns}`)) rmSync(`/etc/netns/${node.netns}`, { recursive: true, force: true });
  });
  ipQuiet('link', 'del', plan.bridge!.name);
}

export interface HostEntry {
  address: string;
  names: string[];
}

export function hostsFile(node: NodeNetwork, entries: readonly HostEntry[]): string {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', `${node.address} ${node.name}`];
  for (const e of entries) lines.push(`${e.address} ${e.names.join(' ')}`);
  return `# Written by the kubelet stand-in: pod DNS names for this node's namespace.\n${lines.join('\n')}\n`;
}

/** Rewrites every node's hosts file in place: `ip netns exec` bind-mounts it, and a bind mount follows the inode. */
export function writeHostsFiles(plan: NetworkPlan, entries: readonly HostEntry[]): void {
  if (plan.mode !== 'netns') return;
  for (const node of plan.nodes) writeFileSync(`/etc/netns/${node.netns}/hosts`, hostsFile(node, entries));
}

/** argv that runs command on node: inside its namespace in netns mode. */
export function commandOnNode(node: NodeNetwork, argv: readonly string[]): string[] {
  return node.netns ? ['ip', 'netns', 'exec', node.netns, ...argv] : [...argv];
}
