// REST paths of the resources the operator and its tools touch. One place, so a typo cannot hide in a call site.
import { API_GROUP, API_VERSION, PLURAL } from '../api/identity.js';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const RESOURCES = {
  pods: { group: '', version: 'v1', plural: 'pods', namespaced: true },
  services: { group: '', version: 'v1', plural: 'services', namespaced: true },
  configMaps: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  secrets: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  events: { group: '', version: 'v1', plural: 'events', namespaced: true },
  nodes: { group: '', version: 'v1', plural: 'nodes', namespaced: false },
  namespaces: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  podDisruptionBudgets: { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  muClusters: { group: API_GROUP, version: API_VERSION, plural: PLURAL, namespaced: true },
  crds: {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
} as const satisfies Record<string, ResourceType>;

function prefix(r: ResourceType): string {
  return r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
}

/** Collection path: all namespaces when namespace is undefined (or the resource is cluster-scoped). */
export function collectionPath(r: ResourceType, namespace?: string): string {
  if (r.namespaced && namespace !== undefined) return `${prefix(r)}/namespaces/${enc(namespace)}/${r.plural}`;
  return `${prefix(r)}/${r.plural}`;
}

export function objectPath(r: ResourceType, namespace: string | undefined, name: string, subresource?: string): string {
  const base = `${collectionPath(r, r.namespaced ? namespace : undefined)}/${enc(name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
