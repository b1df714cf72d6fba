/** The common tail of every run mode: log events, serve health/metrics/status, run until a signal. */
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../observe/logger.js';
import { logTunnelEvent } from '../observe/event-log.js';
import type { HttpSettings } from '../config/settings.js';
import { startObservability } from '../observe/observability.js';
import { runUntilSignal, type LifecycleHooks } from './lifecycle.js';
import { packageVersion } from './version.js';

export interface SuperviseOptions {
  /** AUTOTUNNEL_HTTP, parsed by the caller before anything started (a bad value is exit 78). */
  http: HttpSettings;
  logger: Logger;
  /** Undone at exit, after every tunnel has stopped. */
  cleanup?: () => void;
  hooks?: LifecycleHooks;
}

export async function supervise(supervisor: Supervisor, opts: SuperviseOptions): Promise<number> {
  const { logger } = opts;
  supervisor.events.on((e) => logTunnelEvent(logger, e));
  const observability = await startObservability(supervisor, { logger, httpAddress: opts.http.address, ...(opts.http.allowedHosts ? { allowedHosts: opts.http.allowedHosts } : {}), version: packageVersion() });
  return runUntilSignal(
    supervisor,
    logger,
    () => {
      void observability.close();
      opts.cleanup?.();
    },
    opts.hooks,
  );
}
