// An informer for one resource type: client-node's ListWatch (list, then watch from the list's resourceVersion,
// relisting on 410 Gone) fed by our wire-JSON list, restarted with backoff after any error — ListWatch itself stops
// on an error and leaves the restart to its owner. The delay function is injected (habit 17).
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { collectionPath, type ResourceType } from './paths.js';
import type { KubeClient } from './rest.js';

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** Restart delay after the n-th consecutive error (n ≥ 1). Default: 0.5 s doubling to 30 s. */
  delayMs?: (attempt: number) => number;
  onError?: (error: unknown, retryInMs: number) => void;
}

export type InformerEvent = 'add' | 'update' | 'delete';

export interface Informer<T extends KubernetesObject> {
  /** Resolves once the first list arrived (the cache is synced). */
  start(): Promise<void>;
  stop(): Promise<void>;
  on(event: InformerEvent, cb: (obj: T) => void): void;
  list(namespace?: string): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  readonly synced: boolean;
}

export function defaultRestartDelay(attempt: number): number {
  return Math.min(500 * 2 ** Math.min(attempt - 1, 10), 30_000);
}

export function makeInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  client: KubeClient,
  resource: ResourceType,
  options: InformerOptions = {},
): Informer<T> {
  const path = collectionPath(resource, options.namespace);
  const delayMs = options.delayMs ?? defaultRestartDelay;
  let synced = false;
  let stopped = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let resolveSynced: (() => void) | undefined;
  const syncedPromise = new Promise<void>((resolve) => (resolveSynced = resolve));

  const listFn = async () => {
    const list = await client.list<T>(
      path,
      options.labelSelector !== undefined ? { labelSelector: options.labelSelector } : {},
    );
    failures = 0;
    if (!synced) {
      synced = true;
      // Resolve after ListWatch has filled its cache from this list (it does so right after we return).
      setImmediate(() => resolveSynced?.());
    }
    return { apiVersion: 'v1', kind: 'List', items: list.items, metadata: list.metadata };
  };
  const lw = new ListWatch<T>(path, new Watch(kc), listFn, false, options.labelSelector);
  lw.on('error', (error: unknown) => {
    if (stopped) return;
    failures++;
    const wait = delayMs(failures);
    options.onError?.(error, wait);
    restartTimer = setTimeout(() => {
      if (!stopped) void lw.start();
    }, wait);
    restartTimer.unref();
  });

  return {
    async start() {
      stopped = false;
      void lw.start();
      await syncedPromise;
    },
    async stop() {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      await lw.stop();
    },
    on(event, cb) {
      lw.on(event, cb);
    },
    list: (namespace) => lw.list(namespace),
    get: (name, namespace) => lw.get(name, namespace),
    get synced() {
      return synced;
    },
  };
}
