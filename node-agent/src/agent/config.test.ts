import { EXIT_BAD_SETTING, EXIT_OK, runAgentMain } from './main.js';
import { type AgentConfig, ConfigError, loadAgentConfig } from './config.js';
import { SETTINGS } from './settings.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');

function clusterJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    cluster: 'demo',
    namespace: 'prod',
    fabric: 'soft',
    members: [0, 1, 2].map((id) => ({
      id, name: `demo-${id}`, host: `demo-${id}.demo-members.prod.svc.cluster.local`,
      respPort: 6379, agentPort: 8790, fabricPort: 8791,
    })),
    engine: {
      logSizeBytes: 67108864, heartbeatPeriodMicros: 50, scoreMax: 15, failureThreshold: 2, recoveryThreshold: 6,
      stuckReplicationTimeoutMicros: 10000, brokenConnectionTimeoutMicros: 1000000,
      permissionSwitchMechanism: 'accessFlags',
      batching: { maxBatchRequests: 64, maxBatchBytes: 65536, maxOutstandingProposals: 16 },
    },
    ...overrides,
  };
}

interface Inputs {
  argv?: string[];
  env?: Record<string, string>;
  doc?: unknown;
  rawFile?: string;
  files?: Record<string, Buffer | string>;
}

function load(inputs: Inputs = {}): AgentConfig {
  const files: Record<string, Buffer | string> = {
    '/etc/mu/config/cluster.json': inputs.rawFile ?? JSON.stringify(inputs.doc ?? clusterJson()),
    '/etc/mu/secret/fabric-key': KEY,
    ...inputs.files,
  };
  return loadAgentConfig({
    argv: inputs.argv ?? ['--replica-id=1', '--config=/etc/mu/config/cluster.json',
      '--fabric-key-file=/etc/mu/secret/fabric-key'],
    env: inputs.env ?? {},
    readFile: (path) => {
      const f = files[path];
      if (f === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return Buffer.from(f);
    },
  });
}

function problem(inputs: Inputs): string {
  try {
    load(inputs);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const message = (e as ConfigError).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a ConfigError');
}

const base = ['--config=/etc/mu/config/cluster.json', '--fabric-key-file=/etc/mu/secret/fabric-key'];
const withEngine = (engine: Record<string, unknown>): Record<string, unknown> =>
  clusterJson({ engine: { ...(clusterJson().engine as object), ...engine } });
const withMember = (i: number, fields: Record<string, unknown>): Record<string, unknown> => {
  const doc = clusterJson();
  const members = doc.members as Record<string, unknown>[];
  members[i] = { ...members[i], ...fields };
  return doc;
};

describe('agent configuration', () => {
  test('the operator\'s document, flags and the key file make a complete configuration', () => {
    const c = load();
    expect(c.replicaId).toBe(1);
    expect(c.self).toMatchObject({ id: 1, respPort: 6379, agentPort: 8790, fabricPort: 8791, bootstrapPort: 8792 });
    expect(c.httpPort).toBe(8790);
    expect(c.fabric).toBe('soft');
    expect(c.bootstrap).toBe(false);
    expect(c.fabricKey.equals(KEY)).toBe(true);
    expect(c.engine).toMatchObject({ logSizeBytes: 67108864, heartbeatPeriodMicros: 50, maxBatchRequests: 64,
      maxOutstandingProposals: 16, permissionSwitchMechanism: 'accessFlags' });
    expect(c.sources).toMatchObject({ replicaId: 'flag', logSizeBytes: 'file', httpHost: 'default' });
  });

  test('precedence: flag over environment over cluster.json over default', () => {
    const c = load({
      argv: [...base, '--heartbeat-period-micros', '200', '--bootstrap'],
      env: { MU_REPLICA_ID: '2', MU_HEARTBEAT_PERIOD_MICROS: '300', MU_SCORE_MAX: '20', MU_POD_IP: '10.0.0.7',
        MU_POD_NAME: 'demo-2', MU_HUGEPAGES_DIRS: '/dev/hugepages-2Mi' },
    });
    expect(c.replicaId).toBe(2);
    expect(c.engine.heartbeatPeriodMicros).toBe(200);
    expect(c.engine.scoreMax).toBe(20);
    expect(c.engine.failureThreshold).toBe(2);
    expect(c.bootstrap).toBe(true);
    expect(c.podIP).toBe('10.0.0.7');
    expect(c.pod).toMatchObject({ name: 'demo-2', hugepagesDirs: ['/dev/hugepages-2Mi'] });
    expect(c.sources).toMatchObject({ replicaId: 'env', heartbeatPeriodMicros: 'flag', scoreMax: 'env',
      failureThreshold: 'file', bootstrap: 'flag' });
  });

  test('the verbs device settings come from cluster.json "rdma"', () => {
    const c = load({ doc: clusterJson({ fabric: 'verbs', rdma: { device: 'mlx5_0', port: 2, linkLayer: 'Ethernet',
      gidIndex: 3 } }) });
    expect(c.fabric).toBe('verbs');
    expect(c.rdma).toEqual({ device: 'mlx5_0', netdev: undefined, port: 2, linkLayer: 'Ethernet', gidIndex: 3 });
    expect(load({ argv: [...base, '--replica-id=0', '--rdma-gid-index=auto', '--fabric=auto'] }).rdma.gidIndex)
      .toBe('auto');
  });

  // Every bad input the issue names: replica id, members, fabric (device/port/GID index, auto, soft), log size,
  // heartbeat settings, RESP port, bootstrap-or-rejoin; plus the files themselves.
  test.each<[string, Inputs, RegExp]>([
    ['replica id missing', { argv: base }, /^--replica-id \(MU_REPLICA_ID\): is required$/],
    ['replica id not a number', { argv: [...base, '--replica-id', 'one'] },
      /^--replica-id: must be an integer from 0 to 8, got "one"$/],
    ['replica id negative', { argv: [...base, '--replica-id=-1'] }, /^--replica-id: must be an integer from 0 to 8/],
    ['replica id from the environment', { argv: base, env: { MU_REPLICA_ID: '1.5' } },
      /^MU_REPLICA_ID: must be an integer from 0 to 8, got "1.5"$/],
    ['replica id not a member', { argv: [...base, '--replica-id=5'] },
      /^--replica-id: 5 is not a member id; \/etc\/mu\/config\/cluster.json lists 0, 1, 2$/],
    ['config missing', { argv: ['--replica-id=0', '--fabric-key-file=/etc/mu/secret/fabric-key'] },
      /^--config \(MU_CONFIG\): is required$/],
    ['config file absent', { argv: ['--replica-id=0', '--config=/nope.json', '--fabric-key-file=/k'] },
      /^--config: cannot read \/nope.json: ENOENT/],
    ['config not JSON', { rawFile: '{ "version": 1,' }, /^--config: \/etc\/mu\/config\/cluster.json is not valid JSON/],
    ['config of another version', { doc: clusterJson({ version: 2 }) }, /^cluster.json version: must be 1/],
    ['no members', { doc: clusterJson({ members: [] }) }, /^cluster.json members: must list at least one member/],
    ['members not a list', { doc: clusterJson({ members: 'demo-0' }) }, /^cluster.json members: must be a list/],
    ['member ids with a gap', { doc: withMember(2, { id: 3 }) },
      /^cluster.json members: ids must be 0..2, each once; got 0, 1, 3/],
    ['member without a host', { doc: withMember(0, { host: '' }) },
      /^cluster.json members\[0\].host: must be a host name or an IPv4 address/],
    ['RESP port out of range', { doc: withMember(1, { respPort: 70000 }) },
      /^cluster.json members\[1\].respPort: must be an integer from 1 to 65535/],
    ['RESP port not a number', { doc: withMember(1, { respPort: 'redis' }) },
      /^cluster.json members\[1\].respPort: must be an integer from 1 to 65535/],
    ['RESP port equal to the agent port', { doc: withMember(1, { respPort: 8790 }) },
      /^cluster.json members\[1\].agentPort: port 8790 is also members\[1\].respPort on host/],
    ['RESP port on the bootstrap port', { doc: withMember(1, { respPort: 8792 }) },
      /members\[1\].bootstrapPort: port 8792 is also members\[1\].respPort/],
    ['two members on one host and port', {
      doc: clusterJson({ members: [0, 1].map((id) => ({ id, host: '127.0.0.1', respPort: 7000, agentPort: 7001 + id * 10,
        fabricPort: 7002 + id * 10 })) }) }, /^cluster.json members\[1\].respPort: port 7000 is also members\[0\].respPort on host 127.0.0.1$/],
    ['HTTP port flag clashing with RESP', { argv: [...base, '--replica-id=1', '--http-port=6379'] },
      /^--http-port: port 6379 is also members\[1\].respPort/],
    ['fabric unknown', { argv: [...base, '--replica-id=0', '--fabric=rdma'] },
      /^--fabric: must be one of soft, verbs, auto, got "rdma"$/],
    ['fabric unknown in cluster.json', { doc: clusterJson({ fabric: 'infiniband' }) },
      /^cluster.json fabric: must be one of soft, verbs, auto, got "infiniband"$/],
    ['RDMA port out of range', { argv: [...base, '--replica-id=0', '--rdma-port=0'] },
      /^--rdma-port: must be an integer from 1 to 255, got "0"$/],
    ['GID index neither auto nor a number', { argv: [...base, '--replica-id=0', '--rdma-gid-index=best'] },
      /^--rdma-gid-index: must be "auto" or an integer from 0 to 255, got "best"$/],
    ['GID index out of range in cluster.json', { doc: clusterJson({ rdma: { port: 1, linkLayer: 'auto', gidIndex: 300 } }) },
      /^cluster.json rdma.gidIndex: must be "auto" or an integer from 0 to 255, got 300$/],
    ['link layer unknown', { env: { MU_RDMA_LINK_LAYER: 'ethernet' } },
      /^MU_RDMA_LINK_LAYER: must be one of auto, InfiniBand, Ethernet, got "ethernet"$/],
    ['empty device name', { argv: [...base, '--replica-id=0', '--rdma-device='] }, /^--rdma-device: must be a device name/],
    ['log size too small', { doc: withEngine({ logSizeBytes: 4096 }) },
      /^cluster.json engine.logSizeBytes: must be an integer from 1048576 to 17179869184, got 4096$/],
    ['log size not a multiple of 4096', { argv: [...base, '--replica-id=0', '--log-size-bytes=2000000'] },
      /^--log-size-bytes: must be a multiple of 4096, got 2000000$/],
    ['heartbeat period zero', { doc: withEngine({ heartbeatPeriodMicros: 0 }) },
      /^cluster.json engine.heartbeatPeriodMicros: must be an integer from 1 to 1000000, got 0$/],
    ['heartbeat period not a number', { env: { MU_HEARTBEAT_PERIOD_MICROS: 'fast' } },
      /^MU_HEARTBEAT_PERIOD_MICROS: must be an integer from 1 to 1000000, got "fast"$/],
    ['failure threshold not below recovery', { doc: withEngine({ failureThreshold: 6 }) },
      /^cluster.json engine.failureThreshold: must be below recoveryThreshold \(6\), got 6$/],
    ['recovery threshold above the score ceiling', { argv: [...base, '--replica-id=0', '--recovery-threshold=20'] },
      /^--recovery-threshold: must be at most scoreMax \(15\), got 20$/],
    ['permission switch mechanism unknown', { doc: withEngine({ permissionSwitchMechanism: 'fast' }) },
      /^cluster.json engine.permissionSwitchMechanism: must be one of accessFlags, qpCycle, mrReregister/],
    ['bootstrap neither true nor false', { argv: base, env: { MU_REPLICA_ID: '0', MU_BOOTSTRAP: 'maybe' } },
      /^MU_BOOTSTRAP: must be true or false, got "maybe"$/],
    ['bootstrap given a bad value', { argv: [...base, '--replica-id=0', '--bootstrap=sometimes'] },
      /^--bootstrap: must be true or false, got "sometimes"$/],
    ['fabric key missing', { argv: ['--replica-id=0', '--config=/etc/mu/config/cluster.json', '--fabric-key-file=/nokey'] },
      /^--fabric-key-file: cannot read \/nokey: ENOENT/],
    ['fabric key empty', { files: { '/etc/mu/secret/fabric-key': '' } }, /^--fabric-key-file: \/etc\/mu\/secret\/fabric-key is empty$/],
    ['fabric key not given', { argv: ['--replica-id=0', '--config=/etc/mu/config/cluster.json'] },
      /^--fabric-key-file \(MU_FABRIC_KEY_FILE\): is required$/],
    ['pod IP not IPv4', { argv: base, env: { MU_REPLICA_ID: '0', MU_POD_IP: 'fe80::1' } },
      /^MU_POD_IP: must be an IPv4 address, got "fe80::1"$/],
    ['unknown flag', { argv: [...base, '--replicaid=0'] }, /^--replicaid: unknown setting \(did you mean --replica-id\?\)/],
    ['flag without its value', { argv: [...base, '--replica-id'] }, /^--replica-id: needs a value \(N\)$/],
    ['flag given twice', { argv: [...base, '--replica-id=0', '--replica-id=1'] }, /^--replica-id: given more than once$/],
    ['a stray argument', { argv: [...base, 'extra'] }, /^extra: unexpected argument/],
    ['log level unknown', { argv: [...base, '--replica-id=0', '--log-level=loud'] },
      /^--log-level: must be one of trace, debug, info, warn, error, got "loud"$/],
  ])('%s', (_name, inputs, expected) => {
    expect(problem(inputs)).toMatch(expected);
  });

  test('--help lists every setting with its flag, and its environment variable where it has one', async () => {
    let out = '';
    const status = await runAgentMain(['--help'], { io: { out: (t) => { out += t; }, err: () => {} } });
    expect(status).toBe(EXIT_OK);
    for (const s of SETTINGS) {
      expect(out).toContain(`--${s.flag}`);
      if (s.env) expect(out).toContain(s.env);
      if (s.file) expect(out).toContain(s.file);
    }
  });

  test('a bad setting exits with status 2 and one line naming it', async () => {
    let err = '';
    const status = await runAgentMain(['--replica-id', 'x'], { io: { out: () => {}, err: (t) => { err += t; } } });
    expect(status).toBe(EXIT_BAD_SETTING);
    expect(err).toBe('mu agent: bad setting --replica-id: must be an integer from 0 to 8, got "x"\n');
  });
});
