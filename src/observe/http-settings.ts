/** AUTOTUNNEL_HTTP: where health, readiness, metrics and the status page are served. */
import { isIP } from 'node:net';
import { ConfigError } from '../config/errors.js';
import { connectAddress } from '../supervisor/tunnel.js';
import { parseAllowedHosts, type HostAllow } from './host-allow.js';

export interface HttpAddress {
  /** An IP literal (IPv6 without brackets) or a host name. */
  host: string;
  /** 0: any free port, reported in the log. */
  port: number;
}

/** Loopback by default: the status page names servers and users, which is nobody else's business. */
export const DEFAULT_HTTP_ADDRESS: HttpAddress = { host: '127.0.0.1', port: 9810 };

const VARIABLE = 'AUTOTUNNEL_HTTP';
const EXPECTED = 'expected host:port (e.g. 127.0.0.1:9810, 0.0.0.0:9810, [::1]:9810), a port alone (loopback), or "off"';
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The listen address, or undefined when the listener is turned off. Throws ConfigError on a bad value. */
export interface HttpSettings {
  /** undefined: the listener is turned off. */
  address: HttpAddress | undefined;
  /** Host headers answered (AUTOTUNNEL_HTTP_HOSTS). */
  allowedHosts?: HostAllow;
}

export function parseHttpSettings(env: Record<string, string | undefined>): HttpSettings {
  const raw = env[VARIABLE]?.trim();
  if (!raw) return { address: DEFAULT_HTTP_ADDRESS, allowedHosts: parseAllowedHosts(env, DEFAULT_HTTP_ADDRESS.host) };
  if (raw.toLowerCase() === 'off') return { address: undefined };
  const address = parseHostPort(raw);
  if (!address) throw new ConfigError([{ where: VARIABLE, value: raw, expected: EXPECTED }]);
  return { address, allowedHosts: parseAllowedHosts(env, address.host) };
}

/** "host:port", "[v6]:port" or "port"; undefined when it is none of these. */
export function parseHostPort(raw: string): HttpAddress | undefined {
  if (/^\d+$/.test(raw)) return withPort(DEFAULT_HTTP_ADDRESS.host, raw);
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(raw);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? withPort(bracketed[1]!, bracketed[2]!) : undefined;
  const plain = /^([^:\s]+):(\d+)$/.exec(raw);
  if (!plain) return undefined;
  const host = plain[1]!;
  return isIP(host) === 4 || HOST_NAME.test(host) ? withPort(host, plain[2]!) : undefined;
}

function withPort(host: string, digits: string): HttpAddress | undefined {
  const port = Number(digits);
  return digits.length <= 5 && port <= 65535 ? { host, port } : undefined;
}

/** "host:port", IPv6 in brackets, as AUTOTUNNEL_HTTP takes it. */
export function formatAddress({ host, port }: HttpAddress): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** How a client reaches a listener on `address`: a wildcard bind is reached on loopback. */
export function baseUrl(address: HttpAddress, actualPort = address.port): string {
  return `http://${formatAddress({ host: connectAddress(address.host), port: actualPort })}`;
}
