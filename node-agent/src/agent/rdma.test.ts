import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { chooseFabric } from './agent.js';
import { type AgentConfig, ConfigError, type RdmaSettings } from './config.js';
import { checkMemlock, hasIpcLock, parseMemlockLimit, pinnedBytesEstimate } from './memlock.js';
import { chooseGid, mergeVerbsDiscovery, parseGid, readRdmaSysfs, roceMtu, selectRdma } from './rdma.js';

const ZERO = '0000:0000:0000:0000:0000:0000:0000:0000';
const LINK_LOCAL = 'fe80:0000:0000:0000:0202:c9ff:fe42:3456';
const V4_MAPPED = '0000:0000:0000:0000:0000:ffff:c0a8:0107'; // 192.168.1.7

/** A sysfs tree like a host with a RoCE NIC (mlx5_0, two ports, the second down) and an InfiniBand HCA. */
function fakeSysfs(): string {
  const root = mkdtempSync(join(tmpdir(), 'mu-sysfs-'));
  const put = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${text}\n`);
  };
  const ib = 'class/infiniband';
  put(`${ib}/mlx5_0/node_guid`, '0002:c903:0042:3456');
  mkdirSync(join(root, ib, 'mlx5_0/device/net/ens1f0'), { recursive: true });
  const roce = `${ib}/mlx5_0/ports/1`;
  put(`${roce}/state`, '4: ACTIVE');
  put(`${roce}/phys_state`, '5: LinkUp');
  put(`${roce}/link_layer`, 'Ethernet');
  put(`${roce}/lid`, '0x0');
  // 0: link-local v1, 1: link-local v2, 2: IPv4-mapped v1, 3: IPv4-mapped v2, 4: empty.
  const gids: [string, string][] = [[LINK_LOCAL, 'IB/RoCE v1'], [LINK_LOCAL, 'RoCE v2'], [V4_MAPPED, 'IB/RoCE v1'],
    [V4_MAPPED, 'RoCE v2'], [ZERO, '']];
  gids.forEach(([gid, type], i) => {
    put(`${roce}/gids/${i}`, gid);
    if (type) put(`${roce}/gid_attrs/types/${i}`, type);
    if (type) put(`${roce}/gid_attrs/ndevs/${i}`, 'ens1f0');
  });
  put('class/net/ens1f0/mtu', '9000');
  const down = `${ib}/mlx5_0/ports/2`;
  put(`${down}/state`, '1: DOWN');
  put(`${down}/phys_state`, '3: Disabled');
  put(`${down}/link_layer`, 'Ethernet');
  put(`${down}/gids/0`, LINK_LOCAL);
  put(`${ib}/mlx4_0/node_guid`, '0002:c903:0000:0001');
  const hca = `${ib}/mlx4_0/ports/1`;
  put(`${hca}/state`, '4: ACTIVE');
  put(`${hca}/phys_state`, '5: LinkUp');
  put(`${hca}/link_layer`, 'InfiniBand');
  put(`${hca}/lid`, '0x1a');
  put(`${hca}/gids/0`, 'fe80:0000:0000:0000:0002:c903:0000:0001');
  return root;
}

const want = (over: Partial<RdmaSettings> = {}): RdmaSettings =>
  ({ port: 1, linkLayer: 'auto', gidIndex: 'auto', ...over });

describe('RDMA discovery from sysfs', () => {
  let root: string;
  beforeAll(() => {
    root = fakeSysfs();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('reads devices, ports, link layer, state, MTU and the valid GIDs', () => {
    const devices = readRdmaSysfs(root);
    expect(devices.map((d) => d.name)).toEqual(['mlx4_0', 'mlx5_0']);
    const mlx5 = devices.find((d) => d.name === 'mlx5_0')!;
    expect(mlx5.nodeGuid).toBe('0002:c903:0042:3456');
    expect(mlx5.netdevs).toEqual(['ens1f0']);
    const [p1, p2] = mlx5.ports;
    expect(p1).toMatchObject({ port: 1, state: 'ACTIVE', physState: 'LinkUp', linkLayer: 'Ethernet', lid: 0,
      activeMtu: 4096, mtuSource: 'netdev', preferredGidIndex: 3 });
    expect(p1!.gids.map((g) => g.index)).toEqual([0, 1, 2, 3]); // the all-zero entry is not a GID
    expect(p1!.gids[3]).toMatchObject({ type: 'RoCE v2', roceV2: true, ipv4Mapped: true, ipv4: '192.168.1.7',
      netdev: 'ens1f0' });
    expect(p2).toMatchObject({ port: 2, state: 'DOWN', physState: 'Disabled' });
    const hca = devices.find((d) => d.name === 'mlx4_0')!.ports[0]!;
    expect(hca).toMatchObject({ linkLayer: 'InfiniBand', lid: 0x1a, activeMtu: null, mtuSource: 'unknown',
      preferredGidIndex: 0 });
  });

  test('no /class/infiniband: no devices', () => {
    expect(readRdmaSysfs(join(root, 'nonexistent'))).toEqual([]);
  });

  test('GID preference: RoCE v2 IPv4-mapped, then RoCE v2, then IPv4-mapped, then the lowest index', () => {
    const g = (i: number, gid: string, type: string) => parseGid(i, gid, type, '')!;
    expect(chooseGid([g(0, LINK_LOCAL, 'IB/RoCE v1'), g(1, LINK_LOCAL, 'RoCE v2'), g(2, V4_MAPPED, 'RoCE v2')])!.index).toBe(2);
    expect(chooseGid([g(0, LINK_LOCAL, 'IB/RoCE v1'), g(5, LINK_LOCAL, 'RoCE v2'), g(2, V4_MAPPED, 'IB/RoCE v1')])!.index).toBe(5);
    expect(chooseGid([g(4, LINK_LOCAL, ''), g(2, V4_MAPPED, '')])!.index).toBe(2);
    expect(chooseGid([g(4, LINK_LOCAL, ''), g(3, LINK_LOCAL, '')])!.index).toBe(3);
    expect(chooseGid([])).toBeUndefined();
    expect(parseGid(0, ZERO, '', '')).toBeUndefined();
    expect(parseGid(0, 'not-a-gid', '', '')).toBeUndefined();
  });

  test('RoCE MTU from the interface MTU', () => {
    expect(roceMtu(9000)).toBe(4096);
    expect(roceMtu(1500)).toBe(1024);
    expect(roceMtu(4200)).toBe(4096);
    expect(roceMtu(4000)).toBe(2048);
    expect(roceMtu(300)).toBeNull();
  });

  test('libibverbs completes the active MTU', () => {
    const devices = mergeVerbsDiscovery(readRdmaSysfs(root),
      JSON.stringify([{ name: 'mlx4_0', ports: [{ port: 1, activeMtu: 2048 }] }]));
    expect(devices.find((d) => d.name === 'mlx4_0')!.ports[0]).toMatchObject({ activeMtu: 2048, mtuSource: 'verbs' });
    expect(mergeVerbsDiscovery(devices, 'not json')).toBe(devices);
  });

  test('selection: the first active port, the preferred GID, or exactly what was asked', () => {
    const devices = readRdmaSysfs(root);
    const auto = selectRdma(devices, want(), root);
    expect(auto).toMatchObject({ ok: true, selection: { device: 'mlx4_0', port: 1, gidIndex: 0, linkLayer: 'InfiniBand' } });
    const byNetdev = selectRdma(devices, want({ netdev: 'ens1f0' }), root);
    expect(byNetdev).toMatchObject({ ok: true, selection: { device: 'mlx5_0', gidIndex: 3, address: '192.168.1.7',
      gid: V4_MAPPED, gidType: 'RoCE v2', activeMtu: 4096 } });
    const v1 = selectRdma(devices, want({ device: 'mlx5_0', gidIndex: 0 }), root);
    expect(v1.ok && v1.selection.warnings[0]).toMatch(/not RoCE v2/);
  });

  test.each<[string, Partial<RdmaSettings>, string, RegExp]>([
    ['unknown device', { device: 'mlx9_9' }, 'rdmaDevice', /no RDMA device "mlx9_9" \(found: mlx4_0, mlx5_0\)/],
    ['unknown interface', { netdev: 'eth7' }, 'rdmaNetdev', /no RDMA device is bound to interface "eth7"/],
    ['missing port', { device: 'mlx4_0', port: 2 }, 'rdmaPort', /device mlx4_0 has no port 2 \(ports: 1\)/],
    ['port down', { device: 'mlx5_0', port: 2 }, 'rdmaPort', /port 2 of mlx5_0 is DOWN \(physical state Disabled\)/],
    ['no device with that port active', { port: 2 }, 'rdmaPort', /no RDMA device has port 2 ACTIVE \(.*mlx5_0 port 2 DOWN/],
    ['link layer mismatch', { device: 'mlx4_0', linkLayer: 'Ethernet' }, 'rdmaLinkLayer',
      /port 1 of mlx4_0 is InfiniBand, not Ethernet/],
    ['empty GID index', { device: 'mlx5_0', gidIndex: 4 }, 'rdmaGidIndex', /GID index 4 is empty on mlx5_0 port 1 \(valid: 0, 1, 2, 3\)/],
  ])('selection refuses: %s', (_name, over, setting, message) => {
    const r = selectRdma(readRdmaSysfs(root), want(over), root);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.setting).toBe(setting);
      expect(r.problem).toMatch(message);
    }
  });

  describe('the agent\'s fabric choice', () => {
    const config = (fabric: AgentConfig['fabric'], sysfsRoot: string, rdma: Partial<RdmaSettings> = {}): AgentConfig =>
      ({ fabric, sysfsRoot, rdma: want(rdma) }) as AgentConfig;
    const withVerbs = { fabrics: ['sim', 'soft', 'verbs'] as readonly string[] };
    const withoutVerbs = { fabrics: ['sim', 'soft'] as readonly string[] };

    test('auto on a machine without RDMA says so and uses soft', () => {
      const empty = mkdtempSync(join(tmpdir(), 'mu-sysfs-empty-'));
      try {
        const f = chooseFabric(config('auto', empty), withVerbs);
        expect(f).toMatchObject({ kind: 'soft' });
        expect(f.reason).toBe(`auto: no RDMA device found under ${join(empty, 'class', 'infiniband')}; using the soft fabric`);
        expect(() => chooseFabric(config('verbs', empty), withVerbs)).toThrow(
          new ConfigError('--fabric', `no RDMA device found under ${join(empty, 'class', 'infiniband')} (fabric verbs)`));
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });

    test('auto with an active port uses verbs; an engine without verbs falls back or refuses', () => {
      expect(chooseFabric(config('auto', root), withVerbs)).toMatchObject({ kind: 'verbs', selection: { device: 'mlx4_0' } });
      expect(chooseFabric(config('auto', root), withoutVerbs)).toMatchObject({ kind: 'soft' });
      expect(() => chooseFabric(config('verbs', root), withoutVerbs)).toThrow(/--fabric: verbs needs an engine built with libibverbs/);
      expect(chooseFabric(config('soft', root), withVerbs)).toEqual({ kind: 'soft', reason: 'configured' });
    });

    test('the error names the setting where it was given', () => {
      const fromFile = { ...config('verbs', join(root, 'none')), labels: { fabric: 'cluster.json fabric' } } as AgentConfig;
      expect(() => chooseFabric(fromFile, withVerbs)).toThrow(/^cluster.json fabric: no RDMA device found/);
    });

    test('a setting that cannot be met is named, even with auto', () => {
      expect(() => chooseFabric(config('auto', root, { device: 'mlx9_9' }), withVerbs)).toThrow(/^--rdma-device: no RDMA device "mlx9_9"/);
      expect(() => chooseFabric(config('verbs', root, { device: 'mlx5_0', gidIndex: 9 }), withVerbs))
        .toThrow(/^--rdma-gid-index: GID index 9 is empty/);
    });
  });
});

describe('memlock', () => {
  const limits = (soft: string, hard: string): string =>
    'Limit                     Soft Limit           Hard Limit           Units     \n' +
    'Max open files            1048576              1048576              files     \n' +
    `Max locked memory         ${soft.padEnd(21)}${hard.padEnd(21)}bytes     \n`;
  const noCaps = 'Name:\tnode\nCapEff:\t0000000000000000\n';
  const ipcLock = 'Name:\tnode\nCapEff:\t0000000000004000\n';

  test('parses /proc/self/limits and CapEff', () => {
    expect(parseMemlockLimit(limits('8388608', '8388608'))).toEqual({ soft: 8388608, hard: 8388608 });
    expect(parseMemlockLimit(limits('unlimited', 'unlimited'))).toEqual({ soft: Infinity, hard: Infinity });
    expect(parseMemlockLimit('nothing here')).toBeUndefined();
    expect(hasIpcLock(ipcLock)).toBe(true);
    expect(hasIpcLock(noCaps)).toBe(false);
    expect(hasIpcLock('CapEff:\t000001ffffffffff\n')).toBe(true);
  });

  test('a limit below what the log pins is MemlockTooLow, naming what to change', () => {
    const needed = pinnedBytesEstimate(64 << 20, 70000);
    expect(needed).toBeGreaterThan(64 << 20);
    const v = checkMemlock(needed, { limits: limits('8388608', '8388608'), status: noCaps });
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.code).toBe('MemlockTooLow');
      expect(v.message).toMatch(/^MemlockTooLow: the verbs fabric pins about \d+\.\d MiB .* RLIMIT_MEMLOCK is 8\.0 MiB/);
      expect(v.message).toMatch(/IPC_LOCK/);
    }
    expect(checkMemlock(needed, { limits: limits('unlimited', 'unlimited'), status: noCaps })).toMatchObject({ ok: true, reason: 'limit' });
    expect(checkMemlock(needed, { limits: limits('65536', '65536'), status: ipcLock })).toMatchObject({ ok: true, reason: 'ipc-lock' });
  });
});
