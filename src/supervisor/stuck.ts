/**
 * A stopped ssh (SIGSTOP, a debugger, a frozen cgroup) sends no keepalive and notices nothing:
 * the tunnel would be reported up while nothing flows (issue 11). ssh's process state is looked
 * at four times per keepalive budget (every 2 s at the defaults); stopped or in uninterruptible
 * sleep for as long as that budget would take to find a dead link, it is reported stuck.
 */
import { makeCause, type Cause } from '../ssh/causes.js';
import { after, type Clock } from './world.js';

/**
 * Between looks: a quarter of the budget, within these bounds. Every second cost 100 idle tunnels
 * about 0.3 % of a core (bench: 0.9–1.2 % with it, 0.2 % before); a quarter of the budget finds a
 * stopped ssh at most a quarter late.
 */
export const STUCK_CHECK_MIN_MS = 1_000;
export const STUCK_CHECK_MAX_MS = 5_000;
/** /proc/PID/stat states: T stopped, t stopped by a tracer, D uninterruptible sleep. */
const STUCK_STATES = new Set(['T', 't', 'D']);

/** A process's state letter ('S', 'T'…), or undefined when unknown (gone, no /proc). */
export type ProcessState = (pid: number) => string | undefined;

/** Calls `onStuck` once if `pid` stays stuck for `budgetMs`; ends with `scope`. */
export function watchForStuck(pid: number, state: ProcessState, budgetMs: number, clock: Clock, scope: AbortSignal, onStuck: (cause: Cause) => void): void {
  let stuckSince: number | undefined;
  const every = Math.min(STUCK_CHECK_MAX_MS, Math.max(STUCK_CHECK_MIN_MS, budgetMs / 4));
  const look = () => {
    const s = state(pid);
    const now = clock.now();
    if (s === undefined || !STUCK_STATES.has(s)) stuckSince = undefined;
    else if ((stuckSince ??= now) + budgetMs <= now) {
      const how = s === 'D' ? 'blocked in the kernel (uninterruptible sleep)' : 'stopped (SIGSTOP or a debugger)';
      onStuck(makeCause('ssh_stuck', `ssh (pid ${pid}) has been ${how} for ${Math.round((now - stuckSince) / 1000)} s: nothing flows through the tunnel; replacing it`));
      return;
    }
    after(clock, every, scope, look);
  };
  after(clock, every, scope, look);
}
