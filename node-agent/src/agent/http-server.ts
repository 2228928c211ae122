// The agent's HTTP endpoints (node:http): /healthz, /readyz, /metrics, /status. The paths are the operator's contract
// (operator/src/builders/agent-contract.ts). The handlers only read snapshots: nothing here waits on the engine.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  AGENT_HEALTH_PATH, AGENT_READY_PATH, AGENT_STATUS_PATH, AGENT_SWITCHOVER_PATH,
} from '../../../operator/src/builders/agent-contract.js';

export const AGENT_METRICS_PATH = '/metrics';

/** What the server asks of the agent; each call returns at once. */
export interface AgentEndpoints {
  /** Process alive and, once started, the engine thread running. */
  health(): { ok: boolean; detail: string };
  readiness(): { ready: boolean; reasons: string[] };
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** undefined while the engine is not started yet. */
  status(): Record<string, unknown> | undefined;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  /** When set, /status requires "Authorization: Bearer <token>". */
  statusToken?: string;
  onError?: (error: Error) => void;
}

function send(res: http.ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8',
  headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function sendJson(res: http.ServerResponse, code: number, doc: unknown): void {
  send(res, code, `${JSON.stringify(doc, null, 2)}\n`, 'application/json');
}

function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length).trim());
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export class AgentHttpServer {
  private readonly server: http.Server;

  constructor(private readonly endpoints: AgentEndpoints, private readonly options: HttpServerOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => {
        options.onError?.(e);
        if (!res.headersSent) send(res, 500, `internal error: ${e.message}\n`);
        else res.destroy();
      });
    });
    // Probes and scrapes are short; do not keep idle sockets for long.
    this.server.keepAliveTimeout = 5000;
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        this.server.on('error', (e) => this.options.onError?.(e));
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === AGENT_SWITCHOVER_PATH) {
      // Not offered (the operator reports SwitchoverNotSupported on 404): the engine's leader is always the
      // lowest-id live voter (Mu §4.3), so leadership cannot be moved to a chosen replica — a leader that left would
      // take it back once restarted and caught up. A leader hands over only when it stops (SIGTERM).
      req.resume();
      send(res, 404, 'switchover is not offered: the engine elects the lowest-id live replica; stop the leader ' +
        '(SIGTERM) to hand over to the next one\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'only GET and HEAD\n', 'text/plain; charset=utf-8', { Allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case AGENT_HEALTH_PATH: {
        const h = this.endpoints.health();
        send(res, h.ok ? 200 : 503, `${h.ok ? 'ok' : 'unhealthy'}: ${h.detail}\n`);
        return;
      }
      case AGENT_READY_PATH: {
        const r = this.endpoints.readiness();
        sendJson(res, r.ready ? 200 : 503, r);
        return;
      }
      case AGENT_METRICS_PATH: {
        const m = await this.endpoints.metrics();
        send(res, 200, m.body, m.contentType);
        return;
      }
      case AGENT_STATUS_PATH: {
        if (this.options.statusToken && !bearerMatches(req.headers.authorization, this.options.statusToken)) {
          send(res, 401, 'a bearer token is required for /status\n', 'text/plain; charset=utf-8',
            { 'WWW-Authenticate': 'Bearer realm="mu-agent"' });
          return;
        }
        const doc = this.endpoints.status();
        if (!doc) sendJson(res, 503, { error: 'the engine is starting' });
        else sendJson(res, 200, doc);
        return;
      }
      case '/':
        send(res, 200, `mu agent: ${AGENT_HEALTH_PATH} ${AGENT_READY_PATH} ${AGENT_METRICS_PATH} ${AGENT_STATUS_PATH}\n`);
        return;
      default:
        send(res, 404, `no such endpoint ${path}\n`);
    }
  }
}
