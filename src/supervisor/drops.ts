/**
 * Connections sshd closes before its banner, counted in a row: a few at random mean MaxStartups
 * (retried after short random waits, see backoff.ts); all of them for seconds mean sshd drops
 * every connection from this address (OpenSSH >= 9.8 PerSourcePenalties), which gets its own
 * cause and fix.
 */
import { makeCause, type Cause } from '../ssh/causes.js';

/** Drops in a row, and over this long, that mean a penalised address rather than chance. */
export const PENALTY_AFTER_DROPS = 4;
export const PENALTY_AFTER_MS = 5_000;

export class DropCounter {
  private drops = 0;
  private firstDropAt = 0;

  /** Connections dropped in a row, the last one included. */
  get count(): number {
    return this.drops;
  }

  /** One more drop (`dropped`: its cause); returns the cause to report, server_penalty once it is one. */
  dropped(dropped: Cause, now: number): Cause {
    if (this.drops++ === 0) this.firstDropAt = now;
    const forMs = now - this.firstDropAt;
    if (this.drops < PENALTY_AFTER_DROPS || forMs < PENALTY_AFTER_MS) return dropped;
    return makeCause(
      'server_penalty',
      `the server has closed every connection before the SSH handshake for ${Math.round(forMs / 1000)} s (${this.drops} in a row): it most likely penalises this address (OpenSSH ≥ 9.8 PerSourcePenalties)`,
      dropped.line !== undefined ? { line: dropped.line } : {},
    );
  }

  /** Anything but a drop ends the run. */
  reset(): void {
    this.drops = 0;
  }
}
