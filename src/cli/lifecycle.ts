/** Runs a supervisor until SIGTERM/SIGINT; SIGUSR1 retries now. */
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Logger } from '../observe/logger.js';

/** Everything must be gone within 2 s of SIGTERM (container runtimes escalate soon after). */
export const SHUTDOWN_DEADLINE_MS = 1_800;

export function runUntilSignal(supervisor: Supervisor, logger: Logger, cleanup: () => void): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second signal: the user is impatient; ssh gets SIGKILL from its parent-death signal.
        logger.log('warn', `${signal} again: exiting now`);
        cleanup();
        process.exit(0);
      }
      stopping = true;
      logger.log('info', `${signal} received: stopping every tunnel`);
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
      for (const s of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP'] as const) process.removeAllListeners(s);
      resolve(0);
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    // Always handled: without a listener Node would open its inspector on SIGUSR1.
    process.on('SIGUSR1', () => {
      logger.log('info', 'SIGUSR1 received: retrying every tunnel now');
      supervisor.retryAll('SIGUSR1 received');
    });
    process.on('SIGHUP', () => logger.log('info', 'SIGHUP received: nothing to reload (the tunnel comes from environment variables)'));
    // Best effort on any other way out: never leave a key copy behind.
    process.once('exit', cleanup);
    supervisor.startAll();
  });
}
