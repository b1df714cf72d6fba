/**
 * Where "down" and "back up" notifications go: webhook receivers from AUTOTUNNEL_NOTIFY_* and
 * from a tunnels file's `notify:` list. URLs often carry a token, so they are only ever shown
 * redacted (see redactUrl).
 */
import { ConfigError, type ConfigProblem } from './errors.js';

export type NotifyFormat = 'json' | 'text' | 'slack';
export const NOTIFY_FORMATS: readonly NotifyFormat[] = ['json', 'text', 'slack'];
/** A blip shorter than this is not a page: a killed ssh or a restarted server is back in about a second. */
export const DEFAULT_NOTIFY_AFTER_MS = 30_000;

export interface NotifyReceiver {
  url: string;
  format: NotifyFormat;
  /** Report "down" only once a tunnel has been down this long. */
  afterMs: number;
  /** The setting it came from, as the user wrote it (for messages): AUTOTUNNEL_NOTIFY_URL, notify[0]. */
  origin: string;
}

export const FORMAT_EXPECTED = 'expected json (the default: tunnel, state, cause, fix, durations, time, host), text (one plain sentence: ntfy, Gotify) or slack ({"text": …}: Slack, Mattermost, Discord\'s /slack endpoint)';
export const AFTER_EXPECTED = 'expected a duration such as 30 (seconds), "90s", "2m" or 0 (at once)';

/** Why `raw` is not a usable webhook URL, or undefined when it is. Never echoes the URL. */
export function urlProblem(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'not a URL; expected http://HOST[:PORT]/PATH or https://…';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `expected an http:// or https:// URL, not ${u.protocol}`;
  if (!u.hostname) return 'the URL has no host';
  return undefined;
}

/**
 * The URL as it may be shown: scheme, host, port and the first path segment; no user, password,
 * query or fragment, and "…" where more of the path was cut (tokens live in all of those:
 * Slack's /services/T…/B…/SECRET, ntfy's topic, Discord's /api/webhooks/ID/TOKEN).
 */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return '(an invalid URL)';
  }
  const segments = u.pathname.split('/').filter(Boolean);
  const rest = segments.length > 1 || u.search || u.hash || u.username || u.password ? '/…' : '';
  const first = segments[0] ? `/${segments[0]}` : '';
  return `${u.protocol}//${u.host}${first}${rest}`;
}

/** Seconds as YAML and variables write them: 30, 0.5, "90s", "500ms", "2m". */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 1000;
  return Math.round(Number(m[1]) * unit);
}

/**
 * AUTOTUNNEL_NOTIFY_URL (or _URL_FILE: the URL read from a file, e.g. a secret), with
 * AUTOTUNNEL_NOTIFY_FORMAT and AUTOTUNNEL_NOTIFY_AFTER. Throws ConfigError listing every problem.
 */
export function parseNotifyEnv(env: Record<string, string | undefined>, readText: (path: string) => string): NotifyReceiver[] {
  const get = (n: string) => (env[n]?.trim() ? env[n]!.trim() : undefined);
  const problems: ConfigProblem[] = [];
  const direct = get('AUTOTUNNEL_NOTIFY_URL');
  const file = get('AUTOTUNNEL_NOTIFY_URL_FILE');
  const format = get('AUTOTUNNEL_NOTIFY_FORMAT');
  const after = get('AUTOTUNNEL_NOTIFY_AFTER');
  let url: string | undefined;
  let origin = 'AUTOTUNNEL_NOTIFY_URL';
  if (direct && file) problems.push({ where: 'AUTOTUNNEL_NOTIFY_URL_FILE', expected: 'give either AUTOTUNNEL_NOTIFY_URL or AUTOTUNNEL_NOTIFY_URL_FILE, not both' });
  else if (direct) url = direct;
  else if (file) {
    origin = 'AUTOTUNNEL_NOTIFY_URL_FILE';
    const read = readSecret(file, readText);
    if (typeof read === 'string') url = read;
    else problems.push({ where: 'AUTOTUNNEL_NOTIFY_URL_FILE', value: file, expected: read.problem });
  }
  if (url !== undefined) {
    const p = urlProblem(url);
    // The value is not echoed: it may hold a token.
    if (p) problems.push({ where: origin, expected: `${p} (the value is not shown: it may hold a token)` });
  } else if ((format || after) && !file) {
    problems.push({ where: format ? 'AUTOTUNNEL_NOTIFY_FORMAT' : 'AUTOTUNNEL_NOTIFY_AFTER', expected: 'set AUTOTUNNEL_NOTIFY_URL (or AUTOTUNNEL_NOTIFY_URL_FILE) too: there is nowhere to send notifications' });
  }
  let fmt: NotifyFormat = 'json';
  if (format !== undefined) {
    if ((NOTIFY_FORMATS as readonly string[]).includes(format.toLowerCase())) fmt = format.toLowerCase() as NotifyFormat;
    else problems.push({ where: 'AUTOTUNNEL_NOTIFY_FORMAT', value: format, expected: FORMAT_EXPECTED });
  }
  let afterMs = DEFAULT_NOTIFY_AFTER_MS;
  if (after !== undefined) {
    const ms = parseDurationMs(after);
    if (ms === undefined) problems.push({ where: 'AUTOTUNNEL_NOTIFY_AFTER', value: after, expected: AFTER_EXPECTED });
    else afterMs = ms;
  }
  if (problems.length) throw new ConfigError(problems);
  return url === undefined ? [] : [{ url, format: fmt, afterMs, origin }];
}

/** A secret file's first line: a missing, unreadable or empty file is a problem. */
export function readSecret(path: string, readText: (path: string) => string): string | { problem: string } {
  let text: string;
  try {
    text = readText(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? 'no such file; mount it there or fix the path' : `cannot read it (${code ?? String(e)}); make it readable by the user autotunnel runs as` };
  }
  const value = text.trim();
  if (!value) return { problem: 'the file is empty' };
  return value;
}
