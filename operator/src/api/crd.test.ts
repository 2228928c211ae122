import { buildCrd, expandObjectDefaults, PRINTER_COLUMNS } from './crd.js';
import { API_GROUP, CRD_NAME } from './identity.js';
import type { JSONSchema, ValidationRule } from './json-schema.js';
import { DEFAULT_RDMA_RESOURCE_NAME, muClusterSchema, NFD_RDMA_CAPABLE_LABEL } from './schema.js';
import { structuralProblems } from './structural.js';

interface CrdShape {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[]; categories: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JSONSchema };
      subresources: { status: object; scale: Record<string, string> };
      additionalPrinterColumns: Array<{ name: string; jsonPath: string; priority?: number; type: string }>;
    }>;
  };
}

const crd = buildCrd() as unknown as CrdShape;
const version = crd.spec.versions[0]!;

/** Every schema node with its dotted path (spec.rdma.port, status.members[]...). */
function nodes(s: JSONSchema, path = ''): Array<[string, JSONSchema]> {
  const out: Array<[string, JSONSchema]> = [[path, s]];
  for (const [k, p] of Object.entries(s.properties ?? {})) out.push(...nodes(p, path ? `${path}.${k}` : k));
  if (s.items) out.push(...nodes(s.items, `${path}[]`));
  if (s.additionalProperties) out.push(...nodes(s.additionalProperties, `${path}{}`));
  return out;
}

function at(path: string): JSONSchema {
  const found = nodes(muClusterSchema).find(([p]) => p === path);
  if (!found) throw new Error(`no schema node at ${path}`);
  return found[1];
}

function rules(path: string): readonly ValidationRule[] {
  return at(path)['x-kubernetes-validations'] ?? [];
}

describe('MuCluster CRD', () => {
  it('is a namespaced v1alpha1 resource of our own group with short name and category', () => {
    expect(crd.metadata.name).toBe(CRD_NAME);
    expect(crd.spec.group).toBe(API_GROUP);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: 'MuCluster', plural: 'muclusters', shortNames: ['mu'] });
    expect(crd.spec.names.categories).toContain('mu');
    expect(crd.spec.names.categories).not.toContain('all');
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  it('has status and scale subresources wired to spec.replicas, status.replicas and status.selector', () => {
    expect(version.subresources.status).toEqual({});
    expect(version.subresources.scale).toEqual({
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
    expect(at('status.replicas').type).toBe('integer');
    expect(at('status.selector').type).toBe('string');
  });

  it('prints Replicas, Ready, Leader, Last-Failover, Failover-Micros, Status, Age; failover details only wide', () => {
    expect(version.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Replicas',
      'Ready',
      'Leader',
      'Last-Failover',
      'Failover-Micros',
      'Status',
      'Age',
    ]);
    const wide = PRINTER_COLUMNS.filter((c) => c.priority === 1).map((c) => c.name);
    expect(wide).toEqual(['Last-Failover', 'Failover-Micros']);
    // No "µ": kubectl upper-cases headers, and upper-case µ is Greek Μ ("FAILOVER-ΜS" would read as milliseconds).
    for (const c of version.additionalPrinterColumns) expect(c.name).toMatch(/^[A-Za-z-]+$/);
  });

  it('points every printer column at a field the schema has', () => {
    for (const c of version.additionalPrinterColumns) {
      if (c.jsonPath === '.metadata.creationTimestamp') continue;
      expect(() => at(c.jsonPath.slice(1))).not.toThrow();
    }
  });

  it('has a structurally sound schema (types, descriptions, titles, valid defaults, bounded arrays)', () => {
    expect(structuralProblems(version.schema.openAPIV3Schema)).toEqual([]);
  });

  it('gives every node a type, or int-or-string, or preserve-unknown-fields', () => {
    for (const [path, s] of nodes(muClusterSchema)) {
      const ok = s.type !== undefined || s['x-kubernetes-int-or-string'] === true;
      if (!ok) throw new Error(`${path || '<root>'} has no type`);
    }
  });

  it('keeps every default inside its enum', () => {
    const withEnum = nodes(muClusterSchema).filter(([, s]) => s.enum && s.default !== undefined);
    expect(withEnum.length).toBeGreaterThanOrEqual(5);
    for (const [, s] of withEnum) expect(s.enum).toContain(s.default);
  });

  it('defaults what the issue asks for', () => {
    expect(at('spec.replicas').default).toBe(3);
    expect(at('spec.fabric').default).toBe('verbs');
    expect(at('spec.rdma.resourceName').default).toBe(DEFAULT_RDMA_RESOURCE_NAME);
    expect(at('spec.rdma.nodeSelector').default).toEqual({ [NFD_RDMA_CAPABLE_LABEL]: 'true' });
    expect(at('spec.rdma.gidIndex').default).toBe('auto');
    expect(at('spec.scheduling.antiAffinity').default).toBe('required');
    expect(at('spec.podDisruptionBudget.enabled').default).toBe(true);
    expect(at('spec.engine.failureThreshold').default).toBe(2);
    expect(at('spec.engine.recoveryThreshold').default).toBe(6);
    expect(at('spec.engine.scoreMax').default).toBe(15);
  });

  it('keeps replicas odd and within 1..9 with a message naming spec.replicas', () => {
    expect(at('spec.replicas')).toMatchObject({ minimum: 1, maximum: 9 });
    expect(rules('spec.replicas')).toEqual([
      expect.objectContaining({ rule: 'self % 2 == 1', message: expect.stringContaining('spec.replicas must be odd') }),
    ]);
  });

  it('restricts fabric to verbs|soft and makes it immutable', () => {
    expect(at('spec.fabric').enum).toEqual(['verbs', 'soft']);
    expect(rules('spec.fabric')).toContainEqual(
      expect.objectContaining({
        rule: 'self == oldSelf',
        message: expect.stringContaining('spec.fabric is immutable'),
      }),
    );
  });

  it.each(['spec.fabric', 'spec.rdma.resourceName', 'spec.engine.logSizeBytes'])('makes %s immutable', (path) => {
    expect(rules(path)).toContainEqual(
      expect.objectContaining({ rule: 'self == oldSelf', message: expect.stringContaining(`${path} is immutable`) }),
    );
  });

  it('has a CEL rule with a message naming its field wherever a rule exists', () => {
    const all = nodes(muClusterSchema).flatMap(([path, s]) =>
      (s['x-kubernetes-validations'] ?? []).map((r) => [path, r] as const),
    );
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const [path, r] of all) {
      expect(r.rule.trim()).not.toBe('');
      const named = path === '' ? 'metadata.name' : path;
      // A rule on an object may name a child; it must at least name the object.
      expect(r.message).toContain(named);
    }
  });

  it('guards cross-field rules: engine thresholds, distinct ports, hugepages limits, device xor netdev, name length', () => {
    const texts = nodes(muClusterSchema).flatMap(([, s]) => (s['x-kubernetes-validations'] ?? []).map((r) => r.rule));
    expect(texts).toEqual(
      expect.arrayContaining([
        expect.stringContaining('self.failureThreshold < self.recoveryThreshold'),
        expect.stringContaining('self.respPort != self.agentPort'),
        expect.stringContaining("k.startsWith('hugepages-')"),
        '!(has(self.device) && has(self.netdev))',
        'self.metadata.name.size() <= 52',
      ]),
    );
  });

  it('uses fieldPath only for fields that exist under the rule', () => {
    for (const [path, s] of nodes(muClusterSchema)) {
      for (const r of s['x-kubernetes-validations'] ?? []) {
        if (r.fieldPath === undefined) continue;
        expect(s.properties?.[r.fieldPath.replace(/^\./, '')]).toBeDefined();
        expect(path).not.toBe('');
      }
    }
  });

  it('makes conditions a metav1.Condition list keyed by type', () => {
    const conditions = at('status.conditions');
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(conditions.items?.required).toEqual(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
    expect(at('status.conditions[].status').enum).toEqual(['True', 'False', 'Unknown']);
  });

  it('writes object defaults out in full, so the CEL rules hold on the default literal itself', () => {
    // kube-apiserver evaluates CEL on a default when it accepts the CRD: `{}` fails `self.respPort != ...`.
    const spec = expandObjectDefaults(muClusterSchema).properties!.spec!;
    expect(spec.default).toMatchObject({ replicas: 3, respPort: 6379, agentPort: 8790, fabricPort: 8791 });
    expect(spec.properties!.engine!.default).toMatchObject({ failureThreshold: 2, recoveryThreshold: 6, scoreMax: 15 });
    expect(muClusterSchema.properties!.spec!.default).toEqual({}); // the source stays terse
  });
});
