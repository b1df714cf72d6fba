/** Words and durations as a person reads them: shared by the log-style messages, `autotunnel status` and the status page. */
import type { TunnelState } from '../supervisor/events.js';

/** "backoff" is how the supervisor thinks of it; a person calls it "down". */
export const STATE_WORDS: Record<TunnelState, string> = {
  starting: 'starting',
  connecting: 'connecting',
  up: 'up',
  backoff: 'down',
  stopping: 'stopping',
  stopped: 'stopped',
  disabled: 'disabled',
};

/**
 * "4.2s", "4m 12s", "3h 5m", "2d 1h": two units at most, a person wants "how long, roughly".
 * Self-contained on purpose (no outside names, no inner functions): the status page embeds its
 * source text.
 */
export function formatDuration(ms: number): string {
  const t = Math.max(0, ms);
  if (t < 10_000) return (Math.floor(t / 100) / 10).toFixed(1) + 's';
  if (t < 60_000) return Math.floor(t / 1000) + 's';
  const units: [number, string, number, string] =
    t < 3_600_000 ? [60_000, 'm', 1000, 's'] : t < 86_400_000 ? [3_600_000, 'h', 60_000, 'm'] : [86_400_000, 'd', 3_600_000, 'h'];
  const whole = Math.floor(t / units[0]);
  const rest = Math.floor((t - whole * units[0]) / units[2]);
  return rest ? whole + units[1] + ' ' + rest + units[3] : whole + units[1];
}

/**
 * The log's durations: "0.40 s", "12 s". Kept apart from formatDuration on purpose: log lines
 * are read next to ssh's own timing and grepped, so short delays keep their hundredths and the
 * format does not change with magnitude (no "4m 12s" in a log line).
 */
export function formatLogSeconds(ms: number | undefined): string {
  if (ms === undefined) return '?';
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms / 1000)} s`;
}
