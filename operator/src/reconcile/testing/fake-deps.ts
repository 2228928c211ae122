// A ReconcileContext for step tests: a KubeClient that records every call and answers from a script, fixed agent
// probes, recorded events. Test-only.
import type { V1Node } from '@kubernetes/client-node';
import type { SwitchoverAnswer } from '../../agents/status-client.js';
import type { MuCluster } from '../../api/types.js';
import { DEFAULT_BUILDER_OPTIONS } from '../../builders/options.js';
import type { RecordedEvent } from '../../kube/event-recorder.js';
import type { KubeClient, RequestOptions } from '../../kube/rest.js';
import type { AgentProbe } from '../../status/agent-status.js';
import type { OwnedObjects, ReconcileContext } from '../context.js';

export interface Call {
  method: string;
  path: string;
  body?: unknown;
  query?: RequestOptions['query'];
  contentType?: string;
}

export function recordingClient(answer: (call: Call) => unknown = (c) => c.body ?? {}): KubeClient & { calls: Call[] } {
  const calls: Call[] = [];
  const request = async <T>(method: string, path: string, options: RequestOptions = {}): Promise<T> => {
    const call: Call = { method, path, ...options };
    calls.push(call);
    return answer(call) as T;
  };
  return {
    calls,
    server: 'https://fake',
    request,
    get: (path) => request('GET', path),
    async find<T>(path: string) {
      try {
        return await request<T>('GET', path);
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) return undefined;
        throw e;
      }
    },
    list: (path, query) => request('GET', path, { query: query ?? {} }),
    create: (path, body, query) => request('POST', path, { body, query: query ?? {} }),
    replace: (path, body) => request('PUT', path, { body }),
    patch: (path, type, body, query) => request('PATCH', path, { body, contentType: type, query: query ?? {} }),
    delete: async (path, query, body) => {
      await request('DELETE', path, { query: query ?? {}, ...(body !== undefined ? { body } : {}) });
    },
  };
}

export function fakeContext(
  cluster: MuCluster,
  owned: Partial<OwnedObjects> = {},
  probes: Map<string, AgentProbe> = new Map(),
  options: {
    membershipChanges?: boolean;
    nodes?: V1Node[];
    answer?: (call: Call) => unknown;
    switchover?: SwitchoverAnswer;
  } = {},
): ReconcileContext & { client: ReturnType<typeof recordingClient>; events: RecordedEvent[] } {
  const client = recordingClient(options.answer);
  const events: RecordedEvent[] = [];
  const ctx = {
    client,
    events,
    deps: {
      client,
      agents: {
        probe: async () => ({ ok: false, at: new Date(0), error: 'not polled in this test' }) as AgentProbe,
        requestSwitchover: async () => options.switchover ?? { ok: false, statusCode: 404, error: 'not found' },
      },
      events: { record: async (_t: unknown, e: RecordedEvent) => void events.push(e) },
      settings: {
        builder: DEFAULT_BUILDER_OPTIONS,
        membershipChanges: options.membershipChanges ?? false,
        pollIntervalMs: 2000,
        fieldManager: 'mu-operator',
      },
      nodes: () => options.nodes ?? [],
      now: () => new Date('2025-03-01T12:00:00Z'),
      log: { info: () => {}, warn: () => {} },
    },
    cluster,
    effective: cluster,
    owned: { pods: [], services: [], configMaps: [], secrets: [], podDisruptionBudgets: [], ...owned },
    probes,
    problems: [],
    paused: false,
    statusPatch: {},
    event: async (e: RecordedEvent) => void events.push(e),
  };
  return ctx as ReconcileContext & { client: ReturnType<typeof recordingClient>; events: RecordedEvent[] };
}
