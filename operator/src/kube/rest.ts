// A small JSON client for the Kubernetes REST API, on the credentials of a client-node KubeConfig.
//
// Why not client-node's typed APIs: they turn lists into model objects (Date timestamps) while its Watch delivers
// wire JSON, so an informer built from both mixes two shapes of the same object. Everything here is wire JSON, the
// shape our generated types describe. Errors carry the API server's Status (code, reason, message, causes), so a
// caller can tell a conflict from a validation failure and show the server's own words (habit 18).
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** A non-2xx answer from the API server. */
export class KubeApiError extends Error {
  readonly code = 'MU_KUBE_API';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly statusCode: number,
    /** metav1.Status reason: NotFound, AlreadyExists, Conflict, Invalid, Forbidden, ... */
    readonly reason: string,
    readonly serverMessage: string,
    readonly causes: readonly StatusCause[] = [],
  ) {
    super(`${method} ${path}: ${statusCode} ${reason}: ${serverMessage}`);
    this.name = 'KubeApiError';
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeApiError && e.statusCode === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof KubeApiError && e.statusCode === 409;
}
export function isAlreadyExists(e: unknown): boolean {
  return e instanceof KubeApiError && e.statusCode === 409 && e.reason === 'AlreadyExists';
}
/** Errors that another attempt may fix: conflicts, throttling, server trouble, and the network. */
export function isRetryable(e: unknown): boolean {
  if (!(e instanceof KubeApiError)) return true;
  return e.statusCode === 409 || e.statusCode === 429 || e.statusCode >= 500;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Milliseconds; default 30 s. */
  timeoutMs?: number;
}

export interface KubeClient {
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  get<T>(path: string): Promise<T>;
  /** The object, or undefined when it does not exist. */
  find<T>(path: string): Promise<T | undefined>;
  list<T>(path: string, query?: RequestOptions['query']): Promise<{ items: T[]; metadata: { resourceVersion?: string } }>;
  create<T>(collectionPath: string, body: T, query?: RequestOptions['query']): Promise<T>;
  replace<T>(path: string, body: T): Promise<T>;
  patch<T>(path: string, type: PatchType, body: unknown, query?: RequestOptions['query']): Promise<T>;
  delete(path: string, query?: RequestOptions['query'], body?: unknown): Promise<void>;
  /** The API server URL, for messages. */
  readonly server: string;
}

export function kubeClient(kc: KubeConfig): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster (check current-context)');
  const server = cluster.server.replace(/\/+$/, '');
  let agent: Promise<{ agent: https.Agent; headers: Record<string, string> }> | undefined;
  const connection = () =>
    (agent ??= (async () => {
      const opts: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
      const tls: https.AgentOptions = { keepAlive: true };
      for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const) {
        if (opts[k] !== undefined) (tls as Record<string, unknown>)[k] = opts[k];
      }
      return { agent: new https.Agent(tls), headers };
    })());

  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { agent: httpsAgent, headers } = await connection();
    const url = new URL(server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const reqHeaders: Record<string, string> = { ...headers, Accept: 'application/json' };
    if (payload !== undefined) {
      reqHeaders['Content-Type'] = options.contentType ?? 'application/json';
      reqHeaders['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request(
        url,
        { method, agent: url.protocol === 'https:' ? httpsAgent : undefined, headers: reqHeaders },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
    if (status >= 200 && status < 300) return (text.length > 0 ? JSON.parse(text) : undefined) as T;
    let parsed: { reason?: string; message?: string; details?: { causes?: StatusCause[] } } = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 500) };
    }
    throw new KubeApiError(
      method,
      path,
      status,
      parsed.reason ?? 'Unknown',
      parsed.message ?? '',
      parsed.details?.causes ?? [],
    );
  }

  return {
    server,
    request,
    get: (path) => request('GET', path),
    async find<T>(path: string) {
      try {
        return await request<T>('GET', path);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    list: (path, query) => request('GET', path, { query: query ?? {} }),
    create: (path, body, query) => request('POST', path, { body, query: query ?? {} }),
    replace: (path, body) => request('PUT', path, { body }),
    patch: (path, type, body, query) =>
      request('PATCH', path, { body, contentType: PATCH_CONTENT_TYPES[type], query: query ?? {} }),
    async delete(path, query, body) {
      await request('DELETE', path, { query: query ?? {}, ...(body !== undefined ? { body } : {}) });
    },
  };
}
