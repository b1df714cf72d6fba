/**
 * Echo endpoints and probes: the way tests tell whether a tunnel actually
 * carries bytes end to end, as opposed to merely having a listening socket
 * (ssh -L accepts local connections even when the remote side is dead).
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, isIPv4, isIPv6, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const LOOPBACK = '127.0.0.1';
/** Default bound on one probe: long enough for an ssh channel open on loopback, short enough to poll. */
const DEFAULT_ROUND_TRIP_TIMEOUT_MS = 2_000;
/** Default waitFor() poll interval. */
const DEFAULT_POLL_INTERVAL_MS = 100;
/** Bound on HeldConnection.open() reaching the listener. */
const HELD_CONNECT_TIMEOUT_MS = 5_000;

export interface EchoServer {
  port: number;
  /** Connections open right now. */
  connections(): number;
  /** Connections accepted since start, open or not (extension: proves a tunnel reached us). */
  accepted(): number;
  /** Stops listening and destroys open sockets. */
  close(): Promise<void>;
}

/** TCP echo on 127.0.0.1 at a free port. */
export function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {}); // peers vanish mid-test all the time; never crash on it
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) {
        reject(new Error('echo server has no address'));
        return;
      }
      resolve({
        port: address.port,
        connections: () => sockets.size,
        accepted: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A payload no earlier probe could have sent, so a stale echo never counts. */
function uniquePayload(): string {
  return `autotunnel-probe-${randomBytes(12).toString('hex')}\n`;
}

/**
 * Buffers everything a socket receives so callers can await byte counts or
 * markers without racing 'data' events.
 */
class SocketReader {
  #buffer = Buffer.alloc(0);
  #closed = false;
  readonly #waiters = new Set<() => void>();

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('error', () => {}); // 'close' follows and is what we act on
    socket.on('end', () => this.#close());
    socket.on('close', () => this.#close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Exactly n bytes; rejects if the socket closes first. */
  async read(n: number): Promise<Buffer> {
    while (this.#buffer.length < n) await this.#next();
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Waits until `marker` has arrived and discards everything up to and including it. */
  async readThrough(marker: Buffer): Promise<void> {
    for (;;) {
      const at = this.#buffer.indexOf(marker);
      if (at !== -1) {
        this.#buffer = this.#buffer.subarray(at + marker.length);
        return;
      }
      await this.#next();
    }
  }

  #next(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('socket closed'));
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  #close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }
}

/** Resolves to the promise's value, or to `onTimeout` after ms; swallows rejections into `onTimeout`. */
async function within<T>(promise: Promise<T>, ms: number, onTimeout: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), ms);
  });
  try {
    return await Promise.race([promise.catch(() => onTimeout), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects; the socket is pushed onto `track` before connecting so a caller
 * that gives up early can still destroy it.
 */
function openSocket(host: string, port: number, track: Socket[]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    track.push(socket);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function echoOn(socket: Socket, reader: SocketReader, payload: string): Promise<boolean> {
  const expected = Buffer.from(payload);
  socket.write(expected);
  const got = await reader.read(expected.length);
  return got.equals(expected);
}

/**
 * Connects, sends a unique payload and reports whether the same bytes came
 * back before the timeout. Never throws: refusals, resets and timeouts are
 * all simply "no round trip".
 */
export async function roundTrip(
  host: string,
  port: number,
  opts: { timeoutMs?: number; payload?: string } = {},
): Promise<boolean> {
  const sockets: Socket[] = [];
  const attempt = async () => {
    const socket = await openSocket(host, port, sockets);
    return echoOn(socket, new SocketReader(socket), opts.payload ?? uniquePayload());
  };
  try {
    return await within(attempt(), opts.timeoutMs ?? DEFAULT_ROUND_TRIP_TIMEOUT_MS, false);
  } finally {
    for (const s of sockets) s.destroy();
  }
}

const SOCKS_VERSION = 5;
const SOCKS_NO_AUTH = 0;
const SOCKS_CMD_CONNECT = 1;
const SOCKS_ATYP_IPV4 = 1;
const SOCKS_ATYP_DOMAIN = 3;
const SOCKS_ATYP_IPV6 = 4;
const SOCKS_REPLY_SUCCEEDED = 0;

function socksAddress(host: string): Buffer {
  if (isIPv4(host)) return Buffer.from([SOCKS_ATYP_IPV4, ...host.split('.').map(Number)]);
  if (isIPv6(host)) return Buffer.concat([Buffer.from([SOCKS_ATYP_IPV6]), ipv6Bytes(host)]);
  const name = Buffer.from(host);
  return Buffer.concat([Buffer.from([SOCKS_ATYP_DOMAIN, name.length]), name]);
}

function ipv6Bytes(host: string): Buffer {
  // Expand "::" to the right number of zero groups, then pack 8 x 16 bits.
  const [head = '', tail] = host.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = Array(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = tail === undefined ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Length of the bound address that follows the atyp byte in a SOCKS5 reply. */
async function readSocksBoundAddress(reader: SocketReader, atyp: number): Promise<void> {
  const portBytes = 2;
  if (atyp === SOCKS_ATYP_IPV4) await reader.read(4 + portBytes);
  else if (atyp === SOCKS_ATYP_IPV6) await reader.read(16 + portBytes);
  else if (atyp === SOCKS_ATYP_DOMAIN) {
    const [len = 0] = await reader.read(1);
    await reader.read(len + portBytes);
  } else throw new Error(`unknown SOCKS address type ${atyp}`);
}

/**
 * SOCKS5 (no auth) CONNECT through 127.0.0.1:proxyPort to the target, then an
 * echo round trip over the established stream. Never throws.
 */
export async function socksRoundTrip(
  proxyPort: number,
  targetHost: string,
  targetPort: number,
  opts: { timeoutMs?: number } = {},
): Promise<boolean> {
  const sockets: Socket[] = [];
  const attempt = async () => {
    const socket = await openSocket(LOOPBACK, proxyPort, sockets);
    const reader = new SocketReader(socket);
    socket.write(Buffer.from([SOCKS_VERSION, 1, SOCKS_NO_AUTH]));
    const [version, method] = await reader.read(2);
    if (version !== SOCKS_VERSION || method !== SOCKS_NO_AUTH) return false;
    const port = Buffer.alloc(2);
    port.writeUInt16BE(targetPort);
    socket.write(Buffer.concat([Buffer.from([SOCKS_VERSION, SOCKS_CMD_CONNECT, 0]), socksAddress(targetHost), port]));
    const [, reply, , atyp = 0] = await reader.read(4);
    if (reply !== SOCKS_REPLY_SUCCEEDED) return false;
    await readSocksBoundAddress(reader, atyp);
    return echoOn(socket, reader, uniquePayload());
  };
  try {
    return await within(attempt(), opts.timeoutMs ?? DEFAULT_ROUND_TRIP_TIMEOUT_MS, false);
  } finally {
    for (const s of sockets) s.destroy();
  }
}

/**
 * Polls `fn` until it returns a truthy value and resolves to that value.
 * A throwing `fn` counts as "not yet"; its last error is quoted on timeout.
 * A slow `fn` cannot stretch the overall bound.
 */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const interval = opts.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const deadline = Date.now() + opts.timeoutMs;
  const notYet = Symbol('not yet');
  let lastError: unknown;
  do {
    const remaining = Math.max(0, deadline - Date.now());
    const value = await within(
      Promise.resolve()
        .then(fn)
        .catch((err: unknown) => {
          lastError = err;
          return notYet;
        }),
      remaining,
      notYet,
    );
    if (value !== notYet && value) return value as T;
    const pause = Math.min(interval, deadline - Date.now());
    if (pause > 0) await sleep(pause);
  } while (Date.now() < deadline);
  const cause = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${cause}`);
}

/**
 * One long-lived connection to an echo endpoint, for checking whether an
 * EXISTING stream survives a fault (reconnects would hide exactly that).
 */
export class HeldConnection {
  readonly #socket: Socket;
  readonly #reader: SocketReader;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#reader = new SocketReader(socket);
  }

  /** Rejects if the connection is refused or not established within a few seconds. */
  static async open(host: string, port: number): Promise<HeldConnection> {
    const pending: Socket[] = [];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`could not connect to ${host}:${port} within ${HELD_CONNECT_TIMEOUT_MS} ms`)),
        HELD_CONNECT_TIMEOUT_MS,
      );
    });
    try {
      return new HeldConnection(await Promise.race([openSocket(host, port, pending), timeout]));
    } catch (err) {
      for (const s of pending) s.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Round trip on this same socket. Echoes of earlier probes that timed out
   * may still arrive later (e.g. after a thaw); they are skipped because each
   * probe waits for its own unique marker.
   */
  async alive(timeoutMs = DEFAULT_ROUND_TRIP_TIMEOUT_MS): Promise<boolean> {
    if (this.#reader.closed || this.#socket.destroyed) return false;
    const marker = Buffer.from(uniquePayload());
    this.#socket.write(marker);
    return within(
      this.#reader.readThrough(marker).then(() => true),
      timeoutMs,
      false,
    );
  }

  close(): void {
    this.#socket.destroy();
  }
}
