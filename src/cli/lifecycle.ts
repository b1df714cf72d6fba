/** Runs a supervisor until SIGTERM/SIGINT (or a caller's own reason to stop); SIGUSR1 retries now. */
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../observe/logger.js';

/** Everything must be gone within 2 s of SIGTERM (container runtimes escalate soon after). */
export const SHUTDOWN_DEADLINE_MS = 1_800;

export interface LifecycleHooks {
  /** SIGHUP: reload the configuration. Without it, SIGHUP is logged and ignored. */
  onHangup?: () => void;
  /** Called once running, with a function that stops everything and exits with `code`. */
  onRunning?: (stop: (reason: string, code: number) => void) => void;
}

type Signal = 'SIGTERM' | 'SIGINT' | 'SIGUSR1' | 'SIGHUP';

/** What the lifecycle needs of `process`: its signals and its exit; injected so tests can send signals. */
export interface LifecycleProcess {
  on(signal: Signal, listener: () => void): unknown;
  removeAllListeners(signal: Signal): unknown;
  once(event: 'exit', listener: () => void): unknown;
  exit(code: number): void;
}

export function runUntilSignal(
  supervisor: Supervisor,
  logger: Logger,
  cleanup: () => void,
  hooks: LifecycleHooks = {},
  proc: LifecycleProcess = process,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    let exitCode = 0;
    const stop = (reason: string, code: number) => {
      if (stopping) {
        // A second signal: the user is impatient; ssh gets SIGKILL from its parent-death signal.
        logger.log('warn', `${reason} again: exiting now`);
        cleanup();
        proc.exit(code);
      }
      stopping = true;
      exitCode = code;
      logger.log('info', `${reason}: stopping every tunnel`);
      const deadline = setTimeout(() => {
        logger.log('warn', 'ssh did not stop in time; exiting anyway (it is killed with us)');
        finish();
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      void supervisor.stopAll().then(finish);
    };
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      cleanup();
      for (const s of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP'] as const) proc.removeAllListeners(s);
      resolve(exitCode);
    };
    proc.on('SIGTERM', () => stop('SIGTERM received', 0));
    proc.on('SIGINT', () => stop('SIGINT received', 0));
    // Always handled: without a listener Node would open its inspector on SIGUSR1.
    proc.on('SIGUSR1', () => {
      logger.log('info', 'SIGUSR1 received: retrying every tunnel now');
      supervisor.retryAll('SIGUSR1 received');
    });
    proc.on('SIGHUP', () => {
      if (hooks.onHangup) hooks.onHangup();
      else logger.log('info', 'SIGHUP received: nothing to reload (the tunnel comes from environment variables or the command line)');
    });
    // Best effort on any other way out: never leave a key copy behind.
    proc.once('exit', cleanup);
    supervisor.startAll();
    hooks.onRunning?.(stop);
  });
}
