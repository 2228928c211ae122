// Unit tests of the kubelet stand-in's pure parts; its behaviour against a real API server is covered by the
// operator's integration tests (test/integration/).
import type { V1Container } from '@kubernetes/client-node';
import { commandOnNode, hostsFile, planNetwork } from './network.js';
import { mountMap, rewritePaths } from './volumes.js';

describe('kubelet stand-in', () => {
  it('plans one namespace per node on the subnet, or loopback addresses without netns', () => {
    const plan = planNetwork(['mu-node-1', 'mu-node-2'], '10.250.7', true);
    expect(plan.bridge).toEqual({ name: 'mu-br-7', address: '10.250.7.1' });
    expect(plan.nodes).toEqual([
      { name: 'mu-node-1', address: '10.250.7.11', netns: 'mu-7-node-1' },
      { name: 'mu-node-2', address: '10.250.7.12', netns: 'mu-7-node-2' },
    ]);
    expect(commandOnNode(plan.nodes[0]!, ['mu', 'agent'])).toEqual(['ip', 'netns', 'exec', 'mu-7-node-1', 'mu', 'agent']);
    const shared = planNetwork(['a'], '10.250.0', false);
    expect(shared).toEqual({ mode: 'shared', nodes: [{ name: 'a', address: '127.0.1.1' }] });
    expect(commandOnNode(shared.nodes[0]!, ['x'])).toEqual(['x']);
    expect(() => planNetwork(['a'], '10.250', true)).toThrow(/three octets/);
  });

  it('rewrites mount paths in flags and values to the volume directories, at path boundaries only', () => {
    const container: V1Container = {
      name: 'agent',
      volumeMounts: [
        { name: 'config', mountPath: '/etc/mu/config' },
        { name: 'key', mountPath: '/etc/mu/secret/' },
        { name: 'hp', mountPath: '/dev/hugepages-2Mi' },
      ],
    };
    const mounts = mountMap(
      container,
      new Map([
        ['config', '/s/config'],
        ['key', '/s/key'],
        ['hp', '/s/hp'],
      ]),
    );
    expect(rewritePaths('--config=/etc/mu/config/cluster.json', mounts)).toBe('--config=/s/config/cluster.json');
    expect(rewritePaths('/etc/mu/secret/fabric-key', mounts)).toBe('/s/key/fabric-key');
    expect(rewritePaths('/etc/mu/configuration', mounts)).toBe('/etc/mu/configuration');
    expect(rewritePaths('/dev/hugepages-2Mi,/dev/hugepages-2Mi/x', mounts)).toBe('/s/hp,/s/hp/x');
    expect(rewritePaths('--replica-id=1', mounts)).toBe('--replica-id=1');
  });

  it('writes pod DNS names into the node hosts file', () => {
    const text = hostsFile({ name: 'mu-node-1', address: '10.250.0.11' }, [
      { address: '10.250.0.12', names: ['demo-1.demo-members.db.svc.cluster.local', 'demo-1.demo-members.db.svc'] },
    ]);
    expect(text).toContain('10.250.0.11 mu-node-1\n');
    expect(text).toContain('10.250.0.12 demo-1.demo-members.db.svc.cluster.local demo-1.demo-members.db.svc\n');
  });
});
