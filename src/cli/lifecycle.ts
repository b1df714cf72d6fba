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
  off(signal: Signal, listener: () => void): unknown;
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
      // Only ours: the entry point's own SIGUSR1/SIGHUP listeners must stay until the very end,
      // or a late SIGUSR1 would open Node's inspector and a late SIGHUP would kill us.
      for (const [s, l] of Object.entries(listeners)) proc.off(s as Signal, l);
      resolve(exitCode);
    };
    const listeners: Record<Signal, () => void> = {
      SIGTERM: () => stop('SIGTERM received', 0),
      SIGINT: () => stop('SIGINT received', 0),
      SIGUSR1: () => {
        logger.log('info', 'SIGUSR1 received: retrying every tunnel now');
        supervisor.retryAll('SIGUSR1 received');
      },
      SIGHUP: () => {
        if (hooks.onHangup) hooks.onHangup();
        else logger.log('info', 'SIGHUP received: nothing to reload (the tunnel comes from environment variables or the command line)');
      },
    };
    // Always handled: without a listener Node would open its inspector on SIGUSR1.
    for (const [s, l] of Object.entries(listeners)) proc.on(s as Signal, l);
    // Best effort on any other way out: never leave a key copy behind.
    proc.once('exit', cleanup);
    supervisor.startAll();
    hooks.onRunning?.(stop);
  });
}
