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

/**
 * A connection sshd closed before its banner (MaxStartups, PerSourcePenalties) is retried after
 * a random wait, widening with each drop in a row: 20 processes reconnecting at once to one
 * sshd (MaxStartups 10:30:100) lose about a third of their connections; spread over 0.1–0.5 s,
 * then 0.1–0.9 s, …, they get through within a few rounds instead of escalating in lock-step.
 */
export const DROP_MIN_MS = 100;
export const DROP_SPREAD_MS = 400;
const DROP_SPREAD_MAX_FACTOR = 8;
/**
 * A penalised address is dropped until the penalty decays (15 s to 10 min); a dropped
 * connection adds nothing to it (sshd drops it before starting a session), so looking every
 * few seconds costs nothing and finds the end of it soon.
 */
export const PENALTY_RETRY_MS = 5_000;

export interface DelayInput {
  /** Consecutive failed attempts, this one included (≥ 1). */
  failures: number;
  /** Whether the attempt that just ended had brought the tunnel up. */
  wasUp: boolean;
  cause: Cause;
  policy: BackoffSpec;
  /** A number in [0, 1). */
  random: number;
  /** Connections dropped before the banner in a row, this one included (for connection_dropped). */
  drops?: number;
}

export function retryDelayMs({ failures, wasUp, cause, policy, random, drops }: DelayInput): number {
  const cap = Math.min(policy.maxMs, CAUSE_CAP_MS[cause.code] ?? Infinity);
  if (cause.code === 'connect_stalled' || cause.code === 'retry_requested') return 0;
  if (cause.code === 'connection_dropped') {
    const factor = Math.min(DROP_SPREAD_MAX_FACTOR, 2 ** Math.max(0, (drops ?? 1) - 1));
    return Math.round(Math.min(cap, DROP_MIN_MS + DROP_SPREAD_MS * factor * random));
  }
  if (cause.code === 'server_penalty') return Math.round(Math.min(policy.maxMs, PENALTY_RETRY_MS * (1 + policy.jitter * (2 * random - 1))));
  if (cause.kind === 'permanent') return Math.round(policy.maxMs * (1 - policy.jitter * random));
  if (failures <= 1 && wasUp) return 0;
  const base = policy.initialMs * policy.multiplier ** Math.max(0, failures - 1);
  const jittered = base * (1 + policy.jitter * (2 * random - 1));
  return Math.round(Math.min(cap, jittered));
}
