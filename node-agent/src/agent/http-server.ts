// The agent's HTTP endpoints (node:http): /healthz, /readyz, /metrics, /status, and POST /switchover. The paths are the
// operator's contract (operator/src/builders/agent-contract.ts). The GET handlers only read snapshots; a switchover is
// one round trip to the engine thread (it answers at its next iteration).
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
  /**
   * Targeted switchover to replica `to` (an integer, not yet checked against the members). 202: accepted, the
   * handover started; 400: no such member; 409: refused (this replica does not lead, or the target is not an alive
   * voter); 503: the engine is not running.
   */
  switchover(to: number): Promise<{ code: 202 | 400 | 409 | 503; doc: Record<string, unknown> }>;
}

/** Largest /switchover body read ({"to": 15} is a dozen bytes). */
const MAX_SWITCHOVER_BODY = 4096;

class BadRequest extends Error {}

/** The JSON body {"to": <replica id>}; throws BadRequest with what is wrong. */
async function readSwitchoverBody(req: http.IncomingMessage): Promise<number> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_SWITCHOVER_BODY) throw new BadRequest(`body larger than ${MAX_SWITCHOVER_BODY} bytes`);
    chunks.push(chunk);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new BadRequest(`body is not JSON: ${(e as Error).message}`);
  }
  const to = (doc as { to?: unknown } | null)?.to;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Number.isInteger(to) || (to as number) < 0) {
    throw new BadRequest('body must be a JSON object {"to": <replica id, a non-negative integer>}');
  }
  return to as number;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  /** When set, /status and /switchover require "Authorization: Bearer <token>". */
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
      await this.switchover(req, res);
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
        send(res, 200, `mu agent: ${AGENT_HEALTH_PATH} ${AGENT_READY_PATH} ${AGENT_METRICS_PATH} ${AGENT_STATUS_PATH} ` +
          `POST ${AGENT_SWITCHOVER_PATH}\n`);
        return;
      default:
        send(res, 404, `no such endpoint ${path}\n`);
    }
  }

  /**
   * POST {"to": id}: the engine makes `to` the preferred leader when this replica leads (DESIGN.md §3.5, docs/engine.md
   * "Switchover"). 202 {"ok":true,"to":id} once accepted — the handover is then under way, not finished: watch
   * /status for the new leader.
   */
  private async switchover(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      req.resume();
      send(res, 405, 'only POST, with a JSON body {"to": <replica id>}\n', 'text/plain; charset=utf-8',
        { Allow: 'POST' });
      return;
    }
    if (this.options.statusToken && !bearerMatches(req.headers.authorization, this.options.statusToken)) {
      req.resume();
      send(res, 401, 'a bearer token is required for /switchover\n', 'text/plain; charset=utf-8',
        { 'WWW-Authenticate': 'Bearer realm="mu-agent"' });
      return;
    }
    let to: number;
    try {
      to = await readSwitchoverBody(req);
    } catch (e) {
      if (!(e instanceof BadRequest)) throw e;
      req.resume();
      sendJson(res, 400, { ok: false, error: e.message });
      return;
    }
    const answer = await this.endpoints.switchover(to);
    sendJson(res, answer.code, answer.doc);
  }
}
