// Writes the MuCluster CRD (crds/ and the chart's copy) and TypeScript types from operator/src/api/schema.ts.
// Usage: npm run gen:crd            (write)
//        npm run gen:crd -- --check (exit 1 and list the stale files instead of writing)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedArtifacts } from '../operator/src/api/artifacts.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const stale: string[] = [];

for (const { path, content } of generatedArtifacts()) {
  const file = join(repoRoot, path);
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (current === content) continue;
  stale.push(path);
  if (!check) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    console.log(`wrote ${path}`);
  }
}

if (check && stale.length > 0) {
  console.error(`stale generated files (run \`npm run gen:crd\`):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
if (stale.length === 0) console.log('generated files are up to date');
