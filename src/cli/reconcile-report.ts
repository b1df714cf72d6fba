/** Applying a set of specs at start and at reload, and saying what could not be applied. */
import type { TunnelSpec } from '../config/spec.js';
import type { Logger } from '../observe/logger.js';
import type { ReconcileResult, Supervised, Supervisor } from '../supervisor/supervisor.js';

/**
 * At start every tunnel must be buildable: the first failure stops the start (its error decides
 * the exit code), after undoing what the others created (key copies).
 */
export async function startTunnels(supervisor: Supervisor, specs: TunnelSpec[], build: (spec: TunnelSpec) => Supervised): Promise<void> {
  const r = await supervisor.reconcile(specs, build);
  const first = r.failed[0];
  if (first) {
    await supervisor.stopAll();
    throw first.error;
  }
}

/** At a reload, each tunnel that could not be built is logged by name, with what keeps running. */
export function logReconcileFailures(logger: Logger, why: string, r: ReconcileResult): void {
  for (const f of r.failed) {
    const what = f.kept ? 'its previous version keeps running' : 'it is not running';
    const reason = f.error instanceof Error ? f.error.message : String(f.error);
    logger.log('error', `${why}: tunnel ${f.name} could not be ${f.kept ? 'changed' : 'started'} (${reason}); ${what} — fix the cause, then reload again (SIGHUP)`, { tunnel: f.name });
  }
}
