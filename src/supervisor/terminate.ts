/**
 * Ending an ssh: SIGTERM, then SIGKILL if it is still there after KILL_GRACE_MS (a hung ssh
 * ignores SIGTERM). The one place this escalation is written, as execa's killOnTimeout.
 */
import { after, type Clock, type SshProcess } from './world.js';

/** SIGTERM first; SIGKILL if ssh is still there after this long. */
export const KILL_GRACE_MS = 1_000;

/**
 * `gone` is aborted when ssh has exited: no SIGKILL is sent after that. `first` SIGKILL for a
 * stopped ssh, which would act on SIGTERM only once continued.
 */
export function terminate(process: SshProcess, clock: Clock, gone: AbortSignal, first: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): void {
  process.kill(first);
  if (first === 'SIGKILL') return;
  after(clock, KILL_GRACE_MS, gone, () => process.kill('SIGKILL'));
}
