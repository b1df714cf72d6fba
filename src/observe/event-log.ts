/** Writes every tunnel event to the log: a state change with its cause, in plain words. */
import type { TunnelEvent } from '../supervisor/events.js';
import { formatLogSeconds as seconds } from './format.js';
import type { Logger } from './logger.js';

export function logTunnelEvent(logger: Logger, e: TunnelEvent): void {
  switch (e.type) {
    case 'ssh':
      // ssh's own lines are already summed up as causes; shown in full only when debugging.
      if (logger.enabled('debug')) logger.log('debug', `ssh: ${e.line}`, { tunnel: e.tunnel });
      return;
    case 'removed':
      logger.log('info', e.replaced ? 'replaced: its changed version starts now' : 'removed: no longer in the configuration', { tunnel: e.tunnel });
      return;
    case 'notice':
      logger.log(e.level, e.message, { tunnel: e.tunnel, ...e.fields });
      return;
    case 'target':
      // Once per change: a target that keeps refusing is counted in the metrics, not logged per connection.
      if (!e.changed) return;
      if (e.ok) logger.log('info', 'up, target reachable again: a forwarded connection reached it', { tunnel: e.tunnel, target: 'reachable' });
      else logger.log('warn', `up, target unreachable: ${e.summary}; the link is fine, so ssh is not restarted`, { tunnel: e.tunnel, target: 'unreachable', ssh_said: e.line });
      return;
    case 'state': {
      const base = { tunnel: e.tunnel, state: e.to, from: e.from };
      switch (e.to) {
        case 'connecting':
          logger.log('info', `connecting (attempt ${e.attempt})`, { ...base, attempt: e.attempt, pid: e.pid });
          return;
        case 'up':
          logger.log('info', `up: every forward works (connected in ${seconds(e.connectMs)})`, {
            ...base,
            attempt: e.attempt,
            pid: e.pid,
            connect_ms: e.connectMs,
            allocated_ports: e.allocatedPorts,
          });
          return;
        case 'backoff': {
          const wait = e.delayMs === 0 ? 'retrying now' : `retrying in ${seconds(e.delayMs)}`;
          const was = e.upForMs !== undefined ? ` after ${seconds(e.upForMs)} up` : '';
          const level = e.cause?.kind === 'permanent' ? 'error' : 'warn';
          logger.log(level, `down${was}: ${e.cause?.summary ?? 'ssh exited'}; ${wait}`, {
            ...base,
            cause: e.cause?.code,
            delay_ms: e.delayMs,
            up_for_ms: e.upForMs,
            ssh_said: e.cause?.line,
            fix: e.cause?.hint,
          });
          return;
        }
        case 'stopping':
          logger.log('info', 'stopping', base);
          return;
        case 'stopped':
          logger.log('info', e.cause?.code === 'stopped_by_request' ? `stopped: ${e.cause.summary}` : 'stopped', { ...base, ...(e.cause ? { cause: e.cause.code } : {}) });
          return;
        case 'disabled':
          logger.log('info', 'disabled (enabled: false): defined but not started', base);
          return;
        case 'starting':
          return;
      }
    }
  }
}
