/**
 * How long to wait before the next attempt. Exponential with jitter, capped; a tunnel that
 * was up and then dropped retries at once; causes that will not fix themselves go straight to
 * the cap so a wrong key never hammers the server.
 */
import type { BackoffSpec } from '../config/spec.js';
import type { Cause, CauseCode } from '../ssh/causes.js';

/**
 * Lower caps for causes that clear up on their own: a stale -R listener is freed as soon as
 * the server drops its dead session, so we look again every second (one handshake a second
 * while the server holds it; bench/: with a 5 s cap the tunnel came back up to 4.2 s after the
 * server had freed the port, with 1 s within 1.1 s).
 */
const CAUSE_CAP_MS: Partial<Record<CauseCode, number>> = {
  remote_forward_failed: 1_000,
};

export interface DelayInput {
  /** Consecutive failed attempts, this one included (≥ 1). */
  failures: number;
  /** Whether the attempt that just ended had brought the tunnel up. */
  wasUp: boolean;
  cause: Cause;
  policy: BackoffSpec;
  /** A number in [0, 1). */
  random: number;
}

export function retryDelayMs({ failures, wasUp, cause, policy, random }: DelayInput): number {
  const cap = Math.min(policy.maxMs, CAUSE_CAP_MS[cause.code] ?? Infinity);
  if (cause.code === 'connect_stalled' || cause.code === 'retry_requested') return 0;
  if (cause.kind === 'permanent') return Math.round(policy.maxMs * (1 - policy.jitter * random));
  if (failures <= 1 && wasUp) return 0;
  const base = policy.initialMs * policy.multiplier ** Math.max(0, failures - 1);
  const jittered = base * (1 + policy.jitter * (2 * random - 1));
  return Math.round(Math.min(cap, jittered));
}
