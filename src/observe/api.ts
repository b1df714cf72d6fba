/**
 * The JSON of /api/tunnels, /readyz and /healthz, made from a state-store snapshot. Times are
 * ISO 8601 (UTC), durations are seconds, as in the metrics. The status page, `autotunnel status`
 * and `autotunnel health` read these same shapes.
 */
import type { Cause, CauseCode } from '../ssh/causes.js';
import type { TunnelState } from '../supervisor/events.js';
import { TIMELINE_BUCKET_MS, type Phase, type Snapshot, type TunnelSnapshot } from './state-store.js';

/** A cause as the tunnel reported it (summary, fix, ssh's own line), and when. */
export type ApiCause = Cause & { at: string };

export interface ApiTunnel {
  name: string;
  description?: string;
  required: boolean;
  state: TunnelState;
  up: boolean;
  /** When it last came up or went down ("down since"), however many attempts passed since. */
  since: string;
  /** Seconds since then. */
  forSeconds: number;
  /** When the current state (connecting, backoff, …) began. */
  stateSince: string;
  attempt: number;
  restarts: number;
  restartsByCause: Partial<Record<CauseCode, number>>;
  lastCause: ApiCause | null;
  backoffSeconds: number | null;
  nextAttemptAt: string | null;
  upSince: string | null;
  lastConnectSeconds: number | null;
  pid: number | null;
  allocatedPorts: number[];
  /** Share of the observed part of the last hour spent up (0–1). */
  uptimeRatio: number | null;
  /**
   * Seconds spent in each of `phases` per minute, oldest first; the last is the current minute,
   * null where nothing was observed. Arrays, not objects: 100 tunnels × 60 minutes add up.
   */
  timeline: { start: string; bucketSeconds: number; phases: Phase[]; buckets: Array<number[] | null> };
  /** Disabled, or stopped on request: readiness does not wait for it. */
  held: boolean;
  /** What ssh said of forwarded connections: reachable null before any; the link may be up while the target is not. */
  target: { reachable: boolean | null; errors: number; lastError: { summary: string; line?: string; at: string } | null; lastOkAt: string | null };
}

export interface ApiTunnels {
  version: string;
  now: string;
  startedAt: string;
  ready: boolean;
  readiness: string;
  live: boolean;
  /** Whether POST /api/tunnels/NAME/{start,stop,restart} are turned on (a control token is configured). */
  control: boolean;
  tunnels: ApiTunnel[];
}

export interface ApiReadiness {
  ready: boolean;
  message: string;
  tunnels: Array<Pick<ApiTunnel, 'name' | 'required' | 'state' | 'up' | 'since' | 'lastCause'>>;
}

export interface ApiLiveness {
  live: boolean;
  message: string;
  uptimeSeconds: number;
  stuck: Array<{ tunnel: string; state: TunnelState; forSeconds: number }>;
}

const PHASES: Phase[] = ['up', 'connecting', 'down', 'stopped'];
const iso = (ms: number) => new Date(ms).toISOString();
const seconds = (ms: number) => Math.round(ms) / 1000;

export function tunnelsJson(s: Snapshot, version: string, control = false): ApiTunnels {
  return {
    version,
    now: iso(s.now),
    startedAt: iso(s.startedAt),
    ready: s.readiness.ready,
    readiness: s.readiness.message,
    live: s.liveness.live,
    control,
    tunnels: s.tunnels.map((t) => tunnelJson(t, s.now)),
  };
}

function tunnelJson(t: TunnelSnapshot, now: number): ApiTunnel {
  return {
    name: t.info.name,
    ...(t.info.description ? { description: t.info.description } : {}),
    required: t.info.required,
    state: t.state,
    up: t.state === 'up',
    since: iso(t.statusSince),
    forSeconds: seconds(now - t.statusSince),
    stateSince: iso(t.since),
    attempt: t.attempt,
    restarts: t.restarts,
    restartsByCause: t.restartsByCause,
    lastCause: causeJson(t),
    backoffSeconds: t.state === 'backoff' && t.backoffMs !== undefined ? seconds(t.backoffMs) : null,
    nextAttemptAt: t.nextAttemptAt !== undefined ? iso(t.nextAttemptAt) : null,
    upSince: t.upSince !== undefined ? iso(t.upSince) : null,
    lastConnectSeconds: t.lastConnectMs !== undefined ? seconds(t.lastConnectMs) : null,
    pid: t.pid ?? null,
    allocatedPorts: t.allocatedPorts ?? [],
    uptimeRatio: t.uptimeRatio ?? null,
    timeline: {
      start: iso(t.timelineStart),
      bucketSeconds: TIMELINE_BUCKET_MS / 1000,
      phases: PHASES,
      buckets: t.timeline.map((b) => b && PHASES.map((p) => seconds(b[p]))),
    },
    held: t.held,
    target: {
      reachable: t.target.reachable ?? null,
      errors: t.target.errors,
      lastError: t.target.lastError ? { ...t.target.lastError, at: iso(t.target.lastError.at) } : null,
      lastOkAt: t.target.lastOkAt !== undefined ? iso(t.target.lastOkAt) : null,
    },
  };
}

function causeJson(t: TunnelSnapshot): ApiCause | null {
  if (!t.lastCause) return null;
  const { at, ...cause } = t.lastCause;
  return { ...cause, at: iso(at) };
}

export function readinessJson(s: Snapshot): ApiReadiness {
  return {
    ready: s.readiness.ready,
    message: s.readiness.message,
    tunnels: s.tunnels.map((t) => ({ name: t.info.name, required: t.info.required, state: t.state, up: t.state === 'up', since: iso(t.statusSince), lastCause: causeJson(t) })),
  };
}

export function livenessJson(s: Snapshot): ApiLiveness {
  return {
    live: s.liveness.live,
    message: s.liveness.message,
    uptimeSeconds: seconds(s.now - s.startedAt),
    stuck: s.liveness.stuck.map((x) => ({ tunnel: x.tunnel, state: x.state, forSeconds: seconds(x.forMs) })),
  };
}
