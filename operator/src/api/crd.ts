// The MuCluster CustomResourceDefinition, built from the schema. Pure: hack/gen-crd.ts writes it, tests compare.
import {
  API_GROUP,
  API_VERSION,
  CATEGORIES,
  CRD_NAME,
  KIND,
  LIST_KIND,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
} from './identity.js';
import { applyDefaults } from './defaults.js';
import type { JSONSchema } from './json-schema.js';
import { muClusterSchema } from './schema.js';

export interface PrinterColumn {
  name: string;
  type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority?: number;
}

// Column names avoid "µ": kubectl upper-cases headers and strings.ToUpper("µs") is "ΜS" (Greek capital mu),
// which reads as milliseconds.
export const PRINTER_COLUMNS: readonly PrinterColumn[] = [
  { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Desired replicas.' },
  { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready replicas.' },
  { name: 'Leader', type: 'string', jsonPath: '.status.leader.member', description: 'Current leader.' },
  {
    name: 'Last-Failover',
    type: 'date',
    jsonPath: '.status.lastFailover.completedAt',
    description: 'When the last failover completed.',
    priority: 1,
  },
  {
    name: 'Failover-Micros',
    type: 'integer',
    jsonPath: '.status.lastFailover.totalMicros',
    description: 'Duration of the last failover in microseconds (first missed heartbeat to first commit).',
    priority: 1,
  },
  { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'Phase of the cluster.' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
];

/** The CRD as a plain object in wire form (what `kubectl apply` takes). */
export function buildCrd(schema: JSONSchema = muClusterSchema): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'mu-operator', 'app.kubernetes.io/part-of': 'mu' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: LIST_KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        categories: [...CATEGORIES],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: expandObjectDefaults(schema) },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: PRINTER_COLUMNS,
        },
      ],
    },
  };
}

/**
 * The schema with every object default written out in full (`default: {}` → the object with its nested defaults).
 * Equivalent for admission — the API server applies nested defaults either way — but kube-apiserver evaluates the
 * CEL rules on the default literal itself when it accepts the CRD, and a rule such as
 * `self.respPort != self.agentPort` fails on `{}` ("no such key: respPort").
 */
export function expandObjectDefaults(schema: JSONSchema): JSONSchema {
  // Shared subschemas (e.g. FailoverRecord) stay shared: one copy each.
  const done = new Map<JSONSchema, JSONSchema>();
  const visit = (s: JSONSchema): JSONSchema => {
    const seen = done.get(s);
    if (seen) return seen;
    const out: JSONSchema = { ...s };
    done.set(s, out);
    if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, visit(v)]));
    if (s.items) out.items = visit(s.items);
    if (s.additionalProperties) out.additionalProperties = visit(s.additionalProperties);
    if (s.type === 'object' && s.default !== null && typeof s.default === 'object' && !Array.isArray(s.default)) {
      out.default = applyDefaults(s, s.default);
    }
    return out;
  };
  return visit(schema);
}
