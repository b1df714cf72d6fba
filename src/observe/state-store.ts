/**
 * What every tunnel is doing, built from the supervisor's state events alone. This is the one
 * subscriber behind the API, readiness, liveness, metrics and the status page: they all read
 * the same snapshot, so they cannot disagree. Memory is fixed per tunnel: the last hour is kept
 * as per-minute totals, not as a list of transitions a flapping tunnel would grow without end.
 */
import type { Cause, CauseCode } from '../ssh/causes.js';
import { compact, type StateChange, type TargetReport, type TunnelEvent, type TunnelState } from '../supervisor/events.js';
import { STATE_WORDS, formatDuration } from './format.js';

/** The timeline: one bucket a minute for the last hour. */
export const TIMELINE_BUCKET_MS = 60_000;
export const TIMELINE_BUCKETS = 60;
/** Upper bounds of the connect-duration histogram, in seconds (loopback ≈ 0.1 s, far servers ≈ 1–3 s, the handshake deadline is 30 s). */
export const CONNECT_BUCKETS_SECONDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
/**
 * Slack before a tunnel that should have moved on counts as stuck (a lost timer, a wedged
 * loop): far beyond any scheduling delay, so liveness never fails on a merely busy machine.
 */
export const STUCK_GRACE_MS = 60_000;
/** How long stopping may take before it counts as stuck (stop() escalates to SIGKILL after 1 s). */
export const STOPPING_LIMIT_MS = 10_000;

/** What the timeline distinguishes: a person reads green, amber, red, grey. */
export type Phase = 'up' | 'connecting' | 'down' | 'stopped';
export type PhaseTotals = Record<Phase, number>;

const PHASE_OF: Record<TunnelState, Phase> = {
  starting: 'connecting',
  connecting: 'connecting',
  up: 'up',
  backoff: 'down',
  stopping: 'stopped',
  stopped: 'stopped',
  disabled: 'stopped',
};

/** What the observers know of a tunnel beyond its events (from its spec). */
export interface TunnelInfo {
  name: string;
  /** Whether readiness waits for it. */
  required: boolean;
  /** e.g. "-L 127.0.0.1:8080:db:5432 via deploy@bastion:22". */
  description?: string;
  /** `ready_requires_target`: readiness also waits for the target to have been reached. */
  requiresTarget?: boolean;
}

/** What ssh said about the tunnel's forwarded connections (see target-health.ts). */
export interface TargetHealth {
  /** Forwarded connections whose target could not be reached, since start. */
  errors: number;
  /** Whether the last forwarded connection reached its target; undefined before any. */
  reachable?: boolean;
  lastError?: { summary: string; line?: string; at: number };
  lastOkAt?: number;
}

export interface StoreOptions {
  now: () => number;
  /** The tunnels already there, in the state they are in (since: when it began; default: now). */
  initial: Array<TunnelInfo & { state: TunnelState; since?: number }>;
  /** What to know of a tunnel that appears later (added by a configuration reload). */
  lookup: (name: string) => TunnelInfo | undefined;
}

export interface ConnectHistogram {
  /** Per bucket of CONNECT_BUCKETS_SECONDS, then +Inf; not cumulative. */
  counts: number[];
  sumSeconds: number;
  count: number;
}

export interface TunnelSnapshot {
  info: TunnelInfo;
  state: TunnelState;
  /** When the current state began (an outage passes through many: connecting, backoff, …). */
  since: number;
  /** When the tunnel last came up or went down: what a person means by "down since". */
  statusSince: number;
  attempt: number;
  /** Times ssh ended and was (or, after the backoff, will be) started again. */
  restarts: number;
  restartsByCause: Partial<Record<CauseCode, number>>;
  /** Why it last went down, kept while it is up again so a person sees what happened. */
  lastCause?: Cause & { at: number };
  /** backoff: the wait chosen, and when it ends. */
  backoffMs?: number;
  nextAttemptAt?: number;
  pid?: number;
  upSince?: number;
  lastConnectMs?: number;
  allocatedPorts?: number[];
  connect: ConnectHistogram;
  /** Oldest first; the last is the current minute; null where nothing was observed. */
  timeline: Array<PhaseTotals | null>;
  /** Start of the first timeline bucket. */
  timelineStart: number;
  /** Share of the observed part of the last hour spent up; undefined before anything was observed. */
  uptimeRatio?: number;
  /** Disabled, or stopped on request: readiness does not wait for it. */
  held: boolean;
  target: TargetHealth;
}

export interface Readiness {
  ready: boolean;
  /** One line saying why, for `autotunnel health` and the page header. */
  message: string;
}

export interface Liveness {
  live: boolean;
  message: string;
  stuck: Array<{ tunnel: string; state: TunnelState; forMs: number }>;
}

export interface Snapshot {
  now: number;
  startedAt: number;
  tunnels: TunnelSnapshot[];
  readiness: Readiness;
  liveness: Liveness;
}

interface Slot {
  minute: number;
  ms: PhaseTotals;
}

/** The live record behind a TunnelSnapshot; the snapshot adds what is derived from it. */
interface Entry extends Omit<TunnelSnapshot, 'restarts' | 'restartsByCause' | 'timeline' | 'timelineStart' | 'uptimeRatio' | 'held'> {
  restartsByCause: Map<CauseCode, number>;
  /** A ring indexed by minute number modulo TIMELINE_BUCKETS. */
  slots: Array<Slot | undefined>;
  heldBy?: 'disabled' | 'stopped';
}

export class StateStore {
  private readonly entries = new Map<string, Entry>();
  readonly startedAt: number;

  constructor(private readonly opts: StoreOptions) {
    this.startedAt = opts.now();
    for (const t of opts.initial) this.addTunnel(t, t.state, t.since ?? this.startedAt);
  }

  /** Feed every supervisor event here; only state changes and removals matter. */
  apply(event: TunnelEvent): void {
    if (event.type === 'state') this.applyState(event);
    else if (event.type === 'target') this.applyTarget(event);
    else if (event.type === 'removed') this.entries.delete(event.tunnel);
  }

  snapshot(): Snapshot {
    const now = this.opts.now();
    const tunnels = [...this.entries.values()].map((e) => snapshotOf(e, now));
    return { now, startedAt: this.startedAt, tunnels, readiness: readinessOf(tunnels, now), liveness: livenessOf(tunnels, now) };
  }

  private addTunnel(info: TunnelInfo, state: TunnelState, since: number): Entry {
    const entry: Entry = {
      info,
      state,
      since,
      statusSince: since,
      attempt: 0,
      restartsByCause: new Map(),
      connect: { counts: new Array<number>(CONNECT_BUCKETS_SECONDS.length + 1).fill(0), sumSeconds: 0, count: 0 },
      slots: new Array<Slot | undefined>(TIMELINE_BUCKETS).fill(undefined),
      target: { errors: 0 },
    };
    this.entries.set(info.name, entry);
    return entry;
  }

  private applyState(e: StateChange): void {
    const entry = this.entries.get(e.tunnel) ?? this.addTunnel(this.opts.lookup(e.tunnel) ?? { name: e.tunnel, required: true }, e.from, e.at);
    addSpan(entry.slots, entry.since, e.at, PHASE_OF[entry.state]);
    if ((e.to === 'up') !== (entry.state === 'up')) entry.statusSince = e.at;
    entry.state = e.to;
    entry.since = e.at;
    entry.attempt = e.attempt;
    entry.pid = e.to === 'connecting' || e.to === 'up' ? e.pid : undefined;
    entry.backoffMs = e.to === 'backoff' ? e.delayMs : undefined;
    entry.nextAttemptAt = e.to === 'backoff' && e.delayMs !== undefined ? e.at + e.delayMs : undefined;
    if (e.to === 'up') {
      entry.upSince = e.at;
      entry.allocatedPorts = e.allocatedPorts;
      if (e.connectMs !== undefined) {
        entry.lastConnectMs = e.connectMs;
        observe(entry.connect, e.connectMs / 1000);
      }
    } else entry.upSince = undefined;
    entry.heldBy = e.to === 'disabled' || (e.to === 'stopped' && e.cause?.code === 'stopped_by_request') ? e.to : undefined;
    if (e.to === 'backoff' && e.cause) {
      entry.lastCause = { ...e.cause, at: e.at };
      entry.restartsByCause.set(e.cause.code, (entry.restartsByCause.get(e.cause.code) ?? 0) + 1);
    }
  }

  private applyTarget(e: TargetReport): void {
    const entry = this.entries.get(e.tunnel);
    if (!entry) return;
    entry.target.reachable = e.ok;
    if (e.ok) entry.target.lastOkAt = e.at;
    else {
      entry.target.errors++;
      entry.target.lastError = { summary: e.summary ?? 'the target could not be reached', ...(e.line ? { line: e.line } : {}), at: e.at };
    }
  }
}

function observe(h: ConnectHistogram, seconds: number): void {
  const i = CONNECT_BUCKETS_SECONDS.findIndex((le) => seconds <= le);
  h.counts[i === -1 ? CONNECT_BUCKETS_SECONDS.length : i]!++;
  h.sumSeconds += seconds;
  h.count++;
}

/** Adds [from, to) spent in `phase` to the per-minute ring, split at minute boundaries. */
export function addSpan(slots: Array<Slot | undefined>, from: number, to: number, phase: Phase): void {
  // Older than the window is dropped; a clock stepping back adds nothing.
  let t = Math.max(from, to - TIMELINE_BUCKETS * TIMELINE_BUCKET_MS);
  while (t < to) {
    const minute = Math.floor(t / TIMELINE_BUCKET_MS);
    const end = Math.min(to, (minute + 1) * TIMELINE_BUCKET_MS);
    const at = minute % TIMELINE_BUCKETS;
    let slot = slots[at];
    if (!slot || slot.minute !== minute) slots[at] = slot = { minute, ms: { up: 0, connecting: 0, down: 0, stopped: 0 } };
    slot.ms[phase] += end - t;
    t = end;
  }
}

function snapshotOf(e: Entry, now: number): TunnelSnapshot {
  // The current state has not ended yet: count it up to now on a copy of the ring.
  const slots = e.slots.map((s) => (s ? { minute: s.minute, ms: { ...s.ms } } : undefined));
  addSpan(slots, e.since, now, PHASE_OF[e.state]);
  const current = Math.floor(now / TIMELINE_BUCKET_MS);
  const timeline: Array<PhaseTotals | null> = [];
  const total: PhaseTotals = { up: 0, connecting: 0, down: 0, stopped: 0 };
  for (let minute = current - TIMELINE_BUCKETS + 1; minute <= current; minute++) {
    const slot = slots[minute % TIMELINE_BUCKETS];
    const ms = slot && slot.minute === minute ? slot.ms : undefined;
    timeline.push(ms && ms.up + ms.connecting + ms.down + ms.stopped > 0 ? ms : null);
    if (ms) for (const p of Object.keys(total) as Phase[]) total[p] += ms[p];
  }
  const observed = total.up + total.connecting + total.down;
  const restarts = [...e.restartsByCause.values()].reduce((a, b) => a + b, 0);
  return compact({
    info: e.info,
    state: e.state,
    since: e.since,
    statusSince: e.statusSince,
    attempt: e.attempt,
    restarts,
    restartsByCause: Object.fromEntries(e.restartsByCause),
    connect: { counts: [...e.connect.counts], sumSeconds: e.connect.sumSeconds, count: e.connect.count },
    timeline,
    timelineStart: (current - TIMELINE_BUCKETS + 1) * TIMELINE_BUCKET_MS,
    uptimeRatio: observed > 0 ? total.up / observed : undefined,
    lastCause: e.lastCause,
    backoffMs: e.backoffMs,
    nextAttemptAt: e.nextAttemptAt,
    pid: e.pid,
    upSince: e.upSince,
    lastConnectMs: e.lastConnectMs,
    allocatedPorts: e.allocatedPorts?.length ? [...e.allocatedPorts] : undefined,
    held: e.heldBy !== undefined,
    target: { ...e.target, ...(e.target.lastError ? { lastError: { ...e.target.lastError } } : {}) },
  });
}

/**
 * Ready when every required tunnel is up (none required: nothing to wait for), and, for those
 * with `ready_requires_target`, its last forwarded connection reached the target. A tunnel
 * disabled or stopped on request is not waited for: someone chose to have it down.
 */
export function readinessOf(tunnels: TunnelSnapshot[], now: number): Readiness {
  const required = tunnels.filter((t) => t.info.required && !t.held);
  const notUp = required.filter((t) => t.state !== 'up' || (t.info.requiresTarget && t.target.reachable !== true));
  if (notUp.length === 0) {
    return { ready: true, message: required.length ? `ready: ${countOf(required.length)} up` : 'ready: no tunnel is required' };
  }
  const why = notUp.map((t) => describeNotUp(t, now)).join('; ');
  return { ready: false, message: `not ready: ${required.length - notUp.length} of ${countOf(required.length)} up; ${why}` };
}

function countOf(n: number): string {
  return n === 1 ? '1 required tunnel' : `${n} required tunnels`;
}

function describeNotUp(t: TunnelSnapshot, now: number): string {
  if (t.state === 'up') return `${t.info.name} up, ${t.target.lastError && t.target.reachable === false ? `target unreachable: ${t.target.lastError.summary}` : 'target not reached yet'}`;
  const since = formatDuration(now - t.statusSince);
  if (t.lastCause && (t.state === 'backoff' || t.state === 'connecting')) return `${t.info.name} down for ${since} (${t.lastCause.summary})`;
  return `${t.info.name} ${STATE_WORDS[t.state]} for ${since}`;
}

/**
 * Alive unless a tunnel sits in a state it should have left long ago: a backoff past its end,
 * a stop that never finished. A remote host being down never counts: the tunnel keeps cycling
 * through connecting and backoff. A long "connecting" does not count either: it may be queued
 * behind other tunnels' handshakes to the same server, and the tunnel has its own deadline.
 */
export function livenessOf(tunnels: TunnelSnapshot[], now: number): Liveness {
  const stuck: Liveness['stuck'] = [];
  for (const t of tunnels) {
    const forMs = now - t.since;
    const overdue =
      (t.state === 'backoff' && t.nextAttemptAt !== undefined && now > t.nextAttemptAt + STUCK_GRACE_MS) ||
      (t.state === 'stopping' && forMs > STOPPING_LIMIT_MS);
    if (overdue) stuck.push({ tunnel: t.info.name, state: t.state, forMs });
  }
  if (stuck.length === 0) return { live: true, message: `alive: supervising ${tunnels.length === 1 ? '1 tunnel' : `${tunnels.length} tunnels`}`, stuck };
  const list = stuck.map((s) => `${s.tunnel} ${STATE_WORDS[s.state]} for ${formatDuration(s.forMs)}`).join('; ');
  return { live: false, message: `supervision is stuck: ${list}`, stuck };
}
