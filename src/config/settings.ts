/** autotunnel's own settings (AUTOTUNNEL_*), as opposed to the tunnel's (SSH_*). */
import { isIP } from 'node:net';
import { ConfigError, type ConfigProblem } from './errors.js';
import { hostProblem } from './validate.js';
import type { HostAllow } from './http-hosts.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

/** Where the HTTP listener (health, readiness, metrics, status page) is bound. */
export interface HttpAddress {
  /** An IP literal (IPv6 without brackets) or a host name. */
  host: string;
  /** 0: any free port, reported in the log. */
  port: number;
}

/** AUTOTUNNEL_HTTP, parsed. */
export interface HttpSettings {
  /** undefined: the listener is turned off. */
  address: HttpAddress | undefined;
  /** Host headers answered besides IP literals and localhost (AUTOTUNNEL_HTTP_HOSTS; see http-hosts.ts). */
  allowedHosts?: HostAllow;
}

/** Loopback by default: the status page names servers and users, which is nobody else's business. */
export const DEFAULT_HTTP_ADDRESS: HttpAddress = { host: '127.0.0.1', port: 9810 };

export interface Settings {
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** Where keys trusted on first use are kept; undefined → the default for this user. */
  stateDir?: string;
  /** The ssh client to run; undefined → `ssh` on PATH. */
  ssh?: string;
  /** AUTOTUNNEL_HTTP as given; undefined → DEFAULT_HTTP_ADDRESS (see httpSettings). */
  http?: HttpSettings;
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
  let http: HttpSettings | undefined;
  if (get(HTTP_VARIABLE) !== undefined) {
    try {
      http = parseHttpSettings(env);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const ssh = get('AUTOTUNNEL_SSH');
  return { logFormat, logLevel, ...(stateDir ? { stateDir } : {}), ...(ssh ? { ssh } : {}), ...(http ? { http } : {}) };
}

export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  const v = (value ?? '').trim().toLowerCase();
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : undefined;
}

/** Where the HTTP listener goes, the default filled in. */
export function httpSettings(settings: Settings): HttpSettings {
  return settings.http ?? { address: DEFAULT_HTTP_ADDRESS };
}

const HTTP_VARIABLE = 'AUTOTUNNEL_HTTP';
const HTTP_EXPECTED = 'expected host:port (e.g. 127.0.0.1:9810, 0.0.0.0:9810, [::1]:9810), a port alone (loopback), or "off"';

/**
 * AUTOTUNNEL_HTTP alone (for `autotunnel status` and `health`, which need no other setting).
 * Throws ConfigError on a bad value.
 */
export function parseHttpSettings(env: Record<string, string | undefined>): HttpSettings {
  const raw = env[HTTP_VARIABLE]?.trim();
  if (!raw) return { address: DEFAULT_HTTP_ADDRESS };
  if (raw.toLowerCase() === 'off') return { address: undefined };
  const address = parseHostPort(raw);
  if (!address) throw new ConfigError([{ where: HTTP_VARIABLE, value: raw, expected: HTTP_EXPECTED }]);
  return { address };
}

/** "host:port", "[v6]:port" or "port"; undefined when it is none of these. */
function parseHostPort(raw: string): HttpAddress | undefined {
  if (/^\d+$/.test(raw)) return withPort(DEFAULT_HTTP_ADDRESS.host, raw);
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(raw);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? withPort(bracketed[1]!, bracketed[2]!) : undefined;
  const plain = /^([^:\s]+):(\d+)$/.exec(raw);
  if (!plain) return undefined;
  const host = plain[1]!;
  return isIP(host) === 4 || hostProblem(host) === undefined ? withPort(host, plain[2]!) : undefined;
}

function withPort(host: string, digits: string): HttpAddress | undefined {
  const port = Number(digits);
  return digits.length <= 5 && port <= 65535 ? { host, port } : undefined;
}
