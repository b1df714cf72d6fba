/**
 * Whether the server answers a plain TCP connect, watched while it matters: while ssh's own
 * connect is pending (the stall detector) and while a tunnel waits after a network failure (the
 * watch for the server's return). One probing loop serves both. The Tunnel owns one of these;
 * it acts through two callbacks and ends a watch through the scope it passes in, or stop().
 */
import { makeCause, type Cause } from '../ssh/causes.js';
import { after, type Clock, type ProbeTcp } from './ports.js';

/** Once the server answers, one reachability probe a second; each is given this long to connect. */
export const PROBE_INTERVAL_MS = 1_000;
export const PROBE_TIMEOUT_MS = 1_000;
/**
 * While the server does not answer: a new probe this often, at most this many in flight. A
 * refused probe is a RST from the kernel and a dropped one goes nowhere — no sshd runs for
 * either — and at one a second the tunnel could only be back up to 1.2 s after the path returns
 * (bench/RESULTS.md); at 200 ms it is back within about 0.4 s.
 */
export const FAST_PROBE_EVERY_MS = 200;
export const MAX_PROBES_IN_FLIGHT = 5;
/** Without "Connection established" after this long, watch whether the server is reachable. */
export const STALL_CHECK_AFTER_MS = 1_000;
/** A connect pending this long while a fresh probe connects quickly means ssh's SYN was lost. */
export const STALL_MIN_PENDING_MS = 2_000;

export interface ReachabilityActions {
  /** ssh's connect is stuck since the outage while the server answers again: restart ssh. */
  restartAttempt(cause: Cause): void;
  /** The server answers again while the tunnel waits after a network failure: connect now. */
  retryNow(): void;
}

export interface ReachabilityWorld {
  clock: Clock;
  probeTcp: ProbeTcp;
}

export class ServerReachability {
  private watch: AbortController | undefined;

  constructor(
    private readonly server: { host: string; port: number },
    private readonly world: ReachabilityWorld,
    private readonly actions: ReachabilityActions,
  ) {}

  /**
   * ssh is connecting (`scope`: its attempt). If its TCP connect is still pending after
   * STALL_CHECK_AFTER_MS, probe the server: a fresh connect that gets through quickly while
   * ssh's has been stuck for seconds means ssh's SYN was lost during an outage, and the kernel
   * would make it wait for the next retransmission — restart it now. Pending is measured from
   * ssh's own "Connecting to" (`connectingSince`): an ssh that has not even started to connect
   * (a machine starved of CPU by many handshakes) is slow, not stalled.
   */
  onConnectPending(scope: AbortSignal, connectingSince: () => number | undefined): void {
    const signal = this.begin(scope);
    after(this.world.clock, STALL_CHECK_AFTER_MS, signal, () =>
      this.probe(signal, (ok, tookMs) => {
        const since = connectingSince();
        const pendingMs = since === undefined ? 0 : this.world.clock.now() - since;
        if (!(ok && pendingMs >= STALL_MIN_PENDING_MS && tookMs < PROBE_TIMEOUT_MS)) return false;
        this.actions.restartAttempt(makeCause('connect_stalled', 'the server answers again, but ssh\'s connection attempt from during the outage is still waiting: restarting it'));
        return true;
      }),
    );
  }

  /**
   * A network failure ended the attempt (`scope`: the backoff wait): retry at once when the
   * server's port answers a plain connect after having not.
   */
  onNetworkFailure(cause: Cause, scope: AbortSignal): void {
    const signal = this.begin(scope);
    // ssh's own TCP connect just got no answer (refused, unreachable, timed out): that counts.
    let sawUnreachable = tcpLevelFailure(cause);
    this.probe(signal, (ok) => {
      if (!ok) {
        sawUnreachable = true;
        return false;
      }
      if (!sawUnreachable) return false;
      this.actions.retryNow();
      return true;
    });
  }

  /** Ends the current watch (ssh's connect went through). */
  stop(): void {
    this.watch?.abort();
    this.watch = undefined;
  }

  private begin(scope: AbortSignal): AbortSignal {
    this.stop();
    this.watch = new AbortController();
    return AbortSignal.any([scope, this.watch.signal]);
  }

  /**
   * Probes the server's port until `signal` aborts or `onResult` returns true. While it does
   * not answer, a new probe starts every FAST_PROBE_EVERY_MS without waiting for the last one
   * (a refusal is a RST from a port where nothing listens; a dropped SYN goes nowhere: no sshd
   * ever runs for either); once it answers, one probe a second.
   */
  private probe(signal: AbortSignal, onResult: (ok: boolean, tookMs: number) => boolean): void {
    const { clock, probeTcp } = this.world;
    const { host, port } = this.server;
    let inFlight = 0;
    let answered = false;
    // Local, not stop(): an action may already have started the next watch.
    let done = false;
    const tick = () => {
      if (done || signal.aborted) return;
      if (inFlight < MAX_PROBES_IN_FLIGHT) {
        inFlight++;
        const started = clock.now();
        void probeTcp(host, port, PROBE_TIMEOUT_MS).then((ok) => {
          inFlight--;
          if (done || signal.aborted) return;
          answered = ok;
          if (onResult(ok, clock.now() - started)) done = true;
        });
      }
      after(clock, answered ? PROBE_INTERVAL_MS : FAST_PROBE_EVERY_MS, signal, tick);
    };
    tick();
  }
}

/** ssh's TCP connect itself failed (not a slow SSH handshake on a port that accepts). */
function tcpLevelFailure(cause: Cause): boolean {
  if (cause.code === 'connection_refused' || cause.code === 'no_route') return true;
  return cause.code === 'connect_timeout' && !/banner exchange/.test(cause.line ?? '');
}
