// The agent process's exit reasons: one line on stderr, and "<Code>: <message>" in the termination message file that
// Kubernetes reports in the pod status (the operator turns it into Degraded + a Warning event, e.g. MemlockTooLow).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { checkMemlock } from './memlock.js';
import { EXIT_BAD_SETTING, runAgentMain, terminationMessageText } from './main.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mu-agent-main-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  let err = '';
  return { io: { out: () => {}, err: (t: string) => void (err += t) }, err: () => err };
}

test('a bad setting is written to the termination message file, named as on stderr', async () => {
  const file = path.join(dir, 'termination-log');
  const { io, err } = capture();
  const status = await runAgentMain(['--replica-id', 'x', '--termination-message-path', file], { io });
  expect(status).toBe(EXIT_BAD_SETTING);
  expect(err()).toContain('--replica-id: must be an integer');
  expect(readFileSync(file, 'utf8')).toBe('BadSetting: --replica-id: must be an integer from 0 to 8, got "x"');
});

test('a setting found bad only at start-up (a port in use) is written there too (path from MU_TERMINATION_MESSAGE_PATH)', async () => {
  const file = path.join(dir, 'termination-log');
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    writeFileSync(path.join(dir, 'key'), '0123456789abcdef0123456789abcdef');
    writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify({
      version: 1, cluster: 'demo', fabric: 'soft',
      members: [{ id: 0, name: 'demo-0', host: '127.0.0.1', respPort: 20002, agentPort: port, fabricPort: 20000 }],
    }));
    const { io, err } = capture();
    const status = await runAgentMain(
      ['--replica-id=0', `--config=${path.join(dir, 'cluster.json')}`, `--fabric-key-file=${path.join(dir, 'key')}`,
        '--http-host=127.0.0.1', '--fabric=soft'],
      { io, signals: false, env: { MU_TERMINATION_MESSAGE_PATH: file } },
    );
    expect(status).toBe(EXIT_BAD_SETTING);
    expect(err()).toContain('members[0].agentPort: cannot listen');
    expect(readFileSync(file, 'utf8')).toMatch(
      /^BadSetting: cluster\.json members\[0\]\.agentPort: cannot listen on 127\.0\.0\.1:\d+: listen EADDRINUSE/);
  } finally {
    blocker.close();
  }
});

test('the MemlockTooLow verdict reads "MemlockTooLow: …" once, on one line, within 4096 bytes', () => {
  const verdict = checkMemlock(72 << 20, {
    status: 'CapEff:\t0000000000000000\n',
    limits: 'Max locked memory         8388608              8388608              bytes\n',
  });
  expect(verdict.ok).toBe(false);
  if (verdict.ok) return;
  const text = terminationMessageText(verdict.code, verdict.message);
  expect(text).toMatch(/^MemlockTooLow: the verbs fabric pins about 72\.0 MiB .* RLIMIT_MEMLOCK is 8\.0 MiB/);
  expect(text).not.toMatch(/MemlockTooLow: MemlockTooLow/);
  expect(terminationMessageText('EngineFailed', 'x\ny'.repeat(3000))).toHaveLength(4096);
});
