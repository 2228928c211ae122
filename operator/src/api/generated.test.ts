// Fails when a checked-in generated file (CRD, chart CRD copy, TypeScript types) differs from what schema.ts
// generates today. Fix: `npm run gen:crd`, then commit the result.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { CHART_CRD_PATH, CRD_PATH, TYPES_PATH, generatedArtifacts } from './artifacts.js';
import { buildCrd } from './crd.js';

// jest runs from the repository root (jest.config.js).
const repoRoot = process.cwd();

describe('generated files', () => {
  const artifacts = generatedArtifacts();

  it.each(artifacts.map((a) => [a.path, a.content]))('%s is up to date (npm run gen:crd)', (path, content) => {
    expect(readFileSync(join(repoRoot, path), 'utf8')).toBe(content);
  });

  it('covers the CRD, its chart copy and the types', () => {
    expect(artifacts.map((a) => a.path).sort()).toEqual([CHART_CRD_PATH, CRD_PATH, TYPES_PATH].sort());
  });

  it('writes YAML that reads back as the CRD object, keeping defaults and CEL rules, without anchors', () => {
    const text = artifacts.find((a) => a.path === CRD_PATH)!.content;
    expect(text).not.toMatch(/[&*]ref_/);
    expect(yaml.load(text)).toEqual(JSON.parse(JSON.stringify(buildCrd())));
    expect(text).toContain('x-kubernetes-validations:');
    expect(text).toContain('default: rdma/hca_shared_devices_a');
  });
});
