/**
 * Whether the server answers, learnt from ssh alone, and shared by every tunnel of the process to
 * the same server: who looks while it does not (the scout), how often, and when the others follow.
 *
 * Nothing but ssh ever connects to the server. OpenSSH ≥ 9.8 (PerSourcePenalties, on by default
 * in Debian 13 and Ubuntu ≥ 24.10) charges every connection closed before any authentication
 * attempt 1 s against its source address (`noauth:1`) and, once an address owes more than 15 s
 * (`min:15`), drops every connection from it. A TCP probe that connects and closes is such a
 * connection: 20 one-tunnel processes probing one restarted sshd 10.0 penalised their own address
 * and needed 49–51 s to come back (issue 12). An ssh attempt costs the server nothing while it
 * refuses (a kernel RST, no sshd runs) or drops the SYN, and once it connects it goes on to
 * authenticate, which is never penalised.
 *
 * So while a server does not answer, one tunnel per server retries its own ssh on a short
 * cadence (a refused attempt costs about 4 ms of CPU for setpriv + ssh, measured here), and the
 * moment its ssh says "Connection established" every other tunnel to it retries at once (through
 * the handshake gate). A connect that stays pending lost its SYN: ssh is restarted.
 */
import { makeCause, type Cause } from '../ssh/causes.js';
import { after, type Clock } from './world.js';

/**
 * The scout's cadence while the server refuses: 50 ms in the first second of an outage, where a
 * restarting sshd comes back (autossh, which restarts ssh back to back, is back 0.20–0.23 s after
 * sshd listens again: bench/RESULTS.md), 100 ms up to 3 s, then 250 ms — back ≤ 0.4 s after a
 * long outage, for 4 ssh starts a second.
 */
const SCOUT_CADENCE: ReadonlyArray<{ untilMs: number; everyMs: number }> = [
  { untilMs: 1_000, everyMs: 50 },
  { untilMs: 3_000, everyMs: 100 },
  { untilMs: Infinity, everyMs: 250 },
];
/** ± this fraction, so that the scouts of many processes do not move in step. */
const SCOUT_JITTER = 0.2;

/**
 * A connect still pending after this long lost its SYN (an outage that drops packets): the kernel
 * would retransmit only after 1 s, 3 s, 7 s…, so ssh is restarted to send a fresh one. Killing an
 * ssh whose connect never completed reaches no sshd. The wait is a multiple of the connect times
 * seen to this server (a slow path is never restarted in a loop), within bounds.
 */
export const STALL_MIN_MS = 500;
export const STALL_MAX_MS = 3_000;
/** Before any connect to this server has been timed. */
export const STALL_DEFAULT_MS = 1_000;
const STALL_RTT_FACTOR = 4;

/** The delay before the scout's next ssh, `outageMs` into an outage; `random` in [0, 1). */
export function scoutDelayMs(outageMs: number, random: number): number {
  const every = SCOUT_CADENCE.find((c) => outageMs < c.untilMs)!.everyMs;
  return Math.round(every * (1 + SCOUT_JITTER * (2 * random - 1)));
}

/** ssh's TCP connect itself failed (not a slow SSH handshake on a port that accepts). */
export function tcpLevelFailure(cause: Cause): boolean {
  if (cause.code === 'connection_refused' || cause.code === 'no_route' || cause.code === 'connect_stalled') return true;
  return cause.code === 'connect_timeout' && !/banner exchange/.test(cause.line ?? '');
}

/** Why a waiting tunnel is woken: the server answered, or it is the scout now. */
export type Wake = (why: 'answered' | 'scout') => void;

/** What one process knows of one server; shared by its tunnels there. */
export class ServerWatch {
  private downSince: number | undefined;
  private scout: object | undefined;
  private readonly waiters = new Map<object, Wake>();
  /** Smoothed time from ssh's "Connecting to" to "Connection established", when known. */
  private connectMs: number | undefined;

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  /** How long the server has not answered (0 while it answers). */
  outageMs(): number {
    return this.downSince === undefined ? 0 : this.clock.now() - this.downSince;
  }

  /** A tunnel's ssh reached the server's port: every waiting tunnel may go now. */
  answered(connectMs?: number): void {
    if (connectMs !== undefined) this.connectMs = this.connectMs === undefined ? connectMs : 0.7 * this.connectMs + 0.3 * connectMs;
    this.downSince = undefined;
    this.scout = undefined;
    const wake = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of wake) w('answered');
  }

  /**
   * A tunnel's ssh could not reach the server. Returns the delay before its next ssh when it is
   * the scout; otherwise 'wait': `wake` is called when the server answers or the role passes to it.
   */
  unreachable(who: object, wake: Wake, random: number): number | 'wait' {
    this.downSince ??= this.clock.now();
    if (this.scout === undefined || this.scout === who) {
      this.scout = who;
      this.waiters.delete(who);
      return scoutDelayMs(this.outageMs(), random);
    }
    this.waiters.set(who, wake);
    return 'wait';
  }

  /** A tunnel stops waiting (it connects for another reason); a scout keeps its role. */
  stopWaiting(who: object): void {
    this.waiters.delete(who);
  }

  /** A tunnel no longer takes part (stopped): a scout's role passes to a waiting tunnel, woken to look. */
  leave(who: object): void {
    this.waiters.delete(who);
    if (this.scout !== who) return;
    this.scout = undefined;
    const next = this.waiters.entries().next();
    if (next.done) return;
    const [nextWho, wake] = next.value;
    this.waiters.delete(nextWho);
    this.scout = nextWho;
    wake('scout');
  }

  /** How long a pending connect may take before ssh is restarted (see STALL_MIN_MS). */
  stallAfterMs(): number {
    if (this.connectMs === undefined) return STALL_DEFAULT_MS;
    return Math.min(STALL_MAX_MS, Math.max(STALL_MIN_MS, STALL_RTT_FACTOR * this.connectMs));
  }
}

/** One ServerWatch per server (host:port) for the whole process. */
export class ServerWatches {
  private readonly watches = new Map<string, ServerWatch>();
  constructor(private readonly clock: Pick<Clock, 'now'>) {}
  for(host: string, port: number): ServerWatch {
    const key = `${host}:${port}`;
    let w = this.watches.get(key);
    if (!w) {
      w = new ServerWatch(this.clock);
      this.watches.set(key, w);
    }
    return w;
  }
}

export interface ReachabilityActions {
  /** ssh's connect is pending too long (its SYN was lost): restart ssh. */
  restartAttempt(cause: Cause): void;
  /** The server answers again, or this tunnel is now the scout, while it waits: connect now. */
  retryNow(why: 'answered' | 'scout'): void;
}

/** One tunnel's part in its server's watch. The Tunnel owns one. */
export class ServerReachability {
  /** The stall check of the current connect; ended when it goes through. */
  private pending: AbortController | undefined;

  constructor(
    private readonly watch: ServerWatch,
    private readonly clock: Clock,
    private readonly actions: ReachabilityActions,
  ) {}

  /**
   * ssh said "Connecting to" (`scope`: its attempt). Measured from that line, not from the spawn:
   * an ssh that has not even begun to connect (a machine starved of CPU) is slow, not stalled.
   */
  onConnecting(scope: AbortSignal): void {
    this.pending?.abort();
    const pending = new AbortController();
    this.pending = pending;
    after(this.clock, this.watch.stallAfterMs(), AbortSignal.any([scope, pending.signal]), () =>
      this.actions.restartAttempt(makeCause('connect_stalled', "ssh's connection attempt got no answer: the path to the server drops packets; trying again with a fresh one")),
    );
  }

  /** ssh's connect went through, `connectMs` after it began. */
  onConnected(connectMs: number | undefined): void {
    this.pending?.abort();
    this.pending = undefined;
    this.watch.answered(connectMs);
  }

  /** ssh could not reach the server: the delay before this tunnel looks again, or 'wait' for retryNow. */
  onUnreachable(random: number): number | 'wait' {
    return this.watch.unreachable(this, (why) => this.actions.retryNow(why), random);
  }

  /** The wait ended another way (a retry was asked for, the fallback timer fired). */
  stopWaiting(): void {
    this.watch.stopWaiting(this);
  }

  /** The tunnel stops for good. */
  leave(): void {
    this.pending?.abort();
    this.watch.leave(this);
  }
}
