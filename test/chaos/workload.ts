// Concurrent RESP clients that follow MOVED and retry what certainly did not run, and record every
// operation with its invocation and completion times for the linearizability checker.
//
// One logical operation = one entry in the history. Its attempts:
//   reply (not an error), or an error the command itself produced  -> ok, done
//   -MOVED / -CLUSTERDOWN / -TRYAGAIN (log full), or a connection that failed before anything
//   was sent                                     -> certainly not executed: retry (same operation)
//   -UNCERTAIN, a timeout or a connection lost after sending        -> a write's outcome is
//   unknown: done, recorded as unknown (never retried: INCR/APPEND twice would be a different
//   history). A read is simply retried (it has no effect).
// An operation that only ever failed with certainty until its deadline is recorded as fail.
import { RespConnection, RespError, RespTransportError, type RespValue } from './resp.js';

export type OpName = 'GET' | 'SET' | 'INCR' | 'APPEND';

export interface HistoryOp {
  client: number;
  op: OpName;
  key: string;
  value?: string;
  call: number; // µs since the run's origin
  return?: number;
  status: 'ok' | 'fail' | 'unknown';
  result?: string | number | null;
  error?: string;
  note?: string;
}

export interface WorkloadOptions {
  clients: number;
  keysPerKind: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  opDeadlineMs: number;
  thinkMs: number;
  maxOps: number;
  addresses: string[]; // RESP host:port of every replica
  now: () => number; // µs since the origin
  log: (line: string) => void;
}

export class History {
  readonly ops: HistoryOp[] = [];
  add(op: HistoryOp): void {
    this.ops.push(op);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function splitAddress(a: string): [string, number] {
  const at = a.lastIndexOf(':');
  return [a.slice(0, at), Number(a.slice(at + 1))];
}

/** One client: a connection to whom it believes leads, re-targeted by MOVED and failures. */
export class Client {
  readonly id: number;
  private conn: RespConnection | undefined;
  private target: string;
  private rotation = 0;
  private readonly opts: WorkloadOptions;
  private readonly history: History;

  constructor(id: number, opts: WorkloadOptions, history: History) {
    this.id = id;
    this.opts = opts;
    this.history = history;
    this.target = opts.addresses[id % opts.addresses.length];
    this.rotation = id;
  }

  private nextTarget(): void {
    this.rotation = (this.rotation + 1) % this.opts.addresses.length;
    this.target = this.opts.addresses[this.rotation];
  }

  private async connection(): Promise<RespConnection> {
    if (this.conn?.isOpen && this.conn.address === this.target) return this.conn;
    this.conn?.close();
    this.conn = undefined;
    const [host, port] = splitAddress(this.target);
    this.conn = await RespConnection.connect(host, port, this.opts.connectTimeoutMs);
    return this.conn;
  }

  get currentTarget(): string {
    return this.target;
  }

  close(): void {
    this.conn?.close();
    this.conn = undefined;
  }

  /**
   * Runs one operation to a definite or unknown outcome and records it (unless `record` is false:
   * probes that only read).
   */
  async run(op: OpName, key: string, value?: string, record = true): Promise<HistoryOp> {
    const argv = value === undefined ? [op, key] : [op, key, value];
    const entry: HistoryOp = { client: this.id, op, key, call: this.opts.now(), status: 'fail' };
    if (value !== undefined) entry.value = value;
    const deadline = Date.now() + this.opts.opDeadlineMs;
    let attempts = 0;
    let lastError = '';
    while (Date.now() < deadline) {
      attempts++;
      let reply: RespValue;
      try {
        const conn = await this.connection();
        reply = await conn.command(argv, this.opts.requestTimeoutMs);
      } catch (err) {
        this.close();
        const sent = err instanceof RespTransportError ? err.sent : true;
        lastError = (err as Error).message;
        if (sent && op !== 'GET') {
          entry.status = 'unknown';
          entry.error = lastError;
          break;
        }
        this.nextTarget(); // nothing sent (or a read): try elsewhere
        await sleep(20);
        continue;
      }
      if (reply instanceof RespError) {
        const m = reply.message;
        lastError = m;
        if (m.startsWith('MOVED ')) {
          this.target = m.split(' ')[2] ?? this.target;
          if (attempts > 3) await sleep(10); // replicas may disagree for a moment: no spinning
          continue;
        }
        if (m.startsWith('CLUSTERDOWN') || m.startsWith('TRYAGAIN')) {
          await sleep(25);
          if (m.startsWith('CLUSTERDOWN')) this.nextTarget();
          continue;
        }
        if (m.startsWith('UNCERTAIN')) {
          entry.status = 'unknown';
          entry.error = m;
          break;
        }
        // An error the command itself produced (e.g. INCR on a non-integer): a definite answer.
        entry.status = 'ok';
        entry.return = this.opts.now();
        entry.error = m;
        break;
      }
      entry.status = 'ok';
      entry.return = this.opts.now();
      entry.result = Array.isArray(reply) ? JSON.stringify(reply) : reply;
      break;
    }
    if (entry.status === 'fail') entry.error = lastError || 'deadline';
    entry.note = `${this.target} attempt ${attempts}`;
    if (record) this.history.add(entry);
    return entry;
  }
}

export interface WorkloadStats {
  ok: number;
  unknown: number;
  fail: number;
}

/** The key space: registers (SET/GET), counters (INCR/GET), append-only logs (APPEND/GET). */
export function keys(perKind: number): { registers: string[]; counters: string[]; logs: string[] } {
  const r = (p: string) => Array.from({ length: perKind }, (_, i) => `${p}${i}`);
  return { registers: r('r'), counters: r('n'), logs: r('a') };
}

export class Workload {
  readonly history = new History();
  readonly clients: Client[];
  private stopping = false;
  private issued = 0;
  private readonly opts: WorkloadOptions;
  private readonly running: Promise<void>[] = [];

  constructor(opts: WorkloadOptions) {
    this.opts = opts;
    this.clients = Array.from({ length: opts.clients }, (_, i) => new Client(i, opts, this.history));
  }

  get issuedOps(): number {
    return this.issued;
  }

  get exhausted(): boolean {
    return this.issued >= this.opts.maxOps;
  }

  start(): void {
    for (const c of this.clients) this.running.push(this.loop(c));
  }

  private async loop(c: Client): Promise<void> {
    const k = keys(this.opts.keysPerKind);
    let seq = 0;
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    while (!this.stopping && this.issued < this.opts.maxOps) {
      this.issued++;
      seq++;
      const dice = Math.random();
      if (dice < 0.35) {
        await c.run('GET', pick([...k.registers, ...k.counters, ...k.logs]));
      } else if (dice < 0.6) {
        await c.run('SET', pick(k.registers), `c${c.id}-${seq}`);
      } else if (dice < 0.8) {
        await c.run('INCR', pick(k.counters));
      } else {
        await c.run('APPEND', pick(k.logs), `c${c.id}.${seq};`);
      }
      if (this.opts.thinkMs > 0) await sleep(this.opts.thinkMs * (0.5 + Math.random()));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
    for (const c of this.clients) c.close();
  }

  stats(): WorkloadStats {
    const s = { ok: 0, unknown: 0, fail: 0 };
    for (const op of this.history.ops) s[op.status]++;
    return s;
  }
}
