/** The state of one tunnel and the events every observer (logs, metrics, status) is fed from. */
import type { Cause } from '../ssh/causes.js';

/**
 * - starting: created, not yet started.
 * - connecting: an attempt is under way: ssh runs and the forwards are not confirmed yet, or it
 *   waits for a handshake slot (see handshake-gate.ts) and no ssh runs yet (no pid).
 * - up: every forward is confirmed working.
 * - backoff: ssh is gone; waiting before the next attempt.
 * - stopping: ssh is being stopped for good.
 * - stopped: nothing runs, nothing will (at exit, or `autotunnel stop NAME`: cause stopped_by_request).
 * - disabled: defined with `enabled: false`; never started.
 */
export const TUNNEL_STATES = ['starting', 'connecting', 'up', 'backoff', 'stopping', 'stopped', 'disabled'] as const;
export type TunnelState = (typeof TUNNEL_STATES)[number];

export interface StateChange {
  type: 'state';
  tunnel: string;
  at: number;
  from: TunnelState;
  to: TunnelState;
  /** Why the tunnel left "up"/"connecting" or why it waits. */
  cause?: Cause;
  /** backoff: how long until the next attempt. */
  delayMs?: number;
  /** connecting: which attempt (1 = first). */
  attempt: number;
  /** connecting/up: the ssh process. */
  pid?: number;
  /** up: time from spawning ssh to confirmed forwards. */
  connectMs?: number;
  /** leaving up: how long it had been up. */
  upForMs?: number;
  /** up: ports the server allocated for -R forwards with port 0. */
  allocatedPorts?: number[];
}

export interface Notice {
  type: 'notice';
  tunnel: string;
  at: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: Record<string, unknown>;
}

/** A line ssh printed, for observers that want it (debug logging). */
export interface SshOutput {
  type: 'ssh';
  tunnel: string;
  at: number;
  line: string;
  debug: boolean;
}

/** The tunnel is no longer supervised (removed from the configuration); it was stopped first. */
export interface TunnelRemoved {
  type: 'removed';
  tunnel: string;
  at: number;
  /** Removed to make way for its changed version (a reload), not dropped from the configuration. */
  replaced?: boolean;
}

/**
 * What ssh said about a forwarded connection of a tunnel that is up: its target was reached
 * (ok) or not. Only lines from an ssh already up count (see observe/target-health.ts).
 */
export interface TargetReport {
  type: 'target';
  tunnel: string;
  at: number;
  ok: boolean;
  /** Not ok: the cause in plain words, and ssh's line. */
  summary?: string;
  line?: string;
  /** A failure after success (or the first one), a success after failure: worth a log line. */
  changed: boolean;
}

export type TunnelEvent = StateChange | Notice | SshOutput | TunnelRemoved | TargetReport;

export type Listener<T> = (event: T) => void;

/** A list of listeners; an observer that throws is isolated from the supervisor. */
export class Emitter<T> {
  private listeners: Listener<T>[] = [];
  on(listener: Listener<T>): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  emit(event: T): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        // A broken observer must not take supervision down with it.
        console.error(`autotunnel: an event observer failed: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }
}

/**
 * The object without its undefined fields. Events and snapshots carry only the fields that
 * apply (tsconfig's exactOptionalPropertyTypes is off), so a deep comparison or `'pid' in e`
 * sees the same as a reader of e.pid.
 */
export function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
