// Pod volumes as plain directories under the pod's state directory, and the rewriting that lets a process find them.
//
// A real kubelet mounts each volume at its mountPath inside the container's mount namespace. The stand-in runs the
// container's command as an ordinary process, so it materializes each volume in a directory and rewrites the
// mountPath prefix in the command, arguments and environment values to that directory
// (e.g. --config=/etc/mu/config/cluster.json → --config=<state>/pods/<uid>/volumes/config/cluster.json).
// ConfigMap and Secret volumes are refreshed while the pod runs, atomically (write + rename), as kubelet does.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { V1ConfigMap, V1Container, V1Pod, V1Secret, V1Volume } from '@kubernetes/client-node';
import { objectPath, RESOURCES } from '../../operator/src/kube/paths.js';
import type { KubeClient } from '../../operator/src/kube/rest.js';

export interface VolumeDirs {
  /** Volume name → host directory (or host path). */
  dirs: Map<string, string>;
}

/** Why a volume is not ready yet (e.g. its ConfigMap does not exist), or undefined when all are in place. */
export async function syncVolumes(
  client: KubeClient,
  pod: V1Pod,
  podDir: string,
): Promise<{ dirs: Map<string, string>; waiting?: string }> {
  const dirs = new Map<string, string>();
  const namespace = pod.metadata!.namespace!;
  for (const volume of pod.spec?.volumes ?? []) {
    const dir = path.join(podDir, 'volumes', volume.name);
    const problem = await syncVolume(client, namespace, volume, dir);
    if (problem) return { dirs, waiting: problem };
    dirs.set(volume.name, volume.hostPath ? volume.hostPath.path : dir);
  }
  return { dirs };
}

async function syncVolume(
  client: KubeClient,
  namespace: string,
  volume: V1Volume,
  dir: string,
): Promise<string | undefined> {
  if (volume.configMap) {
    const name = volume.configMap.name!;
    const cm = await client.find<V1ConfigMap>(objectPath(RESOURCES.configMaps, namespace, name));
    if (!cm) return volume.configMap.optional ? (mkdirSync(dir, { recursive: true }), undefined) : `configmap "${name}" not found`;
    const files: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(cm.data ?? {})) files[k] = Buffer.from(v, 'utf8');
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) files[k] = Buffer.from(v, 'base64');
    writeFiles(dir, select(files, volume.configMap.items), volume.configMap.defaultMode ?? 0o644);
    return undefined;
  }
  if (volume.secret) {
    const name = volume.secret.secretName!;
    const secret = await client.find<V1Secret>(objectPath(RESOURCES.secrets, namespace, name));
    if (!secret) return volume.secret.optional ? (mkdirSync(dir, { recursive: true }), undefined) : `secret "${name}" not found`;
    const files: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) files[k] = Buffer.from(v, 'base64');
    writeFiles(dir, select(files, volume.secret.items), volume.secret.defaultMode ?? 0o644);
    return undefined;
  }
  // emptyDir (huge pages media included: here a plain directory), and anything else the stand-in does not model.
  mkdirSync(dir, { recursive: true });
  return undefined;
}

function select(
  files: Record<string, Buffer>,
  items: Array<{ key: string; path: string }> | undefined,
): Record<string, Buffer> {
  if (!items) return files;
  const out: Record<string, Buffer> = {};
  for (const item of items) if (files[item.key]) out[item.path] = files[item.key]!;
  return out;
}

function writeFiles(dir: string, files: Record<string, Buffer>, mode: number): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const target = path.join(dir, name);
    if (!target.startsWith(dir + path.sep)) continue; // a key like ../x must not escape the volume
    if (existsSync(target) && readFileSync(target).equals(content)) continue;
    mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, content);
    chmodSync(tmp, mode);
    renameSync(tmp, target);
  }
}

/** mountPath → host directory for one container, longest mountPath first. */
export function mountMap(container: V1Container, dirs: ReadonlyMap<string, string>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const m of container.volumeMounts ?? []) {
    const dir = dirs.get(m.name);
    if (dir === undefined) continue;
    out.push([m.mountPath.replace(/\/+$/, ''), m.subPath ? path.join(dir, m.subPath) : dir]);
  }
  return out.sort((a, b) => b[0].length - a[0].length);
}

/** Replaces a mount path at the start of value or after '=' (flags), only at a path boundary. */
export function rewritePaths(value: string, mounts: ReadonlyArray<[string, string]>): string {
  let out = value;
  for (const [mountPath, dir] of mounts) {
    const escaped = mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(^|=|,)${escaped}(?=/|$|,)`, 'g'), (_m, lead: string) => `${lead}${dir}`);
  }
  return out;
}
