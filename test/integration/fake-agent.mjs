#!/usr/bin/env node
// A FAKE node agent for the operator's integration tests — not the agent (node-agent/ is). It accepts the agent's
// command line (agent-contract.ts), reads cluster.json like the agent would, and serves /healthz, /readyz and a
// contract-shaped /status on the pod IP: the lowest replica id leads, the others follow. Enough to drive the whole
// operator path (CR → pods → stand-in → process → /status → CR status) without the engine.
// It also plays the agent's memlock check for fabric verbs against a pretend RLIMIT_MEMLOCK of 128 MiB without
// IPC_LOCK: a larger engine.logSizeBytes exits 1 with the agent's MemlockTooLow termination message.
//   fake-agent.mjs --replica-id=N --config=PATH --fabric-key-file=PATH [--bootstrap]
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split(/=(.*)/s);
    return [k, v ?? 'true'];
  }),
);
const replicaId = Number(args['replica-id']);
const config = JSON.parse(readFileSync(args.config, 'utf8'));
const me = config.members.find((m) => m.id === replicaId);
if (!me) {
  console.error(`replica ${replicaId} is not in ${args.config}`);
  process.exit(2);
}
readFileSync(args['fabric-key-file']); // must exist and be readable, as for the real agent
const FAKE_MEMLOCK_BYTES = 128 << 20;
const pinned = (config.engine?.logSizeBytes ?? 0) + (8 << 20);
if (config.fabric === 'verbs' && pinned > FAKE_MEMLOCK_BYTES) {
  const message = `MemlockTooLow: the verbs fabric pins about ${(pinned / (1 << 20)).toFixed(1)} MiB (logSizeBytes ` +
    'plus queues) but RLIMIT_MEMLOCK is 128.0 MiB (hard 128.0 MiB) and the process lacks CAP_IPC_LOCK (fake agent)';
  console.error(`mu agent: cannot start: ${message}`);
  if (process.env.MU_TERMINATION_MESSAGE_PATH) writeFileSync(process.env.MU_TERMINATION_MESSAGE_PATH, message);
  process.exit(1);
}
const host = process.env.MU_POD_IP || '127.0.0.1';
const leaderId = Math.min(...config.members.map((m) => m.id));
const startedAt = new Date().toISOString();

const server = http.createServer((req, res) => {
  if (req.url === '/healthz' || req.url === '/readyz') return res.end('ok\n');
  if (req.url === '/status') {
    res.setHeader('Content-Type', 'application/json');
    return res.end(
      JSON.stringify({
        replicaId,
        role: replicaId === leaderId ? 'leader' : 'follower',
        leaderId,
        proposalNumber: 1,
        firstUndecidedOffset: 0,
        applyLag: 0,
        fabric: { kind: 'soft', address: `${host}:${me.fabricPort}` },
        failovers: [],
        permissionSwitch: { recentMicros: [], mechanismCounts: {} },
        fake: { startedAt, bootstrap: args.bootstrap === 'true', pid: process.pid },
      }),
    );
  }
  res.statusCode = 404;
  res.end();
});
server.listen(me.agentPort, host, () => console.log(`fake agent ${replicaId} on ${host}:${me.agentPort}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
