/** The common tail of every run mode: log events, serve health/metrics/status, run until a signal. */
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../observe/logger.js';
import { logTunnelEvent } from '../observe/event-log.js';
import type { HttpSettings } from '../config/settings.js';
import { startObservability } from '../observe/observability.js';
import { runUntilSignal, type LifecycleHooks } from './lifecycle.js';
import { packageVersion } from './version.js';
import { startOperations, type OperateSettings } from './operate.js';
import type { TunnelSpec } from '../config/spec.js';
import type { Supervised } from '../supervisor/supervisor.js';

export interface SuperviseOptions {
  /** AUTOTUNNEL_HTTP, parsed by the caller before anything started (a bad value is exit 78). */
  http: HttpSettings;
  logger: Logger;
  /** Undone at exit, after every tunnel has stopped. */
  cleanup?: () => void;
  hooks?: LifecycleHooks;
  /** Notifications and control, read before anything started (see operate.ts). */
  operate?: OperateSettings;
  /** Builds a tunnel again from its spec: for starting a stopped one. */
  rebuild?: (spec: TunnelSpec) => Supervised;
}

export async function supervise(supervisor: Supervisor, opts: SuperviseOptions): Promise<number> {
  const { logger } = opts;
  supervisor.events.on((e) => logTunnelEvent(logger, e));
  const operations = startOperations(supervisor, opts.operate ?? { notify: [] }, logger, opts.rebuild);
  const observability = await startObservability(supervisor, {
    logger,
    httpAddress: opts.http.address,
    ...(opts.http.allowedHosts ? { allowedHosts: opts.http.allowedHosts } : {}),
    version: packageVersion(),
    ...(operations.control ? { control: operations.control } : {}),
  });
  return runUntilSignal(
    supervisor,
    logger,
    () => {
      void observability.close();
      operations.close();
      opts.cleanup?.();
    },
    opts.hooks,
  );
}
