/**
 * A TCP proxy that can black-hole its traffic, placed between ssh and sshd.
 *
 * Stopping sshd is not enough to test a supervisor: a dead server gives the
 * client a prompt FIN/RST, whereas the common real failure (NAT timeout,
 * Wi-Fi drop, suspended laptop) is a link where packets silently vanish and
 * only ssh's own keepalives can notice. freeze() produces exactly that: the
 * TCP connections stay established, but nothing moves.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

const LOOPBACK = '127.0.0.1';

/** Marks a half-close that must be forwarded in order with the data before it. */
const EOF = Symbol('EOF');
type Chunk = Buffer | typeof EOF;

/** Client→upstream is 'up', upstream→client is 'down'. */
type Direction = 'up' | 'down';

/** One proxied connection: the accepted client socket and its upstream twin. */
interface Link {
  client: Socket;
  /** Not created until the link may connect (i.e. not while frozen). */
  upstream: Socket | undefined;
  upstreamConnected: boolean;
  /** Bytes (and EOFs) read but not yet written on, per direction. */
  held: Record<Direction, Chunk[]>;
  /** The destination's write buffer is full; its source stays paused until 'drain'. */
  backpressure: Record<Direction, boolean>;
}

export class FaultProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #links = new Set<Link>();
  #frozen = false;

  private constructor(server: Server, port: number, targetHost: string, targetPort: number) {
    this.#server = server;
    this.port = port;
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
    server.on('connection', (client) => this.#accept(client));
  }

  /** Listens on 127.0.0.1 at a free port, forwarding to the target. */
  static start(targetHost: string, targetPort: number): Promise<FaultProxy> {
    // allowHalfOpen: an EOF is data too and must queue behind held bytes
    // rather than close the other side early. pauseOnConnect: nothing may be
    // read before we know whether we are frozen.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, LOOPBACK, () => {
        server.off('error', reject);
        const address = server.address();
        if (typeof address !== 'object' || address === null) {
          reject(new Error('fault proxy has no address'));
          return;
        }
        resolve(new FaultProxy(server, address.port, targetHost, targetPort));
      });
    });
  }

  /**
   * Black-holes every connection: nothing is read from either side any more
   * (so the kernel windows fill and senders stall, like on a dead link), and
   * anything already read is held back. New connections are accepted but
   * not connected upstream until thaw().
   */
  freeze(): void {
    this.#frozen = true;
    for (const link of this.#links) {
      link.client.pause();
      link.upstream?.pause();
    }
  }

  /** Resumes everything: held bytes go out in order, held connections connect upstream. */
  thaw(): void {
    this.#frozen = false;
    for (const link of this.#links) {
      if (link.upstream === undefined) this.#connectUpstream(link);
      else this.#flush(link);
    }
  }

  /** Destroys every current connection, both sides. */
  dropAll(): void {
    for (const link of this.#links) this.#destroy(link);
  }

  /** Client connections currently open (including ones held while frozen). */
  activeConnections(): number {
    return this.#links.size;
  }

  /** Drops all connections and stops listening. */
  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const link: Link = {
      client,
      upstream: undefined,
      upstreamConnected: false,
      held: { up: [], down: [] },
      backpressure: { up: false, down: false },
    };
    this.#links.add(link);
    client.setNoDelay(true);
    this.#wire(link, client, 'up');
    if (!this.#frozen) this.#connectUpstream(link);
  }

  #connectUpstream(link: Link): void {
    const upstream = connect({ host: this.#targetHost, port: this.#targetPort, allowHalfOpen: true });
    link.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.pause();
    this.#wire(link, upstream, 'down');
    upstream.once('connect', () => {
      link.upstreamConnected = true;
      this.#flush(link);
    });
  }

  /** Hooks a socket's events; `dir` is the direction of the bytes it produces. */
  #wire(link: Link, source: Socket, dir: Direction): void {
    source.on('data', (chunk: Buffer) => this.#forward(link, dir, chunk));
    source.on('end', () => this.#forward(link, dir, EOF));
    // Errors surface as 'close' with hadError; handled there.
    source.on('error', () => {});
    source.on('close', (hadError) => this.#onClose(link, source, hadError));
  }

  #forward(link: Link, dir: Direction, chunk: Chunk): void {
    const queue = link.held[dir];
    // Once anything is queued, later chunks must queue behind it to keep order.
    if (this.#frozen || !link.upstreamConnected || queue.length > 0) {
      queue.push(chunk);
      // Data already in flight inside Node may still be emitted after a
      // pause(); re-pausing is harmless and keeps the guarantee simple.
      if (this.#frozen) this.#sourceOf(link, dir)?.pause();
      return;
    }
    this.#write(link, dir, chunk);
  }

  #write(link: Link, dir: Direction, chunk: Chunk): void {
    const destination = this.#destinationOf(link, dir);
    if (destination === undefined || destination.destroyed) return;
    if (chunk === EOF) {
      destination.end();
      return;
    }
    if (!destination.write(chunk)) {
      link.backpressure[dir] = true;
      this.#sourceOf(link, dir)?.pause();
      destination.once('drain', () => {
        link.backpressure[dir] = false;
        this.#flush(link);
      });
    }
  }

  /** Writes out held chunks and resumes reading, unless frozen or backed up. */
  #flush(link: Link): void {
    if (this.#frozen || !link.upstreamConnected) return;
    for (const dir of ['up', 'down'] as const) {
      const queue = link.held[dir];
      while (queue.length > 0 && !link.backpressure[dir]) {
        this.#write(link, dir, queue.shift() as Chunk);
      }
      if (queue.length === 0 && !link.backpressure[dir]) this.#sourceOf(link, dir)?.resume();
    }
  }

  #onClose(link: Link, closed: Socket, hadError: boolean): void {
    const other = closed === link.client ? link.upstream : link.client;
    if (other === undefined || other.destroyed) {
      this.#links.delete(link);
      return;
    }
    // A reset on one side becomes a reset on the other. A clean close has
    // already forwarded its EOF via 'end'; the other side finishes on its own.
    // While frozen, the close stays unobserved: a paused socket does not read,
    // so the kernel does not report the peer's FIN/RST to us until thaw().
    if (hadError) this.#destroy(link);
  }

  #destroy(link: Link): void {
    link.client.destroy();
    link.upstream?.destroy();
    this.#links.delete(link);
  }

  #sourceOf(link: Link, dir: Direction): Socket | undefined {
    return dir === 'up' ? link.client : link.upstream;
  }

  #destinationOf(link: Link, dir: Direction): Socket | undefined {
    return dir === 'up' ? link.upstream : link.client;
  }
}
