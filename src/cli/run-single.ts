/** Runs one tunnel from an already validated spec: the SSH_* variables, an ssh-style or an autossh command line. */
import type { TunnelSpec } from '../config/spec.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../observe/logger.js';
import { defaultStateDir } from '../adapters/ssh-files.js';
import { Supervisor } from '../supervisor/supervisor.js';
import type { TunnelDeps } from '../supervisor/tunnel.js';
import { buildTunnel, reportStaleListenerCure } from './wiring.js';
import { preflight } from './preflight.js';
import { readCureFacts, staleListenerCure } from '../adapters/orphan-connections.js';
import type { LifecycleHooks } from './lifecycle.js';
import { supervise } from './supervise.js';
import { readOperateSettings } from './operate.js';

export interface SingleRun {
  spec: TunnelSpec;
  warnings: string[];
  notices: string[];
  settings: Settings;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** The check of spec.monitor (autossh's -M). */
  probeMonitor?: TunnelDeps['probeMonitor'];
  hooks?: LifecycleHooks;
  /** Undone at exit, after the tunnel has stopped. */
  cleanup?: () => void;
  /** Given the supervisor before it starts (to watch events). */
  onSupervisor?: (s: Supervisor) => void;
}

export async function runSingle(run: SingleRun): Promise<number> {
  const { spec, logger, settings } = run;
  // Before anything is created (key copies): a bad setting stops us with nothing to undo.
  const { http, tools } = await preflight(settings, run.env, [spec], { sweep: true });
  const operate = readOperateSettings(run.env);
  run.notices.forEach((m) => logger.log('info', m, { tunnel: spec.name }));
  run.warnings.forEach((m) => logger.log('warn', m, { tunnel: spec.name }));
  const cure = staleListenerCure(readCureFacts(tools.ss));
  reportStaleListenerCure([spec], cure, logger);
  const build = (s: TunnelSpec) =>
    buildTunnel(s, {
      cure,
      tools,
      stateDir: settings.stateDir ?? defaultStateDir(run.env),
      stateDirExplicit: settings.stateDir !== undefined,
      logger,
      ...(run.probeMonitor ? { probeMonitor: run.probeMonitor } : {}),
    });
  const built = build(spec);
  const supervisor = new Supervisor();
  supervisor.add(built.tunnel, built.cleanup);
  run.onSupervisor?.(supervisor);
  return supervise(supervisor, { http, logger, operate, rebuild: build, ...(run.cleanup ? { cleanup: run.cleanup } : {}), ...(run.hooks ? { hooks: run.hooks } : {}) });
}
