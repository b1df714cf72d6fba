/**
 * `check: {tcp: true, every: 30s}`: while a tunnel is up, open a connection through each of its
 * TCP -L forwards (and -D forwards, asking the SOCKS proxy for `check.target`) now and then, so
 * that a target that went away is noticed before a user's connection finds out. The verdict is
 * ssh's own (see ssh/target-lines.ts): this only makes ssh open a channel and closes it again;
 * no byte reaches the target.
 */
import { connect } from 'node:net';
import { checkable } from '../config/file-operate.js';
import type { TunnelEvent } from '../supervisor/events.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { connectAddress } from '../net/address.js';
import { realClock, type Clock, type TimerHandle } from '../supervisor/world.js';

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
    const check = spec.check;
    const forwards = spec.forwards.filter((f) => checkable(f, check));
    const tick = () => {
      for (const f of forwards) openAndClose(connectAddress(f.bindAddress), f.bindPort, f.kind === 'dynamic' ? check.socksTarget : undefined);
      timers.set(e.tunnel, clock.setTimer(check.everyMs, tick));
    };
    timers.set(e.tunnel, clock.setTimer(FIRST_CHECK_AFTER_MS, tick));
  });
  return () => {
    unsubscribe();
    for (const name of [...timers.keys()]) cancel(name);
  };
}

/**
 * Connects (through SOCKS5 to `socks` when given), waits for ssh to close the connection (the
 * target refused) or CHECK_HOLD_MS, then closes.
 */
function openAndClose(host: string, port: number, socks?: { host: string; port: number }): void {
  const socket = connect({ host, port });
  if (socks) {
    // No authentication, then CONNECT by name (ssh resolves it on the server, as for a user's connection).
    const name = Buffer.from(socks.host);
    socket.once('connect', () => socket.write(Buffer.from([5, 1, 0])));
    socket.once('data', () => {
      // ssh answers the SOCKS request before the server answers the channel: hold on until then.
      socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([socks.port >> 8, socks.port & 255])]));
    });
  } else socket.on('data', () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), CHECK_HOLD_MS);
  timer.unref();
  socket.on('error', () => undefined);
  socket.on('close', () => clearTimeout(timer));
  socket.on('end', () => socket.destroy());
}
