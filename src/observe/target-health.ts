/**
 * Turns what ssh says about forwarded connections into "target" events: the link may be fine
 * while the service behind it is not, and ssh is never restarted for that.
 *
 * Trust: before the server's host key is verified, anything on ssh's stderr could have been
 * provoked by whoever answers the connection (issue 11). A tunnel is "up" only after ssh
 * authenticated and set up its forwards, so only lines read while the tunnel is up count.
 */
import type { Emitter, TunnelEvent, TunnelState } from '../supervisor/events.js';
import { TargetLineReader } from '../ssh/target-lines.js';

interface Watched {
  state: TunnelState;
  /** One per ssh run (channel numbers are per connection). */
  reader: TargetLineReader;
  /** The last report; undefined before any. */
  ok?: boolean;
}

/** Subscribes to `events` and emits a TargetReport on it for each verdict; returns the unsubscribe. */
export function watchTargets(events: Emitter<TunnelEvent>, now: () => number = Date.now): () => void {
  const tunnels = new Map<string, Watched>();
  return events.on((e) => {
    if (e.type === 'removed') {
      tunnels.delete(e.tunnel);
      return;
    }
    if (e.type === 'state') {
      const w = tunnels.get(e.tunnel);
      if (!w) tunnels.set(e.tunnel, { state: e.to, reader: new TargetLineReader() });
      else {
        w.state = e.to;
        if (e.to === 'connecting') w.reader = new TargetLineReader();
      }
      return;
    }
    if (e.type !== 'ssh') return;
    const w = tunnels.get(e.tunnel);
    if (!w || w.state !== 'up') return;
    const verdict = w.reader.read(e.line);
    if (!verdict) return;
    const before = w.ok;
    w.ok = verdict.ok;
    // A stream of successes says nothing new; every failure is counted.
    if (verdict.ok && before === true) return;
    // Worth a log line: the target failing after it worked (or at first), or working again after failing.
    const changed = verdict.ok ? before === false : before !== false;
    events.emit({
      type: 'target',
      tunnel: e.tunnel,
      at: now(),
      ok: verdict.ok,
      changed,
      ...(verdict.ok ? {} : { summary: verdict.summary, line: verdict.line }),
    });
  });
}
