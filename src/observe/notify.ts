/**
 * When to tell someone: "down" once a tunnel has been down for a receiver's `after` (a blip is
 * not a page), "back up" with how long it was down — only to receivers that were told "down".
 * Fed by the supervisor's events like every other observer; it only decides and hands the
 * message to `deliver`, which must not block (see adapters/webhook.ts).
 */
import { hostname } from 'node:os';
import type { NotifyFormat, NotifyReceiver } from '../config/notify-settings.js';
import type { Cause } from '../ssh/causes.js';
import type { TunnelEvent } from '../supervisor/events.js';
import type { Clock, TimerHandle } from '../supervisor/world.js';
import { formatDuration } from './format.js';

export interface Notification {
  kind: 'down' | 'up' | 'test';
  tunnel: string;
  at: number;
  /** Why it is (or was) down. */
  cause?: Cause;
  /** down: for how long so far; up: how long it was down. */
  downForMs?: number;
  /** down: how long it had been up before (absent when it never came up since start). */
  upForMs?: number;
}

export interface NotifierOptions {
  receivers: NotifyReceiver[];
  clock: Clock;
  /** Queues the message for one receiver; returns at once. */
  deliver: (receiver: NotifyReceiver, n: Notification) => void;
}

interface Outage {
  since: number;
  upForMs?: number;
  cause?: Cause;
  /** Receivers told "down"; the others' timers still run. */
  told: Set<NotifyReceiver>;
  timers: TimerHandle[];
}

const HOLD_STATES = new Set(['stopping', 'stopped', 'disabled']);

export class Notifier {
  private readonly outages = new Map<string, Outage>();
  private readonly upSince = new Map<string, number>();

  constructor(private readonly opts: NotifierOptions) {}

  apply(e: TunnelEvent): void {
    if (e.type === 'removed') return this.forget(e.tunnel);
    if (e.type !== 'state') return;
    if (e.to === 'up') {
      this.upSince.set(e.tunnel, e.at);
      const outage = this.outages.get(e.tunnel);
      if (!outage) return;
      this.forget(e.tunnel);
      for (const r of outage.told) this.opts.deliver(r, { kind: 'up', tunnel: e.tunnel, at: e.at, downForMs: e.at - outage.since, ...(outage.cause ? { cause: outage.cause } : {}) });
      return;
    }
    // Stopped on request, disabled, or autotunnel stopping: someone chose this; nobody is paged.
    if (HOLD_STATES.has(e.to)) {
      this.upSince.delete(e.tunnel);
      return this.forget(e.tunnel);
    }
    let outage = this.outages.get(e.tunnel);
    if (!outage) {
      const up = this.upSince.get(e.tunnel);
      this.upSince.delete(e.tunnel);
      outage = { since: e.at, told: new Set(), timers: [], ...(up !== undefined ? { upForMs: e.at - up } : {}) };
      this.outages.set(e.tunnel, outage);
      const o = outage;
      for (const r of this.opts.receivers) {
        o.timers.push(this.opts.clock.setTimer(r.afterMs, () => this.tellDown(e.tunnel, o, r)));
      }
    }
    if (e.cause) outage.cause = e.cause;
  }

  /** Cancels every pending "down" (at exit). */
  close(): void {
    for (const name of [...this.outages.keys()]) this.forget(name);
  }

  private tellDown(tunnel: string, outage: Outage, r: NotifyReceiver): void {
    if (this.outages.get(tunnel) !== outage) return;
    outage.told.add(r);
    const now = this.opts.clock.now();
    this.opts.deliver(r, {
      kind: 'down',
      tunnel,
      at: now,
      downForMs: now - outage.since,
      ...(outage.cause ? { cause: outage.cause } : {}),
      ...(outage.upForMs !== undefined ? { upForMs: outage.upForMs } : {}),
    });
  }

  private forget(tunnel: string): void {
    const outage = this.outages.get(tunnel);
    if (!outage) return;
    for (const t of outage.timers) this.opts.clock.clearTimer(t);
    this.outages.delete(tunnel);
  }
}

export interface RenderedMessage {
  contentType: string;
  body: string;
}

const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms) / 1000);

/** The one plain sentence of a notification (the text format, and Slack's "text"). */
export function notificationSentence(n: Notification, host: string): string {
  const who = `autotunnel on ${host}: tunnel ${n.tunnel}`;
  switch (n.kind) {
    case 'down': {
      const why = n.cause ? `: ${n.cause.summary}` : '';
      const fix = n.cause?.hint ? ` Fix: ${n.cause.hint}` : '';
      return `${who} is down (for ${formatDuration(n.downForMs ?? 0)})${why}.${fix}`;
    }
    case 'up':
      return `${who} is back up after ${formatDuration(n.downForMs ?? 0)} down${n.cause ? ` (${n.cause.summary})` : ''}.`;
    case 'test':
      return `autotunnel on ${host}: test message from "autotunnel notify-test"; "down" and "back up" messages will arrive like this one.`;
  }
}

/** The request body for a receiver's format. */
export function renderNotification(n: Notification, format: NotifyFormat, host: string = hostname()): RenderedMessage {
  const text = notificationSentence(n, host);
  if (format === 'text') return { contentType: 'text/plain; charset=utf-8', body: text + '\n' };
  if (format === 'slack') return { contentType: 'application/json', body: JSON.stringify({ text }) };
  return {
    contentType: 'application/json',
    body: JSON.stringify({
      tunnel: n.tunnel,
      state: n.kind,
      cause: n.cause?.code ?? null,
      summary: n.cause?.summary ?? null,
      fix: n.cause?.hint ?? null,
      downSeconds: seconds(n.downForMs),
      upSeconds: seconds(n.upForMs),
      time: new Date(n.at).toISOString(),
      host,
      text,
    }),
  };
}
