// A minimal RESP2 client for the chaos driver: one connection, one request at a time, a timeout per
// request. Written here (rather than taken from npm) because the driver must know exactly what
// happened to every request: never sent, answered, or lost in flight (outcome unknown) — cluster
// clients retry and redirect on their own and would hide that.
import net from 'node:net';

export type RespValue = string | number | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
  toString(): string {
    return this.message;
  }
}

/** Why a request has no reply. `sent` tells whether any byte of it may have reached the server. */
export class RespTransportError extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
    this.name = 'RespTransportError';
  }
}

export function encodeCommand(argv: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const a of argv) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply from `buf` at `offset`; returns undefined when more bytes are needed. */
export function parseReply(buf: Buffer, offset = 0): { value: RespValue; next: number } | undefined {
  const eol = buf.indexOf('\r\n', offset, 'latin1');
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return undefined;
      return { value: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let at = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new Error(`RESP: unexpected reply type byte 0x${buf[offset].toString(16)}`);
  }
}

export class RespConnection {
  readonly host: string;
  readonly port: number;
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending:
    | { resolve: (v: RespValue) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
    | undefined;
  private closed = false;

  private constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Connects within `timeoutMs`; a failure means nothing was sent. */
  static connect(host: string, port: number, timeoutMs: number): Promise<RespConnection> {
    const c = new RespConnection(host, port);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RespTransportError(`connect to ${host}:${port}: timed out after ${timeoutMs} ms`, false));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new RespTransportError(`connect to ${host}:${port}: ${err.message}`, false));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        c.attach(socket);
        resolve(c);
      });
    });
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    const fail = (why: string) => {
      if (this.closed) return;
      this.closed = true;
      socket.destroy();
      const p = this.pending;
      this.pending = undefined;
      if (p) {
        clearTimeout(p.timer);
        p.reject(new RespTransportError(`${this.address}: ${why}`, true));
      }
    };
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => fail('connection closed'));
  }

  private drain(): void {
    if (!this.pending) {
      if (this.buffer.length > 0) this.close(); // a reply nobody asked for: the stream is unusable
      return;
    }
    let parsed;
    try {
      parsed = parseReply(this.buffer);
    } catch (err) {
      const p = this.pending;
      this.pending = undefined;
      clearTimeout(p.timer);
      this.close();
      p.reject(new RespTransportError(`${this.address}: ${(err as Error).message}`, true));
      return;
    }
    if (!parsed) return;
    this.buffer = this.buffer.subarray(parsed.next);
    const p = this.pending;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(parsed.value);
  }

  /**
   * Sends one command and waits for its reply. Rejects with RespTransportError (sent=true) when
   * the connection fails or the reply does not come within `timeoutMs`; the connection is then
   * closed (a late reply must never be taken for the next request's).
   */
  command(argv: string[], timeoutMs: number): Promise<RespValue> {
    if (this.closed || !this.socket) {
      return Promise.reject(new RespTransportError(`${this.address}: connection closed`, false));
    }
    if (this.pending) return Promise.reject(new Error('RespConnection: one request at a time'));
    const socket = this.socket;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.close();
        reject(new RespTransportError(`${this.address}: no reply within ${timeoutMs} ms`, true));
      }, timeoutMs);
      this.pending = { resolve, reject, timer };
      socket.write(encodeCommand(argv));
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.destroy();
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.reject(new RespTransportError(`${this.address}: connection closed`, true));
    }
  }
}
