/**
 * autossh's -M monitor while a tunnel is up: a message sent through the tunnel must come back,
 * first after `firstAfterMs`, then every `everyMs`; when one does not, the connection is dead
 * even though ssh has not noticed, and ssh is restarted.
 */
import type { MonitorSpec } from '../config/spec.js';
import { makeCause, type Cause } from '../ssh/causes.js';
import { after, type Clock } from './world.js';

/** Runs the checks until `scope` (the attempt) ends; calls `dead` once, on the first failure. */
export function watchMonitor(spec: MonitorSpec, check: () => Promise<boolean>, clock: Clock, scope: AbortSignal, dead: (cause: Cause) => void): void {
  const schedule = (ms: number) =>
    after(clock, ms, scope, () => {
      void check().then((ok) => {
        if (scope.aborted) return;
        if (ok) schedule(spec.everyMs);
        else dead(makeCause('monitor_failed', `the ${spec.what} got no answer through the tunnel: the connection is dead`));
      });
    });
  schedule(spec.firstAfterMs);
}
