/** Runs one tunnel from an already validated spec: the SSH_* variables, an ssh-style or an autossh command line. */
import type { TunnelSpec } from '../config/spec.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../observe/logger.js';
import { defaultStateDir } from '../adapters/ssh-files.js';
import { Supervisor, type Supervised } from '../supervisor/supervisor.js';
import { withKeyDigest } from '../adapters/key-digest.js';
import { startTunnels, logReconcileFailures } from './reconcile-report.js';
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
  // The running tunnel's key refresh (a key held by autotunnel's agent), for a SIGHUP.
  let refresh = async (): Promise<void> => {};
  const build = (s: TunnelSpec) => {
    const built = buildTunnel(s, {
      cure,
      tools,
      stateDir: settings.stateDir ?? defaultStateDir(run.env),
      stateDirExplicit: settings.stateDir !== undefined,
      logger,
      ...(run.probeMonitor ? { probeMonitor: run.probeMonitor } : {}),
    });
    refresh = built.refresh;
    return built;
  };
  const supervisor = new Supervisor();
  await startTunnels(supervisor, [withKeyDigest(spec)], build);
  run.onSupervisor?.(supervisor);
  const hooks: LifecycleHooks = { ...run.hooks, onHangup: run.hooks?.onHangup ?? keyReloader(spec, supervisor, build, () => refresh(), logger) };
  return supervise(supervisor, { http, logger, operate, rebuild: build, ...(run.cleanup ? { cleanup: run.cleanup } : {}), hooks });
}

/**
 * SIGHUP with one tunnel from variables or a command line: the settings were read at start, but
 * the key file is read again — a key rotated in place (a secret) restarts the tunnel with a new
 * private copy, or, held by autotunnel's agent (a key with a passphrase), is put in the agent
 * again. Reloads run one at a time.
 */
function keyReloader(spec: TunnelSpec, supervisor: Supervisor, build: (s: TunnelSpec) => Supervised, refresh: () => Promise<void>, logger: Logger): () => void {
  const why = 'SIGHUP received';
  let reloading = Promise.resolve();
  return () => {
    const file = spec.server.identity?.file;
    if (!file) {
      logger.log('info', `${why}: nothing to reload (the tunnel comes from environment variables or the command line, and uses no key file)`);
      return;
    }
    reloading = reloading
      .then(async () => {
        const r = await supervisor.reconcile([withKeyDigest(spec)], build);
        logReconcileFailures(logger, why, r);
        if (r.changed.length) logger.log('info', `${why}: the key file ${file} changed: reconnecting with the new key`, { tunnel: spec.name });
        // A key in autotunnel's agent is refreshed there (it says so itself when it changed).
        else if (spec.server.auth?.keyPassphrase) await refresh();
        else if (!r.failed.length) logger.log('info', `${why}: nothing changed (the key file ${file} is the same; other settings are read at start only)`, { tunnel: spec.name });
      })
      .catch((e: unknown) => logger.log('error', `${why}: reload failed: ${e instanceof Error ? e.message : String(e)}`));
  };
}
