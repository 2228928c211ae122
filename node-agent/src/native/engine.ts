// Loads the native Mu engine (native/src/binding → mu_engine.node, built by hack/build-addon.mjs)
// and gives its exports TypeScript types. The shapes below mirror what the C++ side produces
// (native/tools/bench_fabric.h: to_json), field for field.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ReplicaApi } from './replica.js';

export type * from './replica.js';
export { decodeResp, RespError } from './replica.js';

export type FabricName = 'sim' | 'soft';
/** 'wall-clock' on real fabrics; 'virtual' on sim (scheduler steps × step_ns, not a machine's time). */
export type TimeBase = 'wall-clock' | 'virtual';

export interface LatencyFigures {
  samples: number;
  p50_us: number;
  p99_us: number;
  mean_us: number;
  min_us: number;
  max_us: number;
}

export interface FabricWritePoint extends LatencyFigures {
  benchmark: 'fabric-write-rtt';
  fabric: FabricName;
  time_base: TimeBase;
  payload_bytes: number;
  inline: boolean;
  /** Wall-clock cost of one round trip of the measuring loop (on sim: the emulator's cost). */
  wall_ns_per_op: number;
}

export interface PermissionChangeFigures extends LatencyFigures {
  benchmark: 'fabric-permission-change';
  fabric: FabricName;
  time_base: TimeBase;
  mechanism: 'qp-access-flags' | 'qp-state-cycle' | 'region-reregistration';
  path: 'fast' | 'slow';
  /** fast path: 'revoke' | 'grant'; slow path: 'responder' | 'requester' | 'both'. */
  step: string;
}

export interface FabricBenchResults {
  schema: 'mu.bench.fabric/v1';
  fabric: FabricName;
  time_base: TimeBase;
  iterations: number;
  warmup_iterations: number;
  permission_iterations: number;
  max_inline: number;
  seed: number;
  total_wall_s: number;
  /** The headline point (64 B by default). */
  write_rtt: FabricWritePoint;
  /** The payload sweep, in the order asked for. */
  points: FabricWritePoint[];
  permission_changes: PermissionChangeFigures[];
}

export interface FabricBenchOptions {
  fabric: FabricName;
  iterations?: number;
  warmupIterations?: number;
  permissionIterations?: number;
  headlinePayloadBytes?: number;
  payloadSizes?: number[];
  seed?: number | bigint;
  busyPoll?: boolean;
  /** Called on the JS thread with one line per phase while the benchmark runs. */
  onProgress?: (line: string) => void;
}

/** The addon's exports (native/src/binding/addon.cc); startReplica and friends: replica.ts. */
export interface MuEngine extends ReplicaApi {
  version(): string;
  /** Fabric backends compiled into this build, e.g. ['sim', 'soft', 'verbs']. */
  readonly fabrics: readonly string[];
  readonly napiVersion: number;
  /** Runs on a worker thread. Bad options throw a TypeError naming the option. */
  benchFabric(options: FabricBenchOptions): Promise<FabricBenchResults>;
}

export class EngineLoadError extends Error {
  readonly code = 'MU_ENGINE_NOT_LOADED';
  readonly hint: string;
  constructor(message: string, hint: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'EngineLoadError';
    this.hint = hint;
  }
}

const PACKAGE_NAME = 'mu-on-kubernetes';

/** The checkout / installed package root: the nearest ancestor holding our package.json. */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${from}`);
  }
}

/** Where the addon is: $MU_ENGINE_ADDON, else native/build-addon/Release/mu_engine.node. */
export function addonPath(): string {
  return process.env.MU_ENGINE_ADDON ?? join(packageRoot(), 'native', 'build-addon', 'Release', 'mu_engine.node');
}

let cached: MuEngine | undefined;

export function loadEngine(): MuEngine {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new EngineLoadError(`the native engine is not built (${path} does not exist)`,
      'build it with `node hack/build-addon.mjs` (npm ci does this too)');
  }
  const require = createRequire(import.meta.url);
  let engine: MuEngine;
  try {
    engine = require(path) as MuEngine;
  } catch (cause) {
    throw new EngineLoadError(`cannot load the native engine ${path}: ${(cause as Error).message}`,
      'rebuild it with `node hack/build-addon.mjs`', cause);
  }
  if (typeof engine.benchFabric !== 'function' || typeof engine.version !== 'function' ||
    typeof engine.startReplica !== 'function') {
    throw new EngineLoadError(`${path} does not export the Mu engine API`, 'rebuild it with `node hack/build-addon.mjs`');
  }
  cached = engine;
  return engine;
}
