/**
 * Which Host headers the HTTP listener answers (AUTOTUNNEL_HTTP_HOSTS). A page on a DNS-rebinding
 * domain (evil.example resolving to 127.0.0.1) reaches the listener with its own name in the Host
 * header and could read /api/tunnels from a browser on this machine; refusing names we were not
 * told about stops that. IP literals are always answered: a browser only sends one to the
 * address it connected to, and Kubernetes probes and Prometheus scrape pods by IP.
 */
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

export const HOSTS_VARIABLE = 'AUTOTUNNEL_HTTP_HOSTS';

export interface HostAllow {
  /** `*`: every Host header is answered (the check is off). */
  any: boolean;
  /** Lower-case names answered besides IP literals and localhost. */
  names: Set<string>;
}

const NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$/;

/** AUTOTUNNEL_HTTP_HOSTS: comma-separated names, or `*`; the listen host of AUTOTUNNEL_HTTP is always in. */
export function parseAllowedHosts(env: Record<string, string | undefined>, listenHost: string | undefined): HostAllow {
  const names = new Set<string>(['localhost']);
  if (listenHost && !isIP(listenHost)) names.add(listenHost.toLowerCase());
  const raw = env[HOSTS_VARIABLE]?.trim();
  if (!raw) return { any: false, names };
  if (raw === '*') return { any: true, names };
  const bad: string[] = [];
  for (const item of raw.split(',').map((s) => s.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean)) {
    if (NAME.test(item)) names.add(item);
    else bad.push(item);
  }
  if (bad.length) {
    throw new ConfigError([{ where: HOSTS_VARIABLE, value: raw, expected: `${bad.map((b) => `"${b}"`).join(', ')} ${bad.length === 1 ? 'is not a host name' : 'are not host names'}; expected host names separated by commas (e.g. autotunnel.internal,status.example.com), or * to answer any Host header` }]);
  }
  return { any: false, names };
}

/** Whether a request with this Host header is answered. No header (HTTP/1.0 tools): yes, no browser sends that. */
export function hostAllowed(header: string | undefined, allow: HostAllow): boolean {
  if (allow.any || header === undefined) return true;
  const h = header.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  if (bracketed) return isIP(bracketed[1]!) === 6;
  const host = h.replace(/:\d+$/, '').replace(/\.$/, '');
  return isIP(host) === 4 || allow.names.has(host);
}
