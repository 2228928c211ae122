// RDMA discovery for the verbs fabric: devices, ports, link layer, state, MTU and GIDs from sysfs
// (<root>/class/infiniband, <root>/class/net), completed from libibverbs when the addon has the verbs backend (the
// active MTU of InfiniBand ports is not in sysfs). Then the choice the engine will use: which device, port and GID —
// RoCE v2 with an IPv4-mapped address preferred, as the engine's choose_gid_index does. Pure file reading, so it
// runs against a fake tree in tests.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { RdmaSettings } from './config.js';

export interface RdmaGid {
  index: number;
  /** The sysfs spelling: eight colon-separated groups of four hex digits. */
  gid: string;
  /** "RoCE v2", "IB/RoCE v1", or "" when sysfs does not say. */
  type: string;
  /** Network interface of a RoCE GID ("" when none). */
  netdev: string;
  roceV2: boolean;
  ipv4Mapped: boolean;
  /** The IPv4 address of an IPv4-mapped GID. */
  ipv4?: string;
}

export interface RdmaPort {
  port: number;
  /** "ACTIVE", "DOWN", "INIT", ... */
  state: string;
  /** "LinkUp", "Disabled", ... */
  physState: string;
  /** "InfiniBand" or "Ethernet" (RoCE). */
  linkLayer: string;
  lid: number;
  /** Active path MTU in bytes; null when unknown. */
  activeMtu: number | null;
  /** verbs: ibv_query_port; netdev: derived from the interface MTU (RoCE); unknown. */
  mtuSource: 'verbs' | 'netdev' | 'unknown';
  /** Valid (non-zero) GID table entries. */
  gids: RdmaGid[];
  /** What gidIndex "auto" picks; -1 when the port has no GID. */
  preferredGidIndex: number;
}

export interface RdmaDevice {
  name: string;
  nodeGuid: string;
  /** Network interfaces of the device (<dev>/device/net). */
  netdevs: string[];
  ports: RdmaPort[];
}

const IB_MTUS = [4096, 2048, 1024, 512, 256];
/** RoCE v2 per-packet overhead the drivers subtract from the interface MTU (GRH/IP, UDP, BTH, extensions, ICRC). */
const ROCE_OVERHEAD_BYTES = 96;

/** The IB path MTU a RoCE port runs at over an interface with this MTU. */
export function roceMtu(ethernetMtu: number): number | null {
  return IB_MTUS.find((m) => m <= ethernetMtu - ROCE_OVERHEAD_BYTES) ?? null;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function list(path: string): string[] {
  try {
    return readdirSync(path).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return [];
  }
}

/** "4: ACTIVE" → "ACTIVE". */
function stateName(text: string | undefined): string {
  if (!text) return 'UNKNOWN';
  const colon = text.indexOf(':');
  return (colon === -1 ? text : text.slice(colon + 1)).trim();
}

export function parseGid(index: number, gid: string, type: string, netdev: string): RdmaGid | undefined {
  const groups = gid.split(':');
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{4}$/.test(g))) return undefined;
  if (groups.every((g) => g === '0000')) return undefined; // an empty table entry
  const bytes = groups.flatMap((g) => [parseInt(g.slice(0, 2), 16), parseInt(g.slice(2), 16)]);
  const ipv4Mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return {
    index,
    gid: gid.toLowerCase(),
    type,
    netdev,
    roceV2: type === 'RoCE v2',
    ipv4Mapped,
    ...(ipv4Mapped ? { ipv4: bytes.slice(12).join('.') } : {}),
  };
}

/** RoCE v2 with an IPv4-mapped address, else any RoCE v2, else IPv4-mapped of any type, else the lowest index. */
export function chooseGid(gids: readonly RdmaGid[]): RdmaGid | undefined {
  const sorted = [...gids].sort((a, b) => a.index - b.index);
  return sorted.find((g) => g.roceV2 && g.ipv4Mapped) ?? sorted.find((g) => g.roceV2) ??
    sorted.find((g) => g.ipv4Mapped) ?? sorted[0];
}

/** Reads every RDMA device under <sysRoot>/class/infiniband; [] when there is none (no RDMA on this machine). */
export function readRdmaSysfs(sysRoot: string): RdmaDevice[] {
  const classDir = join(sysRoot, 'class', 'infiniband');
  const devices: RdmaDevice[] = [];
  for (const name of list(classDir)) {
    const dir = join(classDir, name);
    const netdevs = list(join(dir, 'device', 'net'));
    const ports: RdmaPort[] = [];
    for (const p of list(join(dir, 'ports')).filter((x) => /^[0-9]+$/.test(x))) {
      const portDir = join(dir, 'ports', p);
      const gids: RdmaGid[] = [];
      for (const i of list(join(portDir, 'gids')).filter((x) => /^[0-9]+$/.test(x))) {
        const text = readText(join(portDir, 'gids', i));
        if (text === undefined) continue;
        const gid = parseGid(Number(i), text, readText(join(portDir, 'gid_attrs', 'types', i)) ?? '',
          readText(join(portDir, 'gid_attrs', 'ndevs', i)) ?? '');
        if (gid) gids.push(gid);
      }
      gids.sort((a, b) => a.index - b.index);
      const linkLayer = readText(join(portDir, 'link_layer')) ?? 'UNKNOWN';
      let activeMtu: number | null = null;
      let mtuSource: RdmaPort['mtuSource'] = 'unknown';
      if (linkLayer === 'Ethernet') {
        const netdev = gids.find((g) => g.netdev)?.netdev ?? netdevs[0];
        const mtu = netdev ? Number(readText(join(sysRoot, 'class', 'net', netdev, 'mtu'))) : Number.NaN;
        if (Number.isFinite(mtu) && mtu > 0) {
          activeMtu = roceMtu(mtu);
          mtuSource = 'netdev';
        }
      }
      const lidText = readText(join(portDir, 'lid'));
      ports.push({
        port: Number(p),
        state: stateName(readText(join(portDir, 'state'))),
        physState: stateName(readText(join(portDir, 'phys_state'))),
        linkLayer,
        lid: lidText ? Number.parseInt(lidText, 16) || 0 : 0,
        activeMtu,
        mtuSource,
        gids,
        preferredGidIndex: chooseGid(gids)?.index ?? -1,
      });
    }
    devices.push({ name, nodeGuid: readText(join(dir, 'node_guid')) ?? '', netdevs, ports });
  }
  return devices;
}

/** Adds what libibverbs knows (the addon's discoverVerbs JSON) to what sysfs said: the active MTU. */
export function mergeVerbsDiscovery(devices: RdmaDevice[], verbsJson: string): RdmaDevice[] {
  let native: { name: string; ports: { port: number; activeMtu: number; state?: string }[] }[];
  try {
    native = JSON.parse(verbsJson) as typeof native;
  } catch {
    return devices;
  }
  for (const d of devices) {
    const nd = native.find((x) => x.name === d.name);
    for (const p of d.ports) {
      const np = nd?.ports.find((x) => x.port === p.port);
      if (np && np.activeMtu > 0) {
        p.activeMtu = np.activeMtu;
        p.mtuSource = 'verbs';
      }
    }
  }
  return devices;
}

export interface RdmaSelection {
  device: string;
  port: number;
  linkLayer: string;
  state: string;
  activeMtu: number | null;
  gidIndex: number;
  gid: string;
  gidType: string;
  /** The IPv4 address of an IPv4-mapped GID. */
  address?: string;
  netdev?: string;
  /** Things worth a warning that do not stop the agent. */
  warnings: string[];
}

export type SelectionResult =
  | { ok: true; selection: RdmaSelection }
  /** setting: the key of the setting at fault (config.ts), or "rdma" when nothing at all was found. */
  | { ok: false; setting: 'rdma' | 'rdmaDevice' | 'rdmaNetdev' | 'rdmaPort' | 'rdmaLinkLayer' | 'rdmaGidIndex';
    problem: string };

/** Picks the device, port and GID the verbs fabric will use, or says which setting cannot be satisfied. */
export function selectRdma(devices: readonly RdmaDevice[], want: RdmaSettings, sysRoot = '/sys'): SelectionResult {
  if (devices.length === 0) {
    return { ok: false, setting: 'rdma', problem: `no RDMA device found under ${join(sysRoot, 'class', 'infiniband')}` };
  }
  const names = devices.map((d) => d.name).join(', ');
  let device: RdmaDevice | undefined;
  if (want.device) {
    device = devices.find((d) => d.name === want.device);
    if (!device) return { ok: false, setting: 'rdmaDevice', problem: `no RDMA device "${want.device}" (found: ${names})` };
  } else if (want.netdev) {
    device = devices.find((d) => d.netdevs.includes(want.netdev!) ||
      d.ports.some((p) => p.gids.some((g) => g.netdev === want.netdev)));
    if (!device) {
      return { ok: false, setting: 'rdmaNetdev', problem: `no RDMA device is bound to interface "${want.netdev}" ` +
        `(devices: ${names})` };
    }
  } else {
    device = devices.find((d) => d.ports.some((p) => p.port === want.port && p.state === 'ACTIVE'));
    if (!device) {
      const seen = devices.flatMap((d) => d.ports.map((p) => `${d.name} port ${p.port} ${p.state}`)).join(', ');
      return { ok: false, setting: 'rdmaPort', problem: `no RDMA device has port ${want.port} ACTIVE (${seen || 'no ports'})` };
    }
  }
  const port = device.ports.find((p) => p.port === want.port);
  if (!port) {
    return { ok: false, setting: 'rdmaPort', problem: `device ${device.name} has no port ${want.port} ` +
      `(ports: ${device.ports.map((p) => p.port).join(', ') || 'none'})` };
  }
  if (port.state !== 'ACTIVE') {
    return { ok: false, setting: 'rdmaPort', problem: `port ${port.port} of ${device.name} is ${port.state} ` +
      `(physical state ${port.physState}), not ACTIVE` };
  }
  if (want.linkLayer !== 'auto' && port.linkLayer !== want.linkLayer) {
    return { ok: false, setting: 'rdmaLinkLayer', problem: `port ${port.port} of ${device.name} is ${port.linkLayer}, ` +
      `not ${want.linkLayer}` };
  }
  let gid: RdmaGid | undefined;
  if (want.gidIndex === 'auto') {
    gid = chooseGid(port.gids);
    if (!gid) return { ok: false, setting: 'rdmaGidIndex', problem: `port ${port.port} of ${device.name} has no valid GID` };
  } else {
    gid = port.gids.find((g) => g.index === want.gidIndex);
    if (!gid) {
      return { ok: false, setting: 'rdmaGidIndex', problem: `GID index ${want.gidIndex} is empty on ${device.name} port ` +
        `${port.port} (valid: ${port.gids.map((g) => g.index).join(', ') || 'none'})` };
    }
  }
  const warnings: string[] = [];
  if (port.linkLayer === 'Ethernet' && !gid.roceV2) {
    warnings.push(`GID ${gid.index} of ${device.name} is ${gid.type || 'of unknown type'}, not RoCE v2: traffic ` +
      'will not be routable across subnets');
  }
  return {
    ok: true,
    selection: {
      device: device.name,
      port: port.port,
      linkLayer: port.linkLayer,
      state: port.state,
      activeMtu: port.activeMtu,
      gidIndex: gid.index,
      gid: gid.gid,
      gidType: gid.type,
      ...(gid.ipv4 ? { address: gid.ipv4 } : {}),
      ...(gid.netdev ? { netdev: gid.netdev } : {}),
      warnings,
    },
  };
}
