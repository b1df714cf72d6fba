/**
 * How the bench decides "back": a real round trip through the tunnel to the echo target,
 * started every 50 ms whether or not earlier ones have finished (a probe hanging on a
 * black-holed link must not delay the next). Also: watching an ssh process die, a byte sink for
 * throughput, and a many-tunnels "all up" waiter for the scale rows.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { roundTrip } from '../test/harness/echo.js';
import { listenerInodes, processAlive } from './procfs.js';

export const PROBE_INTERVAL_MS = 50;
/** One probe's bound: a round trip on loopback takes a few ms once the tunnel works. */
export const PROBE_TIMEOUT_MS = 1_000;
/** Probes in flight at most (a black-holed -L tunnel keeps each one pending until its timeout). */
const MAX_IN_FLIGHT = 40;

/** Milliseconds on a monotonic clock; every timestamp in the bench uses it. */
export const now = (): number => performance.now();

export interface ProbeRecord {
  start: number;
  end: number;
  ok: boolean;
}

export class Prober {
  readonly #host: string;
  readonly #port: number;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  readonly #successes: ProbeRecord[] = [];
  readonly #waiters = new Set<() => void>();
  #sent = 0;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  get sent(): number {
    return this.#sent;
  }

  start(): void {
    if (this.#timer) return;
    const tick = () => {
      if (this.#inFlight >= MAX_IN_FLIGHT) return;
      this.#inFlight++;
      this.#sent++;
      const start = now();
      void roundTrip(this.#host, this.#port, { timeoutMs: PROBE_TIMEOUT_MS }).then((ok) => {
        this.#inFlight--;
        if (!ok) return;
        this.#successes.push({ start, end: now(), ok });
        for (const w of [...this.#waiters]) w();
      });
    };
    tick();
    this.#timer = setInterval(tick, PROBE_INTERVAL_MS);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The first successful round trip that STARTED at or after `since` (so it went through the
   * tunnel as it is after the fault); resolves with its end time, or undefined at the deadline.
   */
  firstSuccess(since: number, timeoutMs: number): Promise<number | undefined> {
    const find = () => this.#successes.filter((r) => r.start >= since).reduce<number | undefined>((a, r) => (a === undefined || r.end < a ? r.end : a), undefined);
    return new Promise((resolve) => {
      const hit = find();
      if (hit !== undefined) {
        resolve(hit);
        return;
      }
      const check = () => {
        const h = find();
        if (h === undefined) return;
        done(h);
      };
      const done = (v: number | undefined) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.#waiters.add(check);
    });
  }
}

/** Probes until one round trip succeeds; resolves with its end time or undefined. */
export async function waitRoundTrip(port: number, timeoutMs: number): Promise<number | undefined> {
  const prober = new Prober('127.0.0.1', port);
  const since = now();
  prober.start();
  try {
    return await prober.firstSuccess(since, timeoutMs);
  } finally {
    prober.stop();
  }
}

/** Resolves with the time the process exited, or undefined if it still runs at the deadline. */
export async function waitGone(pid: number, startTime: string, timeoutMs: number, pollMs = 20): Promise<number | undefined> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (!processAlive(pid, startTime)) return now();
    await sleep(pollMs);
  }
  return processAlive(pid, startTime) ? undefined : now();
}

/** Resolves with the time the listening socket `inode` on `port` was closed, or undefined at the deadline. */
export async function waitListenerGone(port: number, inode: string, timeoutMs: number, cancel: { cancelled: boolean }, pollMs = 20): Promise<number | undefined> {
  const deadline = now() + timeoutMs;
  while (now() < deadline && !cancel.cancelled) {
    if (!listenerInodes(port).includes(inode)) return now();
    await sleep(pollMs);
  }
  return undefined;
}

/**
 * Many tunnels at once (scale rows): each pending port is probed every `everyMs` until it has
 * carried one round trip. Resolves with each port's first success time (undefined: never).
 */
export async function waitAllUp(ports: number[], opts: { timeoutMs: number; everyMs: number; concurrency: number }): Promise<Map<number, number | undefined>> {
  const upAt = new Map<number, number | undefined>();
  const pending = new Set(ports);
  const lastTry = new Map<number, number>();
  const deadline = now() + opts.timeoutMs;
  let inFlight = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (pending.size === 0 || now() >= deadline) {
        if (inFlight === 0) resolve();
        return;
      }
      const t = now();
      for (const port of pending) {
        if (inFlight >= opts.concurrency) break;
        if (t - (lastTry.get(port) ?? -Infinity) < opts.everyMs) continue;
        lastTry.set(port, t);
        inFlight++;
        void roundTrip('127.0.0.1', port, { timeoutMs: PROBE_TIMEOUT_MS }).then((ok) => {
          inFlight--;
          if (ok && pending.delete(port)) upAt.set(port, now());
        });
      }
    };
    const timer = setInterval(() => {
      pump();
      if ((pending.size === 0 || now() >= deadline) && inFlight === 0) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
    pump();
  });
  for (const p of pending) upAt.set(p, undefined);
  return upAt;
}

// ── throughput ──────────────────────────────────────────────────────────────

export interface Sink {
  port: number;
  close(): Promise<void>;
}

/**
 * Discards what it receives; after the sender's EOF it answers with the byte count (8 bytes,
 * big-endian) and closes, so the sender knows every byte crossed the tunnel.
 */
export function startSink(): Promise<Sink> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    let count = 0;
    socket.on('data', (chunk: Buffer) => {
      count += chunk.length;
    });
    socket.on('end', () => {
      const reply = Buffer.alloc(8);
      reply.writeBigUInt64BE(BigInt(count));
      socket.end(reply);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      if (typeof a !== 'object' || a === null) return reject(new Error('sink has no address'));
      resolve({
        port: a.port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

const CHUNK = Buffer.alloc(1 << 20, 0x5a);

/** Sends `bytes` through 127.0.0.1:port to a sink; resolves with the milliseconds it took. */
export function pushThrough(port: number, bytes: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const started = now();
    let sent = 0;
    let reply = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`pushing ${bytes} bytes through port ${port} took over ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(now() - started);
    };
    const write = () => {
      while (sent < bytes) {
        const n = Math.min(CHUNK.length, bytes - sent);
        sent += n;
        if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          socket.once('drain', write);
          return;
        }
      }
      socket.end();
    };
    socket.once('connect', write);
    socket.on('data', (d: Buffer) => {
      reply = Buffer.concat([reply, d]);
    });
    socket.on('end', () => {
      if (reply.length !== 8) return finish(new Error(`sink answered ${reply.length} bytes instead of a count`));
      const got = Number(reply.readBigUInt64BE());
      if (got !== bytes) return finish(new Error(`sink received ${got} of ${bytes} bytes`));
      finish();
    });
    socket.on('error', (e) => finish(e));
  });
}

/** Waits until a sink behind the tunnel answers (a 1-byte push succeeds). */
export async function waitSinkReachable(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    try {
      await pushThrough(port, 1, 1_000);
      return true;
    } catch {
      await sleep(50);
    }
  }
  return false;
}
