// Reads each agent's /status (habit 15: a narrow client; a member that does not answer, or answers nonsense, is a
// failed probe in the result — data for status and events — never an exception that stops the reconcile).
import http from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import type { AgentProbe, AgentRole, AgentStatus } from '../status/agent-status.js';
import { AGENT_STATUS_PATH, AGENT_SWITCHOVER_PATH } from '../builders/agent-contract.js';

export type SwitchoverAnswer = { ok: true } | { ok: false; statusCode?: number; error: string };

export interface AgentStatusClient {
  /** Polls one replica's agent; never rejects. */
  probe(pod: V1Pod, agentPort: number): Promise<AgentProbe>;
  /** Asks the leader's agent to hand leadership to replica toId; never rejects. */
  requestSwitchover(pod: V1Pod, agentPort: number, toId: number): Promise<SwitchoverAnswer>;
}

const ROLES: ReadonlySet<string> = new Set<AgentRole>(['leader', 'follower', 'learner', 'candidate']);

/** Checks the fields the operator relies on; returns the reason the document is unusable, or undefined. */
export function agentStatusProblem(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null) return 'not a JSON object';
  const s = doc as Record<string, unknown>;
  if (!Number.isInteger(s.replicaId)) return 'replicaId is not an integer';
  if (typeof s.role !== 'string' || !ROLES.has(s.role)) return `role "${String(s.role)}" is not one of ${[...ROLES]}`;
  if (s.leaderId !== null && !Number.isInteger(s.leaderId)) return 'leaderId is neither an integer nor null';
  if (!Array.isArray(s.failovers)) return 'failovers is not an array';
  for (const [i, f] of (s.failovers as unknown[]).entries()) {
    const t = f as Record<string, unknown> | null;
    if (typeof t !== 'object' || t === null) return `failovers[${i}] is not an object`;
    if (typeof t.id !== 'string') return `failovers[${i}].id is not a string`;
    if (!Number.isInteger(t.toId)) return `failovers[${i}].toId is not an integer`;
    if (typeof t.detectedAtMicros !== 'number') return `failovers[${i}].detectedAtMicros is not a number`;
    if (!Array.isArray(t.permissionSwitches)) return `failovers[${i}].permissionSwitches is not an array`;
  }
  const ps = s.permissionSwitch as Record<string, unknown> | undefined;
  if (typeof ps !== 'object' || ps === null) return 'permissionSwitch is not an object';
  if (!Array.isArray(ps.recentMicros)) return 'permissionSwitch.recentMicros is not an array';
  return undefined;
}

export interface HttpAgentStatusClientOptions {
  timeoutMs?: number;
  now?: () => Date;
}

export function httpAgentStatusClient(options: HttpAgentStatusClientOptions = {}): AgentStatusClient {
  const timeoutMs = options.timeoutMs ?? 1000;
  const now = options.now ?? (() => new Date());
  return {
    async probe(pod, agentPort) {
      const at = now();
      const host = pod.status?.podIP;
      if (!host) return { ok: false, at, error: 'pod has no IP yet' };
      try {
        const body = await get(host, agentPort, AGENT_STATUS_PATH, timeoutMs);
        let doc: unknown;
        try {
          doc = JSON.parse(body);
        } catch (e) {
          return { ok: false, at, error: `malformed /status: ${(e as Error).message}` };
        }
        const problem = agentStatusProblem(doc);
        if (problem) return { ok: false, at, error: `malformed /status: ${problem}` };
        const status = doc as AgentStatus;
        // Optional in the contract as far as the operator is concerned; keep computation simple.
        status.permissionSwitch.mechanismCounts ??= {};
        return { ok: true, at, status };
      } catch (e) {
        return { ok: false, at, error: (e as Error).message };
      }
    },
    async requestSwitchover(pod, agentPort, toId) {
      const host = pod.status?.podIP;
      if (!host) return { ok: false, error: 'the leader pod has no IP' };
      return await new Promise<SwitchoverAnswer>((resolve) => {
        const body = JSON.stringify({ to: toId });
        const req = http.request(
          {
            host,
            port: agentPort,
            path: AGENT_SWITCHOVER_PATH,
            method: 'POST',
            timeout: timeoutMs,
            headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const code = res.statusCode ?? 0;
              if (code >= 200 && code < 300) resolve({ ok: true });
              else resolve({ ok: false, statusCode: code, error: Buffer.concat(chunks).toString('utf8').slice(0, 300) });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`POST ${AGENT_SWITCHOVER_PATH} timed out`)));
        req.on('error', (e) => resolve({ ok: false, error: e.message }));
        req.end(body);
      });
    },
  };
}

function get(host: string, port: number, path: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 4 * 1024 * 1024) req.destroy(new Error('/status larger than 4 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path} answered ${res.statusCode}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
