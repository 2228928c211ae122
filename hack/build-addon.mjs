#!/usr/bin/env node
// Builds the Node-API addon native/build-addon/Release/mu_engine.node with cmake-js from the same
// CMake project as the C++ tests (native/CMakeLists.txt, cmake-js mode). Runs on `npm ci` / `npm
// install` (package.json "install"), and from hack/test.sh and hack/demo.sh. Incremental: a second
// run with nothing changed takes a second.
//
// Node-API mode (native/package.json has binary.napi_versions): the headers come from the
// node-api-headers package, so nothing is downloaded.
//
// Environment: MU_SKIP_ADDON_BUILD=1 skips the build (TypeScript-only work); MU_BUILD_JOBS sets the
// parallelism (default 2: the machines this runs on have 2 cores).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const nativeDir = join(root, 'native');
const outDir = join(nativeDir, 'build-addon');
const addonPath = join(outDir, 'Release', 'mu_engine.node');
const say = (line) => console.log(`[build-addon] ${line}`);

if (process.env.MU_SKIP_ADDON_BUILD === '1') {
  say('MU_SKIP_ADDON_BUILD=1: not building the native addon');
  process.exit(0);
}

// --- prerequisites: say exactly what to install ----------------------------------------------
function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
function headerExists(relPath) {
  const dirs = ['/usr/include', '/usr/local/include', '/usr/include/x86_64-linux-gnu',
    '/usr/include/aarch64-linux-gnu'];
  return dirs.some((d) => existsSync(join(d, relPath)));
}
const missing = [];
if (!onPath('cmake')) missing.push({ what: 'cmake', apt: 'cmake' });
if (!onPath('g++') && !onPath('c++')) missing.push({ what: 'a C++20 compiler (g++)', apt: 'build-essential' });
if (!onPath('make') && !onPath('ninja')) missing.push({ what: 'make or ninja', apt: 'ninja-build' });
if (!headerExists('openssl/crypto.h')) missing.push({ what: 'OpenSSL headers', apt: 'libssl-dev' });
if (missing.length > 0) {
  console.error('[build-addon] cannot build the native addon; missing:');
  for (const m of missing) console.error(`[build-addon]   - ${m.what} (Debian package ${m.apt})`);
  const apt = [...new Set(missing.map((m) => m.apt))].join(' ');
  console.error(`[build-addon] install them with:  apt-get install -y ${apt}`);
  console.error('[build-addon] or install everything the build and tests need:  bash hack/install-deps.sh');
  console.error('[build-addon] (to install the npm package without the addon: MU_SKIP_ADDON_BUILD=1 npm ci)');
  process.exit(1);
}

// --- build ----------------------------------------------------------------------------------
const jobs = Number.parseInt(process.env.MU_BUILD_JOBS ?? '2', 10);
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error(`[build-addon] MU_BUILD_JOBS must be a positive integer, got '${process.env.MU_BUILD_JOBS}'`);
  process.exit(1);
}
const require = createRequire(import.meta.url);
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.error('[build-addon] cmake-js is not installed: run `npm ci` first');
  process.exit(1);
}

const started = Date.now();
say(`building ${relative(root, addonPath)} with cmake-js (${jobs} jobs)`);
const build = spawnSync(process.execPath,
  [cmakeJs, 'build', '--directory', nativeDir, '--out', outDir, '--config', 'Release',
    '--parallel', String(jobs), '--log-level', 'warn'],
  { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error(`[build-addon] FAILED: cmake-js exited with ${build.status ?? build.signal}; ` +
    `the compiler output above names the problem (build dir: ${relative(root, outDir)})`);
  process.exit(1);
}
if (!existsSync(addonPath)) {
  console.error(`[build-addon] FAILED: the build succeeded but ${relative(root, addonPath)} is missing`);
  process.exit(1);
}
const sizeKiB = Math.round(statSync(addonPath).size / 1024);
say(`ok: ${relative(root, addonPath)} (${sizeKiB} KiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
