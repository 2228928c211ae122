// Records core/v1 Events about a MuCluster. A repeat of the same (object, type, reason, message) within the
// aggregation window bumps the existing Event's count and lastTimestamp instead of creating another, as kubectl
// describe expects; repeats within a minute of the last write are only counted, so a condition that persists across
// frequent reconciles does not become a stream of writes. Recording never throws: an Event is a courtesy, not part of reconciliation.
import { randomBytes } from 'node:crypto';
import { collectionPath, objectPath, RESOURCES } from './paths.js';
import { isNotFound, type KubeClient } from './rest.js';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export interface RecordedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface EventRecorder {
  record(target: EventTarget, event: RecordedEvent): Promise<void>;
}

const MAX_MESSAGE = 1024;
const AGGREGATION_WINDOW_MS = 10 * 60_000;
const QUIET_MS = 60_000;

export function eventRecorder(
  client: KubeClient,
  component: string,
  instance: string,
  onError: (e: unknown) => void = () => {},
  now: () => Date = () => new Date(),
): EventRecorder {
  const seen = new Map<string, { name: string; count: number; at: number; writtenAt: number }>();
  return {
    async record(target, event) {
      const message = event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 1)}…` : event.message;
      const key = `${target.uid ?? target.name}|${event.type}|${event.reason}|${message}`;
      const t = now();
      const stamp = t.toISOString().replace(/\.\d+Z$/, 'Z');
      try {
        const prior = seen.get(key);
        if (prior && t.getTime() - prior.at < AGGREGATION_WINDOW_MS) {
          prior.count++;
          prior.at = t.getTime();
          if (t.getTime() - prior.writtenAt < QUIET_MS) return;
          prior.writtenAt = t.getTime();
          try {
            await client.patch(objectPath(RESOURCES.events, target.namespace, prior.name), 'merge', {
              count: prior.count,
              lastTimestamp: stamp,
            });
            return;
          } catch (e) {
            if (!isNotFound(e)) throw e; // expired: create a fresh one below
          }
        }
        const name = `${target.name}.${randomBytes(8).toString('hex')}`;
        await client.create(collectionPath(RESOURCES.events, target.namespace), {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace: target.namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            name: target.name,
            namespace: target.namespace,
            ...(target.uid ? { uid: target.uid } : {}),
          },
          type: event.type,
          reason: event.reason,
          message,
          count: 1,
          firstTimestamp: stamp,
          lastTimestamp: stamp,
          source: { component },
          reportingComponent: component,
          reportingInstance: instance,
        });
        seen.set(key, { name, count: 1, at: t.getTime(), writtenAt: t.getTime() });
        if (seen.size > 5000) seen.delete(seen.keys().next().value!);
      } catch (e) {
        onError(e);
      }
    },
  };
}
