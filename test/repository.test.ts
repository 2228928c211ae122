// The repository's entry points: package.json scripts point at files that exist, the shell scripts
// parse, CI runs the whole suite, and the installed-package `mu` shim works.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../node-agent/src/native/engine.js';

const root = packageRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
};

describe('package.json', () => {
  test.each(['install', 'build:addon', 'mu', 'demo', 'test', 'test:native', 'test:verbs-vm'])(
    'script %s exists and every file it names is in the repository', (name) => {
      const script = pkg.scripts[name];
      expect(script).toBeDefined();
      const files = script!.split(/\s+/).filter((w) => /^(hack|node-agent|bin)\//.test(w));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect(existsSync(join(root, file))).toBe(true);
    });

  test('bin mu points at the shim', () => {
    expect(pkg.bin.mu).toBe('bin/mu.js');
    expect(existsSync(join(root, pkg.bin.mu!))).toBe(true);
  });
});

describe('shell scripts', () => {
  const scripts = [
    ...readdirSync(join(root, 'hack')).filter((f) => f.endsWith('.sh')).map((f) => join('hack', f)),
    join('.ci', 'run'),
  ];

  test.each(scripts)('%s parses (bash -n) and stops on errors', (script) => {
    const check = spawnSync('bash', ['-n', join(root, script)], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(readFileSync(join(root, script), 'utf8')).toMatch(/^set -e/m);
  });

  test('.ci/run installs dependencies, then npm ci, then npm test', () => {
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/set -euo pipefail/);
    const order = ['hack/install-deps.sh', 'npm ci', 'npm test'].map((s) => ci.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe('bin/mu.js (the installed `mu` command)', () => {
  test('runs the TypeScript CLI', () => {
    const run = spawnSync(process.execPath, [join(root, 'bin', 'mu.js'), 'bench', 'fabric', '--help'],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: mu bench fabric/);
  });

  test('reports a usage error with exit status 2', () => {
    const run = spawnSync(process.execPath, [join(root, 'bin', 'mu.js'), 'bench', 'fabric', '--fabric', 'x'],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--fabric must be one of soft, sim/);
  });
});
