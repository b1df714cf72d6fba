/**
 * One supervised ssh: spawns it, decides when the tunnel is really up, and restarts it on any
 * exit, forever. This file holds the transitions; the policies it owns have their own files:
 * readiness (readiness.ts, local-listeners.ts), server reachability (reachability.ts), a stopped
 * ssh (stuck.ts), the -M monitor (monitor.ts), sshd's drops (drops.ts), the delay (backoff.ts),
 * the handshake gate; one ssh run and its kill escalation are attempt.ts and terminate.ts. Each
 * run and each backoff wait has one AbortController: whatever it started (timers, probes) ends
 * with it. The outside world is injected (world.ts): tested on a fake clock.
 */
import type { TunnelSpec } from '../config/spec.js';
import { makeCause, withHint, type Cause } from '../ssh/causes.js';
import { parseSshLine, type SshProgress } from '../ssh/stderr.js';
import { Attempt, exitCause } from './attempt.js';
import { jumpHostsOf, type JumpHost } from '../ssh/jump.js';
import { retryDelayMs } from './backoff.js';
import { Emitter, compact, type Notice, type StateChange, type TunnelEvent, type TunnelState } from './events.js';
import type { Release } from './handshake-gate.js';
import { confirmListening } from './local-listeners.js';
import { watchMonitor } from './monitor.js';
import { ForwardReadiness, type ReadinessStep } from './readiness.js';
import { DropCounter } from './drops.js';
import { ServerReachability, ServerWatch, tcpLevelFailure } from './reachability.js';
import { watchForStuck } from './stuck.js';
import type { SshCommand, TunnelDeps } from './tunnel-deps.js';
import { after, type SshExit, type SshProcess } from './world.js';

/** Time allowed on top of ConnectTimeout for authentication and the forwards to be confirmed. */
export const HANDSHAKE_GRACE_MS = 20_000;

export type { SshCommand, TunnelDeps } from './tunnel-deps.js';

export class Tunnel {
  readonly name: string;
  readonly events = new Emitter<TunnelEvent>();
  private current: TunnelState = 'starting';
  private attemptNo = 0;
  /** Consecutive failed attempts; reset once up for spec.backoff.stableAfterMs. */
  private failures = 0;
  private attempt: Attempt | undefined;
  private upSince: number | undefined;
  /** The backoff wait: aborting it ends its timer and the probes that may cut it short. */
  private wait: AbortController | undefined;
  private stopPromise: Promise<void> | undefined;
  /** Cancels a wait for a handshake slot. */
  private cancelQueue: (() => void) | undefined;
  private readonly reachability: ServerReachability;
  /** The jump hosts, in order: a failure on the way is named as the jump host's. */
  private readonly jumps: JumpHost[];
  /** Connections sshd dropped before its banner, in a row. */
  private readonly drops = new DropCounter();
  /** The last attempt ended in a failure (cleared once up): the link may have been lost. */
  private failedBefore = false;

  constructor(
    readonly spec: TunnelSpec,
    private readonly command: SshCommand,
    private readonly deps: TunnelDeps,
  ) {
    this.name = spec.name;
    this.jumps = jumpHostsOf(spec);
    this.reachability = new ServerReachability(deps.watch ?? new ServerWatch(deps.clock), deps.clock, {
      restartAttempt: (cause) => this.attempt?.kill(cause),
      retryNow: (why) => this.serverAnswersAgain(why),
    });
  }

  get state(): TunnelState {
    return this.current;
  }

  /** The running ssh's process id; undefined while none runs. */
  get pid(): number | undefined {
    return this.attempt && !this.attempt.exited ? this.attempt.process.pid : undefined;
  }

  /** Starts connecting; a tunnel with `enabled: false` goes to "disabled" unless `evenIfDisabled`. */
  start(opts: { evenIfDisabled?: boolean } = {}): void {
    if (this.current !== 'starting') return;
    if (this.spec.enabled === false && !opts.evenIfDisabled) {
      this.stopPromise = Promise.resolve();
      this.setState('disabled', {});
      return;
    }
    this.connect();
  }

  /** Retry now (SIGUSR1): skips a backoff wait, or restarts a running ssh, as autossh does. */
  retryNow(reason = 'retry requested'): void {
    if (this.current === 'backoff') {
      this.notice('info', `${reason}: connecting now instead of waiting`);
      this.endWait();
      this.connect();
    } else if ((this.current === 'connecting' || this.current === 'up') && this.attempt) {
      this.notice('info', `${reason}: restarting ssh`);
      this.attempt.kill(makeCause('retry_requested', reason));
    }
  }

  /**
   * Stops ssh for good (SIGTERM, then SIGKILL after KILL_GRACE_MS); resolves when it is gone.
   * `cause` says why when it is not the process ending (`autotunnel stop NAME`).
   */
  stop(cause?: Cause): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.endWait();
    this.reachability.leave();
    this.cancelQueue?.();
    this.cancelQueue = undefined;
    const attempt = this.attempt;
    const why = cause ? { cause } : {};
    this.setState('stopping', why);
    this.stopPromise = new Promise<void>((resolve) => {
      if (!attempt || attempt.exited) {
        this.setState('stopped', why);
        resolve();
        return;
      }
      attempt.stop(() => {
        this.setState('stopped', why);
        resolve();
      });
    });
    return this.stopPromise;
  }

  // ── connecting ────────────────────────────────────────────────────────────

  private connect(): void {
    this.attemptNo++;
    const gate = this.deps.gate;
    if (!gate) {
      this.spawnAttempt(undefined);
      return;
    }
    let granted = false;
    this.cancelQueue = gate.acquire(`${this.spec.server.host}:${this.spec.server.port}`, (release) => {
      granted = true;
      this.cancelQueue = undefined;
      if (this.current === 'stopping' || this.current === 'stopped') release();
      else this.spawnAttempt(release);
    });
    if (!granted) {
      // Queued behind other tunnels' handshakes to the same server: connecting, with no ssh yet.
      this.attempt = undefined;
      this.setState('connecting', {});
    }
  }

  private spawnAttempt(release: Release | undefined): void {
    let process: SshProcess;
    try {
      process = this.deps.spawnSsh(this.command.args);
    } catch (e) {
      release?.();
      // Synchronous spawn failures are reported like an exit, so they take the same path.
      this.afterExit(undefined, { code: null, signal: null, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    const readiness = new ForwardReadiness(this.spec.forwards, this.spec.ssh.addsRemoteForwards, this.command.readyMarker);
    const attempt = new Attempt(process, readiness, this.deps.clock, release, this.jumps);
    this.attempt = attempt;
    process.onLine((line) => this.onLine(attempt, line));
    process.onExit((exit) => this.afterExit(attempt, exit));
    if (this.current !== 'connecting') this.setState('connecting', { pid: process.pid });
    else this.notice('debug', `handshake slot granted: ssh started (pid ${process.pid})`, { pid: process.pid });

    const deadline = this.spec.connectTimeoutSec * 1000 + HANDSHAKE_GRACE_MS;
    after(this.deps.clock, deadline, attempt.signal, () => {
      if (this.current === 'connecting') {
        attempt.kill(makeCause('handshake_timeout', `ssh did not bring the tunnel up within ${Math.round(deadline / 1000)} s`));
      }
    });
    const { processState } = this.deps;
    if (processState && process.pid !== undefined) {
      const { intervalSec, countMax } = this.spec.keepalive;
      watchForStuck(process.pid, processState, intervalSec * (countMax + 1) * 1000, this.deps.clock, attempt.signal, (cause) => attempt.kill(cause, 'SIGKILL'));
    }
  }

  private onLine(attempt: Attempt, raw: string): void {
    const line = parseSshLine(raw);
    this.events.emit({ type: 'ssh', tunnel: this.name, at: this.deps.clock.now(), line: line.text, debug: line.debug });
    attempt.causes.observe(line);
    if (line.progress && !attempt.signal.aborted) this.onProgress(attempt, line.progress);
  }

  private onProgress(attempt: Attempt, p: SshProgress): void {
    switch (p.type) {
      case 'tcp_connecting':
        attempt.address = p.address;
        if (attempt.connectingAt !== undefined) break;
        attempt.connectingAt = this.deps.clock.now();
        // Through a jump host or proxy, ssh's own connect does not go to the server.
        if (!this.spec.ssh.proxied) this.reachability.onConnecting(attempt.signal);
        break;
      case 'tcp_connected':
        if (this.spec.ssh.proxied) break;
        this.reachability.onConnected(attempt.connectingAt === undefined ? undefined : this.deps.clock.now() - attempt.connectingAt);
        // The link is back after a failure: the session before it may still hold our -R ports on
        // the server; abort its orphaned socket here so that a RST tells the server it is gone.
        if (this.failedBefore && attempt.address) this.deps.abortOrphans?.(attempt.address, this.spec.server.port);
        break;
      case 'host_key':
        attempt.hostKeyFingerprint = p.fingerprint;
        break;
      case 'host_key_added':
        this.notice('warn', `trusted the ${this.isJumpHostPattern(p.hostPattern) ? 'jump host' : 'server'}'s ${p.keyType} host key on first use: ${attempt.hostKeyFingerprint ?? '(fingerprint not reported)'} for ${p.hostPattern}; a different key will be refused from now on`, {
          fingerprint: attempt.hostKeyFingerprint,
          host: p.hostPattern,
        });
        break;
      case 'remote_port_allocated':
        if (attempt.readiness.trusted) this.notice('info', `the server allocated port ${p.port} for the remote forward to ${p.target}`, { port: p.port });
        break;
      case 'authenticated':
        // sshd's MaxStartups counts unauthenticated connections only: the next handshake may start.
        attempt.releaseSlot();
        break;
      default:
        break;
    }
    this.advance(attempt, attempt.readiness.observe(p));
  }

  /** Acts on what readiness says: probe the local listeners, or the tunnel is up. */
  private advance(attempt: Attempt, step: ReadinessStep): void {
    if (this.current !== 'connecting' || attempt.signal.aborted) return;
    if (step === 'ready') this.becomeUp(attempt);
    else if (step === 'probe-local') {
      void confirmListening(attempt.readiness.localForwards, this.deps, attempt.signal).then((ok) => {
        if (ok) this.advance(attempt, attempt.readiness.confirmLocal());
      });
    }
  }

  private becomeUp(attempt: Attempt): void {
    const now = this.deps.clock.now();
    attempt.releaseSlot();
    attempt.wasUp = true;
    this.upSince = now;
    this.failedBefore = false;
    this.drops.reset();
    const allocated = attempt.readiness.allocated;
    this.setState('up', { pid: attempt.process.pid, connectMs: now - attempt.startedAt, allocatedPorts: allocated.length ? [...allocated] : undefined });
    after(this.deps.clock, this.spec.backoff.stableAfterMs, attempt.signal, () => {
      this.failures = 0;
    });
    const { monitor } = this.spec;
    if (monitor && this.deps.probeMonitor) {
      watchMonitor(monitor, this.deps.probeMonitor, this.deps.clock, attempt.signal, (cause) => attempt.kill(cause));
    }
  }

  // ── after ssh exits ───────────────────────────────────────────────────────

  private afterExit(attempt: Attempt | undefined, exit: SshExit): void {
    if (attempt) {
      if (!attempt.ended()) return;
      if (attempt.onGone) {
        attempt.onGone();
        return;
      }
      if (this.attempt !== attempt) return;
    }
    if (this.current === 'stopping' || this.current === 'stopped') return;

    const now = this.deps.clock.now();
    const wasUp = attempt?.wasUp ?? false;
    const upForMs = wasUp && this.upSince !== undefined ? now - this.upSince : undefined;
    this.upSince = undefined;
    this.failedBefore = true;
    const random = this.deps.random();
    const raw = attempt?.killCause ?? attempt?.causes.cause ?? exitCause(exit, attempt?.causes.unexplained);

    // The server did not answer at all: its scout looks again soon, the other tunnels to it wait
    // for its word. Such failures do not lengthen the backoff: once the server answers again, the
    // next failure waits as if the outage had not happened (issue 12).
    if (!this.spec.ssh.proxied && tcpLevelFailure(raw)) {
      this.drops.reset();
      const cause = withHint(raw, this.command.hints);
      const scout = this.reachability.onUnreachable(random);
      // Not the scout: wait for its word, or the longest backoff should it never come.
      const delayMs = scout === 'wait' ? this.spec.backoff.maxMs : raw.code === 'connect_stalled' ? 0 : scout;
      this.setState('backoff', { cause, delayMs, upForMs });
      this.startWait(delayMs);
      return;
    }

    if (raw.code !== 'connection_dropped') {
      this.drops.reset();
      this.failures++;
    }
    const cause = withHint(raw.code === 'connection_dropped' ? this.drops.dropped(raw, now) : raw, this.command.hints);
    const delayMs = retryDelayMs({ failures: Math.max(1, this.failures), wasUp, cause, policy: this.spec.backoff, random, drops: this.drops.count });
    this.setState('backoff', { cause, delayMs, upForMs });
    this.startWait(delayMs);
  }

  /** The backoff wait: its timer, or the server's scout (see reachability.ts), ends it. */
  private startWait(delayMs: number): void {
    if (delayMs <= 0) {
      this.connect();
      return;
    }
    const wait = new AbortController();
    this.wait = wait;
    after(this.deps.clock, delayMs, wait.signal, () => {
      this.endWait();
      this.connect();
    });
  }

  /** Whether a known_hosts pattern ssh printed ("[h]:p" or "h") is one of the jump hosts. */
  private isJumpHostPattern(pattern: string): boolean {
    return this.jumps.some((j) => pattern === (j.port === 22 ? j.host : `[${j.host}]:${j.port}`));
  }

  private serverAnswersAgain(why: 'answered' | 'scout'): void {
    if (this.current !== 'backoff') return;
    const { host, port } = this.spec.server;
    this.notice('info', why === 'answered' ? `the server ${host}:${port} answers again: connecting now` : `the tunnel that was looking for ${host}:${port} stopped: this one looks now`);
    this.endWait();
    this.connect();
  }

  private endWait(): void {
    this.reachability.stopWaiting();
    this.wait?.abort();
    this.wait = undefined;
  }

  // ── events ────────────────────────────────────────────────────────────────

  private setState(to: TunnelState, extra: Pick<StateChange, 'cause' | 'delayMs' | 'pid' | 'connectMs' | 'upForMs' | 'allocatedPorts'>): void {
    const from = this.current;
    this.current = to;
    this.events.emit({ type: 'state', tunnel: this.name, at: this.deps.clock.now(), from, to, attempt: this.attemptNo, ...compact(extra) });
  }

  private notice(level: Notice['level'], message: string, fields?: Record<string, unknown>): void {
    this.events.emit({ type: 'notice', tunnel: this.name, at: this.deps.clock.now(), level, message, ...(fields ? { fields } : {}) });
  }
}
