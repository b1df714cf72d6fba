/**
 * `check: {tcp: true, every: 30s}`: while a tunnel is up, open a connection through each of its
 * TCP -L forwards now and then, so that a target that went away is noticed before a user's
 * connection finds out. The verdict is ssh's own (see ssh/target-lines.ts): this only makes
 * ssh open a channel and closes it again; no byte is sent.
 */
import { connect } from 'node:net';
import { checkable } from '../config/file-operate.js';
import type { TunnelEvent } from '../supervisor/events.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { connectAddress } from '../net/address.js';
import { realClock, type Clock, type TimerHandle } from '../supervisor/ports.js';

/** The first check soon after "up": readiness that waits for the target should not wait a whole period. */
export const FIRST_CHECK_AFTER_MS = 500;
/** How long a check connection stays open: long enough for the server to answer the channel open. */
export const CHECK_HOLD_MS = 2_000;

export function startTargetChecks(supervisor: Supervisor, clock: Clock = realClock): () => void {
  const timers = new Map<string, TimerHandle>();
  const cancel = (name: string) => {
    const t = timers.get(name);
    if (t) clock.clearTimer(t);
    timers.delete(name);
  };
  const unsubscribe = supervisor.events.on((e: TunnelEvent) => {
    if (e.type === 'removed') return cancel(e.tunnel);
    if (e.type !== 'state') return;
    cancel(e.tunnel);
    const spec = supervisor.get(e.tunnel)?.spec;
    if (e.to !== 'up' || !spec?.check) return;
    const forwards = spec.forwards.filter(checkable);
    const every = spec.check.everyMs;
    const tick = () => {
      for (const f of forwards) openAndClose(connectAddress(f.bindAddress), f.bindPort);
      timers.set(e.tunnel, clock.setTimer(every, tick));
    };
    timers.set(e.tunnel, clock.setTimer(FIRST_CHECK_AFTER_MS, tick));
  });
  return () => {
    unsubscribe();
    for (const name of [...timers.keys()]) cancel(name);
  };
}

/** Connects, waits for ssh to close the connection (the target refused) or CHECK_HOLD_MS, then closes. */
function openAndClose(host: string, port: number): void {
  const socket = connect({ host, port });
  const timer = setTimeout(() => socket.destroy(), CHECK_HOLD_MS);
  timer.unref();
  socket.on('error', () => undefined);
  socket.on('close', () => clearTimeout(timer));
  socket.on('end', () => socket.destroy());
  socket.on('data', () => socket.destroy());
}
