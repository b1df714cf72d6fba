/** Log lines: readable text by default, one JSON object per line on request. */

import type { LogFormat, LogLevel } from '../config/settings.js';

export type { LogFormat, LogLevel };

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  format: LogFormat;
  level: LogLevel;
  write: (line: string) => void;
  now?: () => Date;
}

export function createLogger(opts: LoggerOptions): Logger {
  const now = opts.now ?? (() => new Date());
  const enabled = (level: LogLevel) => RANK[level] >= RANK[opts.level];
  return {
    enabled,
    log(level, message, fields = {}) {
      if (!enabled(level)) return;
      const time = now().toISOString();
      if (opts.format === 'json') {
        opts.write(JSON.stringify({ time, level, msg: message, ...dropUndefined(fields) }) + '\n');
        return;
      }
      const extra = Object.entries(dropUndefined(fields))
        .map(([k, v]) => `${k}=${formatValue(v)}`)
        .join(' ');
      opts.write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${extra ? `  ${extra}` : ''}\n`);
    },
  };
}

function dropUndefined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

function formatValue(v: unknown): string {
  const s = typeof v === 'string' ? v : Array.isArray(v) && v.every((x) => typeof x !== 'object') ? v.join(',') : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}
