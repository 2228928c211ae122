// /metrics (Prometheus text), /healthz (the process and, when leading, its Lease renewals are alive) and /readyz
// (the informer caches are synced). A standby instance is ready: it serves metrics and waits for the Lease.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** Reasons the process is unhealthy (empty: healthy). */
  healthProblems(): string[];
  /** Reasons it is not ready (empty: ready). */
  readinessProblems(): string[];
}

export interface ProbeServer {
  port: number;
  close(): Promise<void>;
}

export async function startProbeServer(
  listen: { host: string; port: number },
  registry: Registry,
  health: HealthSource,
): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (problems: string[]) => {
      res.writeHead(problems.length === 0 ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(problems.length === 0 ? 'ok\n' : `${problems.join('\n')}\n`);
    };
    if (path === '/healthz' || path === '/livez') return answer(health.healthProblems());
    if (path === '/readyz') return answer(health.readinessProblems());
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        })
        .catch((e: Error) => {
          res.writeHead(500);
          res.end(e.message);
        });
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: try /metrics, /healthz, /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
