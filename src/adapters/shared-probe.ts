/**
 * One reachability probe per server for all its tunnels. Each waiting tunnel asks several times
 * a second whether its server answers; 100 tunnels to one server that is down would otherwise
 * send it 500 SYNs a second. A probe that started moments ago answers for everyone.
 */
import { realClock, type Clock, type ProbeTcp } from '../supervisor/world.js';

/** A result this fresh is as good as a new probe at the supervisor's fastest probing pace. */
export const SHARED_PROBE_MAX_AGE_MS = 150;

export function sharedProbe(probe: ProbeTcp, clock: Pick<Clock, 'now'> = realClock, maxAgeMs = SHARED_PROBE_MAX_AGE_MS): ProbeTcp {
  // One entry per server (host:port), overwritten each time: bounded by the number of servers.
  const recent = new Map<string, { startedAt: number; result: Promise<boolean> }>();
  return (host, port, timeoutMs) => {
    const key = `${host}:${port}`;
    const last = recent.get(key);
    if (last && clock.now() - last.startedAt < maxAgeMs) return last.result;
    const result = probe(host, port, timeoutMs);
    recent.set(key, { startedAt: clock.now(), result });
    return result;
  };
}
