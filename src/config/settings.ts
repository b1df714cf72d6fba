/** autotunnel's own settings (AUTOTUNNEL_*), as opposed to the tunnel's (SSH_*). */
import { ConfigError, type ConfigProblem } from './errors.js';
import { parseLogLevel, type LogFormat, type LogLevel } from '../observe/logger.js';

export interface Settings {
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** Where keys trusted on first use are kept; undefined → the default for this user. */
  stateDir?: string;
  /** The ssh client to run; undefined → `ssh` on PATH. */
  ssh?: string;
}

export function parseSettings(env: Record<string, string | undefined>): Settings {
  const problems: ConfigProblem[] = [];
  const get = (n: string) => (env[n]?.trim() ? env[n]!.trim() : undefined);

  let logFormat: LogFormat = 'text';
  const rawFormat = get('AUTOTUNNEL_LOG_FORMAT');
  if (rawFormat !== undefined) {
    const f = rawFormat.toLowerCase();
    if (f === 'text' || f === 'json') logFormat = f;
    else problems.push({ where: 'AUTOTUNNEL_LOG_FORMAT', value: rawFormat, expected: 'expected "text" (readable lines, the default) or "json" (one JSON object per line)' });
  }
  let logLevel: LogLevel = 'info';
  const rawLevel = get('AUTOTUNNEL_LOG_LEVEL');
  if (rawLevel !== undefined) {
    const l = parseLogLevel(rawLevel);
    if (l) logLevel = l;
    else problems.push({ where: 'AUTOTUNNEL_LOG_LEVEL', value: rawLevel, expected: 'expected debug, info (the default), warn or error' });
  }
  const stateDir = get('AUTOTUNNEL_STATE_DIR');
  if (stateDir !== undefined && !stateDir.startsWith('/')) {
    problems.push({ where: 'AUTOTUNNEL_STATE_DIR', value: stateDir, expected: 'expected an absolute path' });
  }
  if (problems.length) throw new ConfigError(problems);
  const ssh = get('AUTOTUNNEL_SSH');
  return { logFormat, logLevel, ...(stateDir ? { stateDir } : {}), ...(ssh ? { ssh } : {}) };
}
