// Reconciles one MuCluster: an ordered list of small steps (habit 14), each in its own file. Level-based and
// idempotent: every run starts from what the caches show now, so a missed event costs nothing but a delay.
// While the cluster carries the reconciliation-paused annotation, only the steps that observe run (status is still
// reported; nothing is created, changed or deleted).
import { ANNOTATION_RECONCILIATION_PAUSED } from '../api/labels.js';
import type { MuCluster } from '../api/types.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReconcileResult } from '../controller/worker.js';
import type { OwnedObjects, ReconcileContext, ReconcileDeps, Step } from './context.js';
import { agentExitsStep } from './steps/agent-exits.js';
import { configMapStep } from './steps/config-map.js';
import { disruptionBudgetStep } from './steps/disruption-budget.js';
import { fabricKeyStep } from './steps/fabric-key.js';
import { membershipStep } from './steps/membership.js';
import { observeAgentsStep } from './steps/observe-agents.js';
import { placementStep } from './steps/placement.js';
import { podsStep } from './steps/pods.js';
import { rolesStep } from './steps/roles.js';
import { rollingUpdateStep } from './steps/rolling-update.js';
import { servicesStep } from './steps/services.js';
import { statusStep } from './steps/status.js';
import { switchoverStep } from './steps/switchover.js';

export const STEPS: readonly Step[] = [
  membershipStep,
  fabricKeyStep,
  configMapStep,
  servicesStep,
  disruptionBudgetStep,
  placementStep,
  observeAgentsStep,
  agentExitsStep,
  podsStep,
  rollingUpdateStep,
  rolesStep,
  switchoverStep,
  statusStep,
];


export interface Caches {
  cluster(namespace: string, name: string): MuCluster | undefined;
  /** Objects of one kind in a namespace carrying the cluster label; filtered by owner uid here. */
  owned(namespace: string, clusterName: string): OwnedObjects;
}

function ownedBy<T extends KubernetesObject>(objects: readonly T[], uid: string | undefined): T[] {
  return objects.filter((o) => o.metadata?.ownerReferences?.some((r) => r.controller && r.uid === uid));
}

export function selectOwned(owned: OwnedObjects, cluster: MuCluster): OwnedObjects {
  const uid = cluster.metadata.uid;
  return {
    pods: ownedBy(owned.pods, uid),
    services: ownedBy(owned.services, uid),
    configMaps: ownedBy(owned.configMaps, uid),
    secrets: ownedBy(owned.secrets, uid),
    podDisruptionBudgets: ownedBy(owned.podDisruptionBudgets, uid),
  };
}

export interface StepTiming {
  step: string;
  ms: number;
}

export async function reconcileCluster(
  key: string,
  caches: Caches,
  deps: ReconcileDeps,
  steps: readonly Step[] = STEPS,
  onStep?: (t: StepTiming) => void,
): Promise<ReconcileResult> {
  const [namespace, name] = key.split('/') as [string, string];
  const cached = caches.cluster(namespace, name);
  if (!cached) return {}; // deleted: owner references let the garbage collector remove what it owned
  if (cached.metadata.deletionTimestamp) return {};
  // A private copy: steps update resourceVersion and status as they write.
  const cluster = structuredClone(cached);
  const ctx: ReconcileContext = {
    deps,
    cluster,
    effective: cluster,
    owned: selectOwned(caches.owned(namespace, name), cluster),
    probes: new Map(),
    problems: [],
    paused: cluster.metadata.annotations?.[ANNOTATION_RECONCILIATION_PAUSED] === 'true',
    statusPatch: {},
    event: (e) =>
      deps.events.record(
        {
          apiVersion: cluster.apiVersion,
          kind: cluster.kind,
          name: cluster.metadata.name,
          namespace: cluster.metadata.namespace,
          ...(cluster.metadata.uid ? { uid: cluster.metadata.uid } : {}),
        },
        e,
      ),
  };
  for (const step of steps) {
    if (ctx.paused && step.mutates) continue;
    const started = performance.now();
    const outcome = await step.run(ctx);
    onStep?.({ step: step.name, ms: performance.now() - started });
    if (outcome === 'stop') break;
  }
  // A rolling-update 'stop' skips the status write; the quick requeue writes it next round.
  return { requeueAfterMs: Math.min(ctx.requeueAfterMs ?? Infinity, deps.settings.pollIntervalMs) };
}
