// The chaos clients must record exactly what happened to each operation: a wrong "ok" or a wrong
// "not executed" would hide or invent linearizability violations. Checked against fake RESP
// servers on loopback (no root, no replicas).
import net from 'node:net';

import { encodeCommand, parseReply, RespError } from './resp.js';
import { Client, History, type WorkloadOptions } from './workload.js';

type Handler = (argv: string[], socket: net.Socket) => string | null; // null: never answer

async function fakeServer(handler: Handler): Promise<{ address: string; close: () => Promise<void>; seen: string[][] }> {
  const seen: string[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseReply(buf);
        if (!r) return;
        buf = buf.subarray(r.next);
        const argv = r.value as string[];
        seen.push(argv);
        const reply = handler(argv, socket);
        if (reply !== null) socket.write(reply);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function options(addresses: string[]): WorkloadOptions {
  const t0 = Date.now();
  return {
    clients: 1,
    keysPerKind: 1,
    requestTimeoutMs: 300,
    connectTimeoutMs: 300,
    opDeadlineMs: 2000,
    thinkMs: 0,
    maxOps: 100,
    addresses,
    now: () => (Date.now() - t0) * 1000,
    log: () => undefined,
  };
}

describe('RESP encoding', () => {
  it('round-trips commands and parses every reply type', () => {
    const cmd = encodeCommand(['SET', 'k', 'välue']);
    expect(cmd.toString()).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n');
    expect(parseReply(Buffer.from('+OK\r\n'))).toEqual({ value: 'OK', next: 5 });
    expect(parseReply(Buffer.from(':42\r\n'))?.value).toBe(42);
    expect(parseReply(Buffer.from('$-1\r\n'))?.value).toBeNull();
    expect(parseReply(Buffer.from('$3\r\nab'))).toBeUndefined(); // incomplete
    expect(parseReply(Buffer.from('$2\r\nab\r\n'))?.value).toBe('ab');
    const err = parseReply(Buffer.from('-MOVED 0 1.2.3.4:6379\r\n'))?.value;
    expect(err).toBeInstanceOf(RespError);
    expect((err as RespError).message).toBe('MOVED 0 1.2.3.4:6379');
    expect(parseReply(Buffer.from('*2\r\n:1\r\n$1\r\nx\r\n'))?.value).toEqual([1, 'x']);
  });
});

describe('chaos client', () => {
  it('follows MOVED and records one ok operation', async () => {
    const leader = await fakeServer(() => '+OK\r\n');
    const follower = await fakeServer(() => `-MOVED 0 ${leader.address}\r\n`);
    const history = new History();
    const c = new Client(0, options([follower.address, leader.address]), history);
    const op = await c.run('SET', 'r0', 'v1');
    c.close();
    expect(op.status).toBe('ok');
    expect(op.result).toBe('OK');
    expect(op.return).toBeGreaterThanOrEqual(op.call);
    expect(history.ops).toHaveLength(1);
    expect(leader.seen).toEqual([['SET', 'r0', 'v1']]);
    await Promise.all([leader.close(), follower.close()]);
  });

  it('retries CLUSTERDOWN (not executed) and records UNCERTAIN as unknown, never retried', async () => {
    let calls = 0;
    const s = await fakeServer(() => (++calls === 1 ? '-CLUSTERDOWN no leader elected\r\n' : '-UNCERTAIN leadership changed\r\n'));
    const history = new History();
    const c = new Client(0, options([s.address]), history);
    const op = await c.run('INCR', 'n0');
    c.close();
    expect(op.status).toBe('unknown');
    expect(op.return).toBeUndefined();
    expect(calls).toBe(2);
    await s.close();
  });

  it('a write without a reply is unknown; a read without a reply is retried', async () => {
    let reads = 0;
    const s = await fakeServer((argv) => {
      if (argv[0] === 'GET') return ++reads === 1 ? null : '$1\r\nx\r\n';
      return null;
    });
    const history = new History();
    const c = new Client(0, options([s.address]), history);
    const write = await c.run('APPEND', 'a0', 't;');
    expect(write.status).toBe('unknown');
    expect(write.error).toMatch(/no reply/);
    const read = await c.run('GET', 'a0');
    expect(read.status).toBe('ok');
    expect(read.result).toBe('x');
    c.close();
    await s.close();
  });

  it('an error produced by the command itself is a definite answer', async () => {
    const s = await fakeServer(() => '-ERR value is not an integer or out of range\r\n');
    const c = new Client(0, options([s.address]), new History());
    const op = await c.run('INCR', 'n0');
    c.close();
    expect(op.status).toBe('ok');
    expect(op.error).toMatch(/not an integer/);
    await s.close();
  });

  it('a refused connection sends nothing: the operation moves on and fails only at its deadline', async () => {
    const gone = await fakeServer(() => '+OK\r\n');
    const address = gone.address;
    await gone.close();
    const c = new Client(0, { ...options([address]), opDeadlineMs: 300 }, new History());
    const op = await c.run('SET', 'r0', 'v');
    c.close();
    expect(op.status).toBe('fail');
  });
});
