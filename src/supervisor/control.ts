/**
 * Stop, start or restart one tunnel of a running autotunnel without touching the others.
 *
 * - stop: ssh is stopped and the tunnel stays stopped (state "stopped", cause
 *   stopped_by_request) until `start`, or until a reload CHANGES its definition: an edited
 *   tunnel is a new tunnel, and it starts (unless the new definition says `enabled: false`).
 *   A reload that leaves its definition as it was leaves it stopped.
 * - start: a stopped or disabled tunnel gets a fresh ssh (a disabled one runs until the next
 *   change of its definition or the next start of autotunnel); a running one is left alone.
 * - restart: a running tunnel's ssh is restarted now (as SIGUSR1 does for all); a stopped or
 *   disabled one is started.
 */
import type { TunnelSpec } from '../config/spec.js';
import { makeCause } from '../ssh/causes.js';
import type { TunnelState } from './events.js';
import type { Supervised, Supervisor } from './supervisor.js';

export type ControlAction = 'start' | 'stop' | 'restart';
export const CONTROL_ACTIONS: readonly ControlAction[] = ['start', 'stop', 'restart'];

export interface ControlResult {
  /** HTTP-like: 200 done, 404 no such tunnel, 500 it could not be done. */
  status: 200 | 404 | 500;
  message: string;
  state?: TunnelState;
}

const HELD: ReadonlySet<TunnelState> = new Set(['stopping', 'stopped', 'disabled']);

export class TunnelControl {
  /** One action at a time: a stop and a start of the same tunnel must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly supervisor: Supervisor,
    private readonly rebuild: (spec: TunnelSpec) => Supervised,
  ) {}

  act(name: string, action: ControlAction): Promise<ControlResult> {
    const next = this.queue.then(() => this.run(name, action));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async run(name: string, action: ControlAction): Promise<ControlResult> {
    const tunnel = this.supervisor.get(name);
    if (!tunnel) {
      const names = this.supervisor.list().map((t) => t.name);
      return { status: 404, message: `no tunnel named "${name}"; the tunnels are: ${names.join(', ') || '(none)'}` };
    }
    const state = tunnel.state;
    const held = HELD.has(state);
    if (action === 'stop') {
      if (held) return { status: 200, message: `${name} is already ${state}`, state };
      await tunnel.stop(makeCause('stopped_by_request', 'stopped on request (autotunnel stop); it stays stopped until started, or until a reload changes its definition'));
      return { status: 200, message: `${name} stopped; it stays stopped until "autotunnel start ${name}"`, state: tunnel.state };
    }
    if (!held) {
      if (action === 'start') return { status: 200, message: `${name} is already running (${state})`, state };
      tunnel.retryNow('restart requested (autotunnel restart)');
      return { status: 200, message: `${name}: ssh restarted`, state: tunnel.state };
    }
    let built: Supervised;
    try {
      built = this.rebuild(tunnel.spec);
    } catch (e) {
      return { status: 500, message: `${name} could not be started: ${e instanceof Error ? e.message : String(e)}` };
    }
    await this.supervisor.replace(built, { evenIfDisabled: true });
    return { status: 200, message: `${name} started`, state: built.tunnel.state };
  }
}
