import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { agent } from '../status/testing/fixtures.js';
import { agentStatusProblem, httpAgentStatusClient } from './status-client.js';

function podAt(ip: string | undefined): V1Pod {
  return { metadata: { name: 'demo-0' }, status: ip ? { podIP: ip } : {} };
}

async function serve(handler: http.RequestListener): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('agent status client', () => {
  it('reads a well-formed /status', async () => {
    const body = JSON.stringify({ ...agent(0, 0), extraFieldTheOperatorIgnores: 1 });
    const s = await serve((req, res) => {
      expect(req.url).toBe('/status');
      res.end(body);
    });
    try {
      const probe = await httpAgentStatusClient().probe(podAt('127.0.0.1'), s.port);
      expect(probe).toMatchObject({ ok: true, status: { replicaId: 0, role: 'leader', leaderId: 0 } });
    } finally {
      await s.close();
    }
  });

  it('reports a failure as data: no IP, refused connection, HTTP error, bad JSON, wrong shape, timeout', async () => {
    const client = httpAgentStatusClient({ timeoutMs: 200 });
    expect(await client.probe(podAt(undefined), 1)).toMatchObject({ ok: false, error: 'pod has no IP yet' });

    const responses: Array<(res: http.ServerResponse) => void> = [
      (res) => ((res.statusCode = 503), res.end('starting')),
      (res) => res.end('{not json'),
      (res) => res.end(JSON.stringify({ ...agent(0, 0), role: 'boss' })),
      () => {}, // never answers
    ];
    const s = await serve((_req, res) => responses.shift()!(res));
    try {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await client.probe(podAt('127.0.0.1'), s.port));
      expect(results.map((r) => (r.ok ? 'ok' : r.error))).toEqual([
        'GET /status answered 503',
        expect.stringMatching(/^malformed \/status: /),
        expect.stringMatching(/role "boss" is not one of/),
        expect.stringMatching(/timed out after 200 ms/),
      ]);
    } finally {
      s.close().catch(() => {});
    }
    const closed = await client.probe(podAt('127.0.0.1'), s.port);
    expect(closed.ok).toBe(false);
  });

  it('agentStatusProblem names the offending field', () => {
    expect(agentStatusProblem(agent(1, 0))).toBeUndefined();
    expect(agentStatusProblem({ ...agent(1, 0), leaderId: 'x' })).toMatch(/leaderId/);
    expect(agentStatusProblem({ ...agent(1, 0), failovers: [{ id: 'x' }] })).toMatch(/failovers\[0\]\.toId/);
    expect(agentStatusProblem({ ...agent(1, 0), permissionSwitch: null })).toMatch(/permissionSwitch/);
    expect(agentStatusProblem([])).toMatch(/replicaId/);
  });
});
