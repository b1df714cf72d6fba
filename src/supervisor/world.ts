/**
 * The outside world as the supervisor sees it — time, ssh processes, probes — injected so the
 * state machine runs on a fake clock with fake processes in unit tests and on real ones in
 * production (adapters/ implements these).
 */

export interface TimerHandle {
  readonly id: unknown;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface SshExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ssh not installed). */
  error?: string;
}

/** A running ssh client, as the supervisor sees it. */
export interface SshProcess {
  readonly pid: number | undefined;
  /** Every line ssh writes to stderr (and stdout), in order. */
  onLine(listener: (line: string) => void): void;
  /** Called once, after the last line. */
  onExit(listener: (exit: SshExit) => void): void;
  kill(signal: NodeJS.Signals): void;
}

export type SpawnSsh = (args: string[]) => SshProcess;

/** Resolves true when a plain TCP connect succeeds within the timeout; never rejects. */
export type ProbeTcp = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return { id: t };
  },
  clearTimer: (h) => clearTimeout(h.id as NodeJS.Timeout),
};

/**
 * Runs `fn` after `ms` unless `scope` is aborted first: the timer belongs to the scope (one ssh
 * run, one backoff wait) and is cleared with it, as execa ties a subprocess's timers to one signal.
 */
export function after(clock: Clock, ms: number, scope: AbortSignal, fn: () => void): void {
  if (scope.aborted) return;
  const onAbort = () => clock.clearTimer(handle);
  const handle = clock.setTimer(ms, () => {
    scope.removeEventListener('abort', onAbort);
    fn();
  });
  scope.addEventListener('abort', onAbort, { once: true });
}

/** `after` as a promise: resolves after `ms`, or as soon as the scope is aborted (check it after). */
export function sleep(clock: Clock, ms: number, scope: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (scope.aborted) return resolve();
    scope.addEventListener('abort', () => resolve(), { once: true });
    after(clock, ms, scope, resolve);
  });
}
