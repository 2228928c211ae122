// Server-side apply of an object the operator owns, skipped when the live object already holds every field we set
// (so a steady cluster costs no writes). Force: the operator is the only rightful manager of these fields.
import type { KubernetesObject } from '@kubernetes/client-node';
import { objectPath, type ResourceType } from '../kube/paths.js';
import type { KubeClient } from '../kube/rest.js';

/** Every field of desired is present in actual with an equal value (arrays compared element by element). */
export function containsDesired(desired: unknown, actual: unknown): boolean {
  if (desired === null || typeof desired !== 'object') {
    // The API server writes small integers back as numbers and quantities as strings; compare as written.
    return desired === actual || (actual !== undefined && String(desired) === String(actual) && typeof actual !== 'object');
  }
  if (Array.isArray(desired)) {
    return (
      Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => containsDesired(d, actual[i]))
    );
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  const a = actual as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(([k, v]) => v === undefined || containsDesired(v, a[k]));
}

/** Returns true when it wrote. */
export async function applyOwned<T extends KubernetesObject>(
  client: KubeClient,
  resource: ResourceType,
  desired: T,
  live: T | undefined,
  fieldManager: string,
): Promise<boolean> {
  if (live && containsDesired(withoutStatus(desired), live)) return false;
  const { name, namespace } = desired.metadata!;
  await client.patch(objectPath(resource, namespace, name!), 'apply', desired, { fieldManager, force: true });
  return true;
}

function withoutStatus<T extends KubernetesObject>(o: T): T {
  const { status: _status, ...rest } = o as T & { status?: unknown };
  return rest as T;
}
