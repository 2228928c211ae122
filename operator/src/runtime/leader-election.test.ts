import type { V1Lease } from '@kubernetes/client-node';
import { KubeApiError } from '../kube/rest.js';
import { recordingClient, type Call } from '../reconcile/testing/fake-deps.js';
import { LeaderElector } from './leader-election.js';

/** An API server holding one Lease, with resourceVersion checks on replace. */
function leaseServer() {
  let lease: V1Lease | undefined;
  let rv = 0;
  const answer = (call: Call): unknown => {
    if (call.method === 'GET') {
      if (!lease) throw new KubeApiError('GET', call.path, 404, 'NotFound', 'not found');
      return structuredClone(lease);
    }
    if (call.method === 'POST') {
      if (lease) throw new KubeApiError('POST', call.path, 409, 'AlreadyExists', 'exists');
      lease = { ...(call.body as V1Lease), metadata: { ...(call.body as V1Lease).metadata, resourceVersion: String(++rv) } };
      return lease;
    }
    if (call.method === 'PUT') {
      const body = call.body as V1Lease;
      if (body.metadata?.resourceVersion !== lease?.metadata?.resourceVersion) {
        throw new KubeApiError('PUT', call.path, 409, 'Conflict', 'the object has been modified');
      }
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return lease;
    }
    throw new Error(`unexpected ${call.method}`);
  };
  return { client: recordingClient(answer), holder: () => lease?.spec?.holderIdentity };
}

function elector(
  server: ReturnType<typeof leaseServer>,
  identity: string,
  clock: { t: number },
  log: string[],
  sleep: () => Promise<void>,
) {
  return new LeaderElector({
    sleep,
    client: server.client,
    namespace: 'ops',
    name: 'mu-operator',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    now: () => clock.t,
    wallClock: () => new Date(1_700_000_000_000 + clock.t),
    onStartedLeading: () => log.push(`${identity} leads`),
    onStoppedLeading: () => log.push(`${identity} stopped`),
  });
}

/** Runs one campaign iteration of each elector by giving them a sleep that hands control back to the test. */
function stepper() {
  const waiting: Array<() => void> = [];
  return {
    sleep: () => new Promise<void>((resolve) => waiting.push(resolve)),
    async tick() {
      for (const w of waiting.splice(0)) w();
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

describe('LeaderElector', () => {
  it('one of two candidates leads; the other takes over only after the lease expires on its own clock', async () => {
    const server = leaseServer();
    const clock = { t: 0 };
    const log: string[] = [];
    const s = stepper();
    const a = elector(server, 'a', clock, log, s.sleep);
    const b = elector(server, 'b', clock, log, s.sleep);
    const runs = [a.run(), b.run()];
    await s.tick();
    expect(log).toEqual(['a leads']);
    expect(server.holder()).toBe('a');

    // a shuts down cleanly: it releases the lease, and b takes it on its next try without waiting 15 s.
    await a.stop();
    await s.tick(); // a exits its loop and releases the lease
    expect(log).toEqual(['a leads', 'a stopped']);
    clock.t += 2000;
    await s.tick();
    expect(server.holder()).toBe('b');
    expect(log).toEqual(['a leads', 'a stopped', 'b leads']);
    await b.stop();
    await s.tick();
    await Promise.all(runs);
  });

  it('does not take a lease whose holder keeps renewing, and takes it 15 s after renewals stop', async () => {
    const server = leaseServer();
    const clock = { t: 0 };
    const log: string[] = [];
    const s = stepper();
    let aHung = false;
    const a = elector(server, 'a', clock, log, () => (aHung ? new Promise<void>(() => {}) : s.sleep()));
    const b = elector(server, 'b', clock, log, s.sleep);
    const runA = a.run();
    await s.tick();
    const runB = b.run();
    for (let i = 0; i < 10; i++) {
      clock.t += 2000;
      await s.tick();
    }
    expect(server.holder()).toBe('a');
    // a hangs: it neither renews nor releases. b must wait a full lease duration after the last renewal it saw.
    aHung = true;
    clock.t += 2000;
    await s.tick(); // a's last renewal
    const lastRenewal = clock.t;
    let takenAt: number | undefined;
    for (let i = 0; i < 20 && takenAt === undefined; i++) {
      clock.t += 1000;
      await s.tick();
      if (server.holder() === 'b') takenAt = clock.t;
    }
    expect(takenAt).toBeDefined();
    expect(takenAt! - lastRenewal).toBeGreaterThanOrEqual(15_000);
    expect(takenAt! - lastRenewal).toBeLessThanOrEqual(17_000);
    expect(log).toContain('b leads');
    await b.stop();
    await s.tick();
    await runB;
    void runA;
  });
});
