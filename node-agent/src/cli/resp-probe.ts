// A tiny RESP client for latency probes: one connection, one command at a time; the reply's first line (a bulk
// string's body). Enough for `mu local`'s live p50/p99 (client-observed, TCP loopback included) and for tests; not a
// Redis client library.
import net from 'node:net';

export class RespProbe {
  private socket?: net.Socket;
  private buffer = '';
  private waiting?: { resolve: (line: string) => void; reject: (e: Error) => void };

  constructor(readonly host: string, readonly port: number, private readonly timeoutMs = 2000) {}

  private connect(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      socket.setEncoding('utf8');
      socket.once('connect', () => {
        this.socket = socket;
        resolve(socket);
      });
      socket.on('data', (chunk: string) => {
        this.buffer += chunk;
        const eol = this.buffer.indexOf('\r\n');
        if (eol < 0 || !this.waiting) return;
        let line = this.buffer.slice(0, eol);
        // A bulk string: its body follows on the next line (values are ASCII in probes and tests).
        if (line.startsWith('$') && Number(line.slice(1)) >= 0) {
          const n = Number(line.slice(1));
          if (this.buffer.length < eol + 2 + n + 2) return;
          line = this.buffer.slice(eol + 2, eol + 2 + n);
        }
        this.buffer = '';
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve(line);
      });
      socket.on('error', (e) => {
        reject(e);
        this.waiting?.reject(e);
        this.waiting = undefined;
      });
      socket.on('close', () => {
        this.waiting?.reject(new Error('connection closed'));
        this.waiting = undefined;
      });
    });
  }

  /** Sends one command; resolves with the reply's first line (a bulk string: its body) and the round trip in µs. */
  async command(argv: string[]): Promise<{ line: string; micros: number }> {
    const socket = await this.connect();
    const frame = `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    const started = process.hrtime.bigint();
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting = {
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      socket.write(frame);
    });
    return { line, micros: Number(process.hrtime.bigint() - started) / 1000 };
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
