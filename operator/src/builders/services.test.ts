import { newMuCluster } from '../api/new-cluster.js';
import { buildLeaderService } from './leader-service.js';
import { buildMembersService } from './members-service.js';

describe('Services', () => {
  const cluster = newMuCluster({ name: 'demo', namespace: 'db', uid: 'u' }, { respPort: 7379 });
  const replicas = { 'mu.rdma.dev/cluster': 'demo', 'app.kubernetes.io/component': 'replica' };

  it('members: headless, publishing not-ready members, all three ports', () => {
    const svc = buildMembersService(cluster);
    expect(svc.metadata).toMatchObject({
      name: 'demo-members',
      namespace: 'db',
      ownerReferences: [expect.objectContaining({ uid: 'u' })],
    });
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: replicas });
    expect(svc.spec!.ports!.map((p) => [p.name, p.port])).toEqual([
      ['resp', 7379],
      ['agent', 8790],
      ['fabric', 8791],
    ]);
  });

  it('leader: selects the pod labelled with the leader role, on the RESP port', () => {
    const svc = buildLeaderService(cluster);
    expect(svc.metadata!.name).toBe('demo-leader');
    expect(svc.spec!.selector).toEqual({ ...replicas, 'mu.rdma.dev/role': 'leader' });
    expect(svc.spec!.ports).toEqual([{ name: 'resp', port: 7379, targetPort: 7379, protocol: 'TCP' }]);
    expect(svc.spec!.publishNotReadyAddresses).toBeUndefined();
  });
});
