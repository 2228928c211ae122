// Keeps the MuCluster CRD in step with the operator: Helm installs charts/mu-operator/crds/ on first install only
// and never upgrades it, so the operator applies the CRD it was built with (server-side apply) each time it becomes
// the leader. Only the leader does, so during a rolling upgrade the newer operator, which leads last, wins.
// RBAC: get/patch on customresourcedefinitions restricted to this one resourceName (the chart's ClusterRole).
import { buildCrd } from '../api/crd.js';
import { CRD_NAME } from '../api/identity.js';
import { objectPath, RESOURCES } from '../kube/paths.js';
import type { KubeClient } from '../kube/rest.js';

export async function applyCrd(client: KubeClient, fieldManager: string): Promise<void> {
  // force: fields Helm or kubectl set at install time move to the operator's ownership.
  await client.patch(objectPath(RESOURCES.crds, undefined, CRD_NAME), 'apply', buildCrd(), { fieldManager, force: true });
}
