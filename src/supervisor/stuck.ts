/**
 * A stopped ssh (SIGSTOP, a debugger, a frozen cgroup) sends no keepalive and notices nothing:
 * the tunnel would be reported up while nothing flows (issue 11). ssh's process state is looked
 * at every second; stopped or in uninterruptible sleep for as long as the keepalive budget would
 * take to find a dead link, it is reported stuck.
 */
import { makeCause, type Cause } from '../ssh/causes.js';
import { after, type Clock } from './world.js';

export const STUCK_CHECK_EVERY_MS = 1_000;
/** /proc/PID/stat states: T stopped, t stopped by a tracer, D uninterruptible sleep. */
const STUCK_STATES = new Set(['T', 't', 'D']);

/** A process's state letter ('S', 'T'…), or undefined when unknown (gone, no /proc). */
export type ProcessState = (pid: number) => string | undefined;

/** Calls `onStuck` once if `pid` stays stuck for `budgetMs`; ends with `scope`. */
export function watchForStuck(pid: number, state: ProcessState, budgetMs: number, clock: Clock, scope: AbortSignal, onStuck: (cause: Cause) => void): void {
  let stuckSince: number | undefined;
  const look = () => {
    const s = state(pid);
    const now = clock.now();
    if (s === undefined || !STUCK_STATES.has(s)) stuckSince = undefined;
    else if ((stuckSince ??= now) + budgetMs <= now) {
      const how = s === 'D' ? 'blocked in the kernel (uninterruptible sleep)' : 'stopped (SIGSTOP or a debugger)';
      onStuck(makeCause('ssh_stuck', `ssh (pid ${pid}) has been ${how} for ${Math.round((now - stuckSince) / 1000)} s: nothing flows through the tunnel; replacing it`));
      return;
    }
    after(clock, STUCK_CHECK_EVERY_MS, scope, look);
  };
  after(clock, STUCK_CHECK_EVERY_MS, scope, look);
}
