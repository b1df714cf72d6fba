/**
 * One ssh run: what it has shown so far, and the two scopes that end with it — what it started
 * (timers, probes, the monitor), and the SIGKILL escalation that lasts until ssh has exited.
 */
import { makeCause, type Cause } from '../ssh/causes.js';
import { CauseTracker } from '../ssh/stderr.js';
import type { JumpHost } from '../ssh/jump.js';
import type { Release } from './handshake-gate.js';
import type { ForwardReadiness } from './readiness.js';
import { terminate } from './terminate.js';
import type { Clock, SshExit, SshProcess } from './world.js';

export class Attempt {
  readonly startedAt: number;
  readonly causes: CauseTracker;
  /** Aborted when the run is killed, stopped or exits: ends everything it started. */
  readonly scope = new AbortController();
  /** Aborted once ssh has exited: ends the SIGKILL escalation. */
  private readonly gone = new AbortController();
  /** When ssh said it was connecting (its connect() began), and to which address; undefined before. */
  connectingAt?: number;
  address?: string;
  /** The server's host key, once ssh printed it. */
  hostKeyFingerprint?: string;
  /** Set when we killed ssh ourselves: this is the cause, whatever ssh printed. */
  killCause?: Cause;
  wasUp = false;
  /** Set by a stop: called once ssh is gone. */
  onGone?: () => void;

  constructor(
    readonly process: SshProcess,
    readonly readiness: ForwardReadiness,
    private readonly clock: Clock,
    /** The handshake slot, given back once up, authenticated or gone (giving it back twice is harmless). */
    readonly releaseSlot: Release = () => {},
    /** The tunnel's jump hosts: a failure on the way is named as the jump host's. */
    jumps: JumpHost[] = [],
  ) {
    this.startedAt = clock.now();
    this.causes = new CauseTracker(jumps);
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }

  get exited(): boolean {
    return this.gone.signal.aborted;
  }

  /** Ends the run on our initiative, reported as `cause` whatever ssh prints; once. */
  kill(cause: Cause, first: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): void {
    if (this.exited || this.killCause) return;
    this.killCause = cause;
    this.scope.abort();
    terminate(this.process, this.clock, this.gone.signal, first);
  }

  /** Ends the run for good; `onGone` is called once ssh has exited. A kill under way stands. */
  stop(onGone: () => void): void {
    this.onGone = onGone;
    this.scope.abort();
    if (!this.killCause) terminate(this.process, this.clock, this.gone.signal);
  }

  /** ssh has exited: false when that was known already. */
  ended(): boolean {
    if (this.exited) return false;
    this.gone.abort();
    this.scope.abort();
    this.releaseSlot();
    return true;
  }
}

/**
 * Why ssh ended when no rule explained it: from how it exited, and what it (or setpriv) said last
 * that no rule knows (`said`, see CauseTracker.unexplained).
 */
export function exitCause(exit: SshExit, said: string[] = []): Cause {
  if (said.length && !exit.error) {
    const words = said.join(' / ');
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    return makeCause(exit.signal ? 'killed' : 'exited', `ssh ${how}; it said: ${words}`, { line: words });
  }
  if (exit.error) return makeCause('spawn_failed', `ssh could not be started: ${exit.error}`, { hint: 'install the OpenSSH client (apt-get install openssh-client) or set AUTOTUNNEL_SSH to its path' });
  if (exit.signal) return makeCause('killed', `ssh was killed by ${exit.signal}`);
  if (exit.code === 0) return makeCause('exited', 'ssh exited normally (code 0): something outside autotunnel stopped it');
  return makeCause('exited', `ssh exited with code ${exit.code} without saying why`);
}
