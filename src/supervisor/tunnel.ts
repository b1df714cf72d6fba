/**
 * One supervised ssh: spawns it, decides when the tunnel is really up, and restarts it on any
 * exit, forever. Clock, spawning and TCP probes are injected (see ports.ts), so every path here
 * is unit-tested on a fake clock.
 */
import type { Forward, TunnelSpec } from '../config/spec.js';
import { connectAddress } from '../net/address.js';
import { makeCause, withHint, type Cause, type HintContext } from '../ssh/causes.js';
import { CauseTracker, parseSshLine, type SshProgress } from '../ssh/stderr.js';
import { retryDelayMs } from './backoff.js';
import { Emitter, type Notice, type TunnelEvent, type TunnelState } from './events.js';
import type { Clock, ProbeTcp, SpawnSsh, SshExit, SshProcess, TimerHandle } from './ports.js';
import type { HandshakeGate, Release } from './handshake-gate.js';

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
/** Time allowed on top of ConnectTimeout for authentication and the forwards to be confirmed. */
export const HANDSHAKE_GRACE_MS = 20_000;
/** Between attempts to connect to a local forward ssh said it listens on. */
export const LOCAL_PROBE_RETRY_MS = 200;
/** SIGTERM first; SIGKILL if ssh is still there after this long. */
export const KILL_GRACE_MS = 1_000;

export interface TunnelDeps {
  clock: Clock;
  spawnSsh: SpawnSsh;
  probeTcp: ProbeTcp;
  random: () => number;
  /** The ssh arguments for this tunnel (built once: the spec does not change under a Tunnel). */
  args: string[];
  /** Used to add the right fix to causes (file names, ports). */
  hintContext: HintContext;
  /** True when ssh does not connect straight to the server (ProxyJump/ProxyCommand). */
  indirect?: boolean;
  /** True when extra ssh arguments add -R forwards, so readiness waits for every reply. */
  extraRemoteForwards?: boolean;
  /** Limits concurrent handshakes per server; absent → no limit. */
  gate?: HandshakeGate;
  /**
   * An end-to-end check run while up (autossh's -M monitor): when it fails, ssh is restarted.
   * `check` resolves false when no answer came back through the tunnel.
   */
  liveness?: { firstAfterMs: number; everyMs: number; what: string; check: () => Promise<boolean> };
  /** Connects to a Unix socket a local forward listens on; absent → such forwards count as up when ssh says so. */
  probeUnix?: (path: string, timeoutMs: number) => Promise<boolean>;
}

export interface TunnelStatus {
  name: string;
  state: TunnelState;
  since: number;
  attempt: number;
  /** ssh processes started after the first. */
  restarts: number;
  failures: number;
  lastCause?: Cause;
  pid?: number;
  upSince?: number;
  lastUpAt?: number;
  nextAttemptAt?: number;
  allocatedPorts?: number[];
  hostKeyFingerprint?: string;
}

/** What one ssh run has shown so far. */
interface Attempt {
  process: SshProcess;
  startedAt: number;
  causes: CauseTracker;
  /** When ssh said it was connecting (its connect() began); undefined before. */
  connectingAt?: number;
  tcpConnected: boolean;
  /** Ports and socket paths ssh said it listens on. */
  localListening: Set<number | string>;
  sessionStarted: boolean;
  localConfirmed: boolean;
  localProbing: boolean;
  remoteOk: number;
  allRemoteOk: boolean;
  allocated: number[];
  /** Set when we killed ssh ourselves: this is the cause, whatever ssh printed. */
  killCause?: Cause;
  exited: boolean;
  wasUp: boolean;
  timers: TimerHandle[];
  /** Set by stop(): resolves once ssh is gone. */
  onGone?: () => void;
  /** The handshake slot, given back once up or gone. */
  release?: Release;
}

export class Tunnel {
  readonly name: string;
  readonly events = new Emitter<TunnelEvent>();
  private state: TunnelState = 'starting';
  private since: number;
  private attemptNo = 0;
  private failures = 0;
  private current: Attempt | undefined;
  private lastCause: Cause | undefined;
  private upSince: number | undefined;
  private lastUpAt: number | undefined;
  private nextAttemptAt: number | undefined;
  private hostKeyFingerprint: string | undefined;
  private allocatedPorts: number[] = [];
  private waitTimers: TimerHandle[] = [];
  /** Increments whenever a backoff wait ends, so a late probe answer cannot act on a newer wait. */
  private waitGeneration = 0;
  private stopPromise: Promise<void> | undefined;
  /** Cancels a wait for a handshake slot. */
  private cancelQueue: (() => void) | undefined;
  private readonly localForwards: Forward[];
  private readonly remoteForwards: Forward[];

  constructor(
    readonly spec: TunnelSpec,
    private readonly deps: TunnelDeps,
  ) {
    this.name = spec.name;
    this.since = deps.clock.now();
    this.localForwards = spec.forwards.filter((f) => f.kind !== 'remote');
    this.remoteForwards = spec.forwards.filter((f) => f.kind === 'remote');
  }

  status(): TunnelStatus {
    return {
      name: this.name,
      state: this.state,
      since: this.since,
      attempt: this.attemptNo,
      restarts: Math.max(0, this.attemptNo - 1),
      failures: this.failures,
      ...(this.lastCause ? { lastCause: this.lastCause } : {}),
      ...(this.current?.process.pid !== undefined && !this.current.exited ? { pid: this.current.process.pid } : {}),
      ...(this.upSince !== undefined ? { upSince: this.upSince } : {}),
      ...(this.lastUpAt !== undefined ? { lastUpAt: this.lastUpAt } : {}),
      ...(this.nextAttemptAt !== undefined ? { nextAttemptAt: this.nextAttemptAt } : {}),
      ...(this.allocatedPorts.length ? { allocatedPorts: [...this.allocatedPorts] } : {}),
      ...(this.hostKeyFingerprint ? { hostKeyFingerprint: this.hostKeyFingerprint } : {}),
    };
  }

  get currentState(): TunnelState {
    return this.state;
  }

  /** Starts connecting; a tunnel with `enabled: false` goes to "disabled" unless `evenIfDisabled`. */
  start(opts: { evenIfDisabled?: boolean } = {}): void {
    if (this.state !== 'starting') return;
    if (this.spec.enabled === false && !opts.evenIfDisabled) {
      this.stopPromise = Promise.resolve();
      this.setState('disabled', {});
      return;
    }
    this.connect();
  }

  /** Retry now (SIGUSR1): skips a backoff wait, or restarts a running ssh, as autossh does. */
  retryNow(reason = 'retry requested'): void {
    const cause = makeCause('retry_requested', reason);
    if (this.state === 'backoff') {
      this.notice('info', `${reason}: connecting now instead of waiting`);
      this.endWait();
      this.connect();
    } else if ((this.state === 'connecting' || this.state === 'up') && this.current) {
      this.notice('info', `${reason}: restarting ssh`);
      this.killAttempt(this.current, cause);
    }
  }

  /**
   * Stops ssh for good (SIGTERM, then SIGKILL after KILL_GRACE_MS); resolves when it is gone.
   * `cause` says why when it is not the process ending (`autotunnel stop NAME`).
   */
  stop(cause?: Cause): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.endWait();
    this.cancelQueue?.();
    this.cancelQueue = undefined;
    const attempt = this.current;
    const why = cause ? { cause } : {};
    this.setState('stopping', why);
    this.stopPromise = new Promise<void>((resolve) => {
      if (!attempt || attempt.exited || this.current !== attempt) {
        this.setState('stopped', why);
        resolve();
        return;
      }
      attempt.onGone = () => {
        this.setState('stopped', why);
        resolve();
      };
      this.clearAttemptTimers(attempt);
      attempt.process.kill('SIGTERM');
      this.attemptTimer(attempt, KILL_GRACE_MS, () => attempt.exited || attempt.process.kill('SIGKILL'));
    });
    return this.stopPromise;
  }

  // ── connecting ────────────────────────────────────────────────────────────

  private connect(): void {
    this.nextAttemptAt = undefined;
    this.attemptNo++;
    const gate = this.deps.gate;
    if (!gate) {
      this.spawnAttempt(undefined);
      return;
    }
    let granted = false;
    const key = `${this.spec.server.host}:${this.spec.server.port}`;
    this.cancelQueue = gate.acquire(key, (release) => {
      granted = true;
      this.cancelQueue = undefined;
      if (this.state === 'stopping' || this.state === 'stopped') release();
      else this.spawnAttempt(release);
    });
    if (!granted) {
      // Queued behind other tunnels' handshakes to the same server.
      this.current = undefined;
      this.setState('connecting', {});
    }
  }

  private spawnAttempt(release: Release | undefined): void {
    let process: SshProcess;
    try {
      process = this.deps.spawnSsh(this.deps.args);
    } catch (e) {
      release?.();
      // Synchronous spawn failures are reported like an exit, so they take the same path.
      this.afterExit(undefined, { code: null, signal: null, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    const attempt: Attempt = {
      process,
      startedAt: this.deps.clock.now(),
      causes: new CauseTracker(),
      tcpConnected: false,
      localListening: new Set(),
      sessionStarted: false,
      localConfirmed: this.localForwards.length === 0,
      localProbing: false,
      remoteOk: 0,
      allRemoteOk: false,
      allocated: [],
      exited: false,
      wasUp: false,
      timers: [],
      ...(release ? { release } : {}),
    };
    this.current = attempt;
    this.allocatedPorts = [];
    process.onLine((line) => this.onLine(attempt, line));
    process.onExit((exit) => this.afterExit(attempt, exit));
    if (this.state !== 'connecting') this.setState('connecting', { pid: process.pid });
    else this.notice('debug', `handshake slot granted: ssh started (pid ${process.pid})`, { pid: process.pid });

    const deadline = this.spec.connectTimeoutSec * 1000 + HANDSHAKE_GRACE_MS;
    this.attemptTimer(attempt, deadline, () => {
      if (this.current === attempt && this.state === 'connecting') {
        this.killAttempt(attempt, makeCause('handshake_timeout', `ssh did not bring the tunnel up within ${Math.round(deadline / 1000)} s`));
      }
    });
    if (!this.deps.indirect) {
      this.attemptTimer(attempt, STALL_CHECK_AFTER_MS, () => this.watchForStall(attempt));
    }
  }

  private onLine(attempt: Attempt, raw: string): void {
    const line = parseSshLine(raw);
    this.events.emit({ type: 'ssh', tunnel: this.name, at: this.deps.clock.now(), line: line.text, debug: line.debug });
    attempt.causes.observe(line);
    if (line.progress) this.onProgress(attempt, line.progress);
  }

  private onProgress(attempt: Attempt, p: SshProgress): void {
    switch (p.type) {
      case 'tcp_connecting':
        attempt.connectingAt ??= this.deps.clock.now();
        break;
      case 'tcp_connected':
        attempt.tcpConnected = true;
        break;
      case 'host_key':
        this.hostKeyFingerprint = p.fingerprint;
        break;
      case 'host_key_added':
        this.notice('warn', `trusted the server's ${p.keyType} host key on first use: ${this.hostKeyFingerprint ?? '(fingerprint not reported)'} for ${p.hostPattern}; a different key will be refused from now on`, {
          fingerprint: this.hostKeyFingerprint,
          host: p.hostPattern,
        });
        break;
      case 'local_listening':
        attempt.localListening.add(p.port);
        break;
      case 'local_listening_path':
        attempt.localListening.add(p.path);
        break;
      case 'remote_forward_ok':
        attempt.remoteOk++;
        break;
      case 'remote_port_allocated':
        attempt.allocated.push(p.port);
        this.allocatedPorts = [...attempt.allocated];
        this.notice('info', `the server allocated port ${p.port} for the remote forward to ${p.target}`, { port: p.port });
        break;
      case 'all_forwards_ok':
        attempt.allRemoteOk = true;
        break;
      case 'session_started':
        attempt.sessionStarted = true;
        break;
      case 'authenticated':
        // sshd's MaxStartups counts unauthenticated connections only: the next handshake may start.
        attempt.release?.();
        break;
    }
    this.checkReady(attempt);
  }

  /**
   * Up means every forward works: ssh got past forwarding setup with every local listener bound
   * (and the port accepts a connection), and the server confirmed every -R.
   */
  private checkReady(attempt: Attempt): void {
    if (this.current !== attempt || this.state !== 'connecting') return;
    // With ExitOnForwardFailure ssh confirms every -R ("remote forward success"), then says
    // "forwarding_success"; a port-0 forward is only useful once its allocated port is known.
    const allocatedDone = attempt.allocated.length >= this.remoteForwards.filter((f) => f.bindPort === 0 && !f.bindSocket).length;
    const remoteDone =
      allocatedDone &&
      (this.deps.extraRemoteForwards ? attempt.allRemoteOk : attempt.allRemoteOk || attempt.remoteOk >= this.remoteForwards.length);
    if (!attempt.localConfirmed) {
      const allListening = this.localForwards.every((f) => attempt.localListening.has(f.bindSocket ?? f.bindPort));
      if (allListening && attempt.sessionStarted && !attempt.localProbing) {
        attempt.localProbing = true;
        void this.confirmLocal(attempt);
      }
      return;
    }
    if (remoteDone) this.becomeUp(attempt);
  }

  /** ssh says it listens; check the port really accepts before calling the tunnel up. */
  private async confirmLocal(attempt: Attempt): Promise<void> {
    for (;;) {
      const results = await Promise.all(
        this.localForwards.map((f) =>
          f.bindSocket
            ? (this.deps.probeUnix?.(f.bindSocket, PROBE_TIMEOUT_MS) ?? Promise.resolve(true))
            : this.deps.probeTcp(connectAddress(f.bindAddress), f.bindPort, PROBE_TIMEOUT_MS),
        ),
      );
      if (this.current !== attempt || attempt.exited || this.state !== 'connecting') return;
      if (results.every(Boolean)) {
        attempt.localConfirmed = true;
        this.checkReady(attempt);
        return;
      }
      // ssh said it listens, yet the port refused: look again shortly; the handshake deadline bounds this.
      await new Promise<void>((resolve) => this.attemptTimer(attempt, LOCAL_PROBE_RETRY_MS, resolve));
      if (this.current !== attempt || attempt.exited || this.state !== 'connecting') return;
    }
  }

  private becomeUp(attempt: Attempt): void {
    const now = this.deps.clock.now();
    attempt.release?.();
    attempt.wasUp = true;
    this.upSince = now;
    this.lastUpAt = now;
    this.lastCause = undefined;
    this.setState('up', {
      pid: attempt.process.pid,
      connectMs: now - attempt.startedAt,
      ...(attempt.allocated.length ? { allocatedPorts: [...attempt.allocated] } : {}),
    });
    this.attemptTimer(attempt, this.spec.backoff.stableAfterMs, () => {
      if (this.current === attempt && this.state === 'up') this.failures = 0;
    });
    const liveness = this.deps.liveness;
    if (liveness) {
      const schedule = (ms: number) =>
        this.attemptTimer(attempt, ms, () => {
          if (this.current !== attempt || this.state !== 'up') return;
          void liveness.check().then((ok) => {
            if (this.current !== attempt || this.state !== 'up') return;
            if (ok) schedule(liveness.everyMs);
            else this.killAttempt(attempt, makeCause('monitor_failed', `the ${liveness.what} got no answer through the tunnel: the connection is dead`));
          });
        });
      schedule(liveness.firstAfterMs);
    }
  }

  /**
   * While ssh's TCP connect is pending, probe the server (see probeServer): if a fresh connect
   * gets through quickly while ssh's has been stuck for seconds, ssh's SYN was lost during an
   * outage and the kernel would make it wait for the next retransmission — restart it now.
   */
  private watchForStall(attempt: Attempt): void {
    if (this.current !== attempt || attempt.tcpConnected || attempt.exited || this.state !== 'connecting') return;
    this.probeServer(
      () => this.current === attempt && !attempt.tcpConnected && !attempt.exited && this.state === 'connecting',
      (ms, fn) => this.attemptTimer(attempt, ms, fn),
      (ok, tookMs) => {
        // Pending measured from ssh's own "Connecting to": an ssh that has not even started to
        // connect (a machine starved of CPU by many handshakes) is slow, not stalled.
        const pendingMs = attempt.connectingAt === undefined ? 0 : this.deps.clock.now() - attempt.connectingAt;
        if (ok && pendingMs >= STALL_MIN_PENDING_MS && tookMs < PROBE_TIMEOUT_MS) {
          this.killAttempt(attempt, makeCause('connect_stalled', 'the server answers again, but ssh\'s connection attempt from during the outage is still waiting: restarting it'));
          return true;
        }
        return false;
      },
    );
  }

  /**
   * Probes the server's port until `active()` turns false or `onResult` returns true. While it
   * does not answer, a new probe starts every FAST_PROBE_EVERY_MS without waiting for the last
   * one (a refusal is a RST from a port where nothing listens; a dropped SYN goes nowhere: no
   * sshd ever runs for either); once it answers, one probe a second.
   */
  private probeServer(active: () => boolean, timer: (ms: number, fn: () => void) => void, onResult: (ok: boolean, tookMs: number) => boolean): void {
    const { host, port } = this.spec.server;
    let inFlight = 0;
    let answered = false;
    let done = false;
    const tick = () => {
      if (done || !active()) return;
      if (inFlight < MAX_PROBES_IN_FLIGHT) {
        inFlight++;
        const started = this.deps.clock.now();
        void this.deps.probeTcp(host, port, PROBE_TIMEOUT_MS).then((ok) => {
          inFlight--;
          if (done || !active()) return;
          answered = ok;
          if (onResult(ok, this.deps.clock.now() - started)) done = true;
        });
      }
      timer(answered ? PROBE_INTERVAL_MS : FAST_PROBE_EVERY_MS, tick);
    };
    tick();
  }

  // ── after ssh exits ───────────────────────────────────────────────────────

  private killAttempt(attempt: Attempt, cause: Cause): void {
    if (attempt.exited || attempt.killCause) return;
    attempt.killCause = cause;
    attempt.process.kill('SIGTERM');
    this.attemptTimer(attempt, KILL_GRACE_MS, () => attempt.exited || attempt.process.kill('SIGKILL'));
  }

  private afterExit(attempt: Attempt | undefined, exit: SshExit): void {
    if (attempt) {
      if (attempt.exited) return;
      attempt.exited = true;
      attempt.release?.();
      this.clearAttemptTimers(attempt);
      if (attempt.onGone) {
        attempt.onGone();
        return;
      }
      if (this.current !== attempt) return;
    }
    if (this.state === 'stopping' || this.state === 'stopped') return;

    const now = this.deps.clock.now();
    const wasUp = attempt?.wasUp ?? false;
    const cause = withHint(attempt?.killCause ?? attempt?.causes.cause ?? exitCause(exit), this.deps.hintContext);
    this.lastCause = cause;
    this.failures++;
    const upForMs = wasUp && this.upSince !== undefined ? now - this.upSince : undefined;
    this.upSince = undefined;
    const delayMs = retryDelayMs({ failures: this.failures, wasUp, cause, policy: this.spec.backoff, random: this.deps.random() });
    this.nextAttemptAt = now + delayMs;
    this.setState('backoff', { cause, delayMs, ...(upForMs !== undefined ? { upForMs } : {}) });
    this.wait(delayMs, cause);
  }

  /** The backoff wait; network causes also watch for the server to come back. */
  private wait(delayMs: number, cause: Cause): void {
    const generation = ++this.waitGeneration;
    if (delayMs <= 0) {
      this.connect();
      return;
    }
    this.waitTimers.push(
      this.deps.clock.setTimer(delayMs, () => {
        if (this.waitGeneration !== generation || this.state !== 'backoff') return;
        this.endWait();
        this.connect();
      }),
    );
    if (cause.kind === 'network') this.watchForReturn(generation, cause);
  }

  /** Retries at once when the server's port answers a plain connect after having not. */
  private watchForReturn(generation: number, cause: Cause): void {
    const { host, port } = this.spec.server;
    // ssh's own TCP connect just got no answer (refused, unreachable, timed out): that counts.
    let sawUnreachable = tcpLevelFailure(cause);
    this.probeServer(
      () => this.waitGeneration === generation && this.state === 'backoff',
      (ms, fn) => this.waitTimer(ms, fn),
      (ok) => {
        if (!ok) {
          sawUnreachable = true;
          return false;
        }
        if (!sawUnreachable) return false;
        this.notice('info', `the server ${host}:${port} answers again: connecting now`);
        this.endWait();
        this.connect();
        return true;
      },
    );
  }

  /** A timer of the current backoff wait: cleared when the wait ends, forgotten once it fires. */
  private waitTimer(ms: number, fn: () => void): void {
    const handle = this.deps.clock.setTimer(ms, () => {
      this.waitTimers = this.waitTimers.filter((t) => t !== handle);
      fn();
    });
    this.waitTimers.push(handle);
  }

  private endWait(): void {
    this.waitGeneration++;
    for (const t of this.waitTimers) this.deps.clock.clearTimer(t);
    this.waitTimers = [];
    this.nextAttemptAt = undefined;
  }

  /** A timer that belongs to one ssh run: cleared when it ends, forgotten once it fires. */
  private attemptTimer(attempt: Attempt, ms: number, fn: () => void): void {
    const handle = this.deps.clock.setTimer(ms, () => {
      attempt.timers = attempt.timers.filter((t) => t !== handle);
      fn();
    });
    attempt.timers.push(handle);
  }

  private clearAttemptTimers(attempt: Attempt): void {
    for (const t of attempt.timers) this.deps.clock.clearTimer(t);
    attempt.timers = [];
  }

  // ── events ────────────────────────────────────────────────────────────────

  private setState(to: TunnelState, extra: { cause?: Cause; delayMs?: number; pid?: number | undefined; connectMs?: number; upForMs?: number; allocatedPorts?: number[] }): void {
    const from = this.state;
    this.state = to;
    this.since = this.deps.clock.now();
    const { pid, ...rest } = extra;
    this.events.emit({
      type: 'state',
      tunnel: this.name,
      at: this.since,
      from,
      to,
      attempt: this.attemptNo,
      ...(pid !== undefined ? { pid } : {}),
      ...rest,
    });
  }

  private notice(level: Notice['level'], message: string, fields?: Record<string, unknown>): void {
    this.events.emit({ type: 'notice', tunnel: this.name, at: this.deps.clock.now(), level, message, ...(fields ? { fields } : {}) });
  }
}

/** ssh's TCP connect itself failed (not a slow SSH handshake on a port that accepts). */
function tcpLevelFailure(cause: Cause): boolean {
  if (cause.code === 'connection_refused' || cause.code === 'no_route') return true;
  return cause.code === 'connect_timeout' && !/banner exchange/.test(cause.line ?? '');
}

function exitCause(exit: SshExit): Cause {
  if (exit.error) return makeCause('spawn_failed', `ssh could not be started: ${exit.error}`, { hint: 'install the OpenSSH client (apt-get install openssh-client) or set AUTOTUNNEL_SSH to its path' });
  if (exit.signal) return makeCause('killed', `ssh was killed by ${exit.signal}`);
  if (exit.code === 0) return makeCause('exited', 'ssh exited normally (code 0): something outside autotunnel stopped it');
  return makeCause('exited', `ssh exited with code ${exit.code} without saying why`);
}
