// Wires the operator together: informers feed the work queue, workers reconcile, a Lease decides which instance
// works. Informers start at once (a standby keeps warm caches and is Ready); workers start only while leading, and
// losing the Lease ends this instance's work for good (main exits; the Deployment starts a fresh one), as
// client-go's controllers do — never two writers.
import type {
  KubeConfig,
  KubernetesObject,
  V1ConfigMap,
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KIND, API_GROUP } from '../api/identity.js';
import { LABEL_CLUSTER } from '../api/labels.js';
import type { MuCluster } from '../api/types.js';
import { httpAgentStatusClient, type AgentStatusClient } from '../agents/status-client.js';
import { runWorker } from '../controller/worker.js';
import { WorkQueue } from '../controller/workqueue.js';
import { eventRecorder } from '../kube/event-recorder.js';
import { makeInformer, type Informer } from '../kube/informer.js';
import { RESOURCES, type ResourceType } from '../kube/paths.js';
import { isRetryable, KubeApiError, kubeClient, type KubeClient } from '../kube/rest.js';
import type { ReconcileDeps, ReconcilerSettings } from '../reconcile/context.js';
import { reconcileCluster, type Caches } from '../reconcile/reconciler.js';
import { startProbeServer, type ProbeServer } from './http-server.js';
import { applyCrd } from './crd-sync.js';
import { LeaderElector } from './leader-election.js';
import { operatorMetrics, type OperatorMetrics } from './metrics.js';

export interface OperatorConfig {
  kubeConfig: KubeConfig;
  /** Watch one namespace; undefined: all namespaces. */
  namespace?: string;
  lease: {
    namespace: string;
    name: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
  };
  identity: string;
  /** Where /metrics, /healthz, /readyz listen; null: not at all (tests). */
  listen: { host: string; port: number } | null;
  workers: number;
  settings: ReconcilerSettings;
  /** Watch Nodes for the placement check (needs cluster-wide read access to nodes). */
  watchNodes: boolean;
  logger: Logger;
  agents?: AgentStatusClient;
  /** Apply the built-in CRD when becoming the leader (see crd-sync.ts). */
  manageCrd?: boolean;
  /** Called when this instance lost the Lease and stopped working. */
  onLostLease?: () => void;
}

export interface RunningOperator {
  readonly identity: string;
  readonly isLeader: boolean;
  readonly port: number | undefined;
  readonly metrics: OperatorMetrics;
  readonly client: KubeClient;
  /** Stops workers, releases the Lease, stops informers and the HTTP server. */
  stop(): Promise<void>;
}

function ownerKey(obj: KubernetesObject): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find(
    (r) => r.controller && r.kind === KIND && r.apiVersion.startsWith(`${API_GROUP}/`),
  );
  return ref && obj.metadata?.namespace ? `${obj.metadata.namespace}/${ref.name}` : undefined;
}

export async function startOperator(config: OperatorConfig): Promise<RunningOperator> {
  const log = config.logger;
  const client = kubeClient(config.kubeConfig);
  const metrics = operatorMetrics(config.listen !== null);
  const informerOptions = (what: string, labelSelector?: string) => ({
    ...(config.namespace !== undefined ? { namespace: config.namespace } : {}),
    ...(labelSelector !== undefined ? { labelSelector } : {}),
    onError: (e: unknown, retryInMs: number) =>
      log.warn({ informer: what, error: (e as Error).message, retryInMs }, 'watch failed; restarting'),
  });
  const owned = <T extends KubernetesObject>(what: string, r: ResourceType) =>
    makeInformer<T>(config.kubeConfig, client, r, informerOptions(what, LABEL_CLUSTER));
  const clusters = makeInformer<MuCluster & KubernetesObject>(
    config.kubeConfig,
    client,
    RESOURCES.muClusters,
    informerOptions('muclusters'),
  );
  const pods = owned<V1Pod>('pods', RESOURCES.pods);
  const services = owned<V1Service>('services', RESOURCES.services);
  const configMaps = owned<V1ConfigMap>('configmaps', RESOURCES.configMaps);
  const secrets = owned<V1Secret>('secrets', RESOURCES.secrets);
  const pdbs = owned<V1PodDisruptionBudget>('poddisruptionbudgets', RESOURCES.podDisruptionBudgets);
  const nodes = config.watchNodes
    ? makeInformer<V1Node>(config.kubeConfig, client, RESOURCES.nodes, {
        onError: (e, retryInMs) => log.warn({ informer: 'nodes', error: (e as Error).message, retryInMs }, 'watch failed'),
      })
    : undefined;
  const ownedInformers: Array<Informer<KubernetesObject>> = [pods, services, configMaps, secrets, pdbs] as Array<
    Informer<KubernetesObject>
  >;
  const all: Array<Informer<KubernetesObject>> = [
    clusters as unknown as Informer<KubernetesObject>,
    ...ownedInformers,
    ...(nodes ? [nodes as unknown as Informer<KubernetesObject>] : []),
  ];

  let queue: WorkQueue<string> | undefined;
  const enqueue = (key: string | undefined) => {
    if (key) queue?.add(key);
  };
  const clusterKey = (c: MuCluster) => `${c.metadata.namespace}/${c.metadata.name}`;
  clusters.on('add', (c) => enqueue(clusterKey(c)));
  clusters.on('update', (c) => enqueue(clusterKey(c)));
  clusters.on('delete', (c) => metrics.forgetCluster(c.metadata.namespace, c.metadata.name));
  for (const inf of ownedInformers) for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, (o) => enqueue(ownerKey(o)));

  const caches: Caches = {
    cluster: (namespace, name) => clusters.get(name, namespace),
    owned: (namespace) => ({
      pods: [...pods.list(namespace)],
      services: [...services.list(namespace)],
      configMaps: [...configMaps.list(namespace)],
      secrets: [...secrets.list(namespace)],
      podDisruptionBudgets: [...pdbs.list(namespace)],
    }),
  };
  const events = eventRecorder(client, 'mu-operator', config.identity, (e) =>
    log.warn({ error: (e as Error).message }, 'could not record an event'),
  );
  const agents = config.agents ?? httpAgentStatusClient();
  const deps: ReconcileDeps = {
    client,
    agents: {
      async probe(pod, port) {
        const result = await agents.probe(pod, port);
        if (!result.ok) {
          const cluster = pod.metadata?.labels?.[LABEL_CLUSTER] ?? '';
          metrics.agentPollErrors.inc({ namespace: pod.metadata?.namespace ?? '', cluster });
        }
        return result;
      },
      requestSwitchover: (pod, port, toId) => agents.requestSwitchover(pod, port, toId),
    },
    events,
    settings: config.settings,
    nodes: () => nodes?.list() ?? [],
    now: () => new Date(),
    log: {
      info: (obj, msg) => log.info(obj, msg),
      warn: (obj, msg) => log.warn(obj, msg),
    },
  };

  const workers: Promise<void>[] = [];
  const startWorking = () => {
    queue = new WorkQueue<string>();
    for (const c of clusters.list()) queue.add(clusterKey(c));
    for (let i = 0; i < config.workers; i++) {
      workers.push(
        runWorker(queue, {
          reconcile: async (key) => {
            const started = performance.now();
            const result = await reconcileCluster(key, caches, deps, undefined, (t) =>
              metrics.reconcileSeconds.observe({ step: t.step }, t.ms / 1000),
            );
            metrics.reconciles.inc({ result: 'success' });
            const [ns, name] = key.split('/') as [string, string];
            const cached = clusters.get(name, ns);
            if (cached) metrics.observeCluster(cached);
            log.debug({ cluster: key, ms: Math.round(performance.now() - started) }, 'reconciled');
            metrics.queueDepth.set(queue?.length ?? 0);
            return result;
          },
          isRetryable,
          onError: (key, error, willRetry) => {
            metrics.reconciles.inc({ result: 'error' });
            const message = error instanceof Error ? error.message : String(error);
            // Conflicts are routine under optimistic concurrency (a retry with fresh caches settles them), and a
            // 404 means the cluster was deleted under us.
            const routine = error instanceof KubeApiError && (error.statusCode === 409 || error.statusCode === 404);
            (routine ? log.debug.bind(log) : log.warn.bind(log))({ cluster: key, error: message, willRetry }, 'reconcile failed');
            if (routine) return;
            const [ns, name] = key.split('/') as [string, string];
            const cluster = clusters.get(name, ns);
            if (cluster) {
              void events.record(
                {
                  apiVersion: cluster.apiVersion,
                  kind: cluster.kind,
                  name,
                  namespace: ns,
                  ...(cluster.metadata.uid ? { uid: cluster.metadata.uid } : {}),
                },
                { type: 'Warning', reason: 'ReconcileError', message },
              );
            }
          },
        }),
      );
    }
    log.info({ workers: config.workers }, 'workers started');
  };
  const stopWorking = async () => {
    queue?.shutDown();
    await Promise.all(workers.splice(0));
  };

  let stopping = false;
  const elector = new LeaderElector({
    client,
    namespace: config.lease.namespace,
    name: config.lease.name,
    identity: config.identity,
    ...(config.lease.leaseDurationMs !== undefined ? { leaseDurationMs: config.lease.leaseDurationMs } : {}),
    ...(config.lease.renewDeadlineMs !== undefined ? { renewDeadlineMs: config.lease.renewDeadlineMs } : {}),
    ...(config.lease.retryPeriodMs !== undefined ? { retryPeriodMs: config.lease.retryPeriodMs } : {}),
    onStartedLeading: () => {
      metrics.leader.set(1);
      const crd = config.manageCrd ? applyCrd(client, config.settings.fieldManager) : Promise.resolve();
      crd.then(
        () => config.manageCrd && log.info({}, 'applied the MuCluster CRD this operator was built with'),
        (e: Error) => log.warn({ error: e.message }, 'could not apply the MuCluster CRD; reconciling with the installed one'),
      ).finally(() => {
        if (elector.isLeader && !stopping) startWorking();
      });
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      void stopWorking();
      if (!stopping) {
        log.error({ lease: config.lease.name }, 'lost the leader lease: stopping work');
        config.onLostLease?.();
      }
    },
    onNewLeader: (holder) => log.info({ leader: holder, me: config.identity }, 'leader observed'),
    log: (msg, fields) => log.info(fields ?? {}, msg),
  });

  let server: ProbeServer | undefined;
  if (config.listen) {
    server = await startProbeServer(config.listen, metrics.registry, {
      healthProblems: () =>
        elector.renewAgeMs > (config.lease.leaseDurationMs ?? 15_000) ? ['leader lease not renewed'] : [],
      readinessProblems: () => all.filter((i) => !i.synced).map(() => 'informer caches not synced'),
    });
    log.info({ port: server.port }, 'serving /metrics, /healthz, /readyz');
  }

  await Promise.all(all.map((i) => i.start()));
  log.info({ namespace: config.namespace ?? '(all)' }, 'caches synced');
  const campaign = elector.run();

  return {
    identity: config.identity,
    get isLeader() {
      return elector.isLeader;
    },
    port: server?.port,
    metrics,
    client,
    async stop() {
      stopping = true;
      await elector.stop();
      await campaign;
      await stopWorking();
      await Promise.all(all.map((i) => i.stop()));
      await server?.close();
    },
  };
}
