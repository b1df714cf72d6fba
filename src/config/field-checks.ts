/**
 * Checks every config source shares for values that reach ssh or a timer: jump hosts, NUL
 * bytes, durations and listeners. Each returns an explanation (or a verdict) and never throws;
 * the caller names the field as the user wrote it.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Forward } from './spec.js';
import { PORT_EXPECTED, hostProblem, parsePort, userProblem } from './validate.js';

/** Node runs a timer longer than this after 1 ms (a signed 32-bit millisecond count). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Backoff waits and the time a connection must last to count as stable: one day is plenty. */
export const MAX_BACKOFF_SEC = 86_400;
/** ConnectTimeout; the handshake deadline adds 20 s to it. */
export const MAX_CONNECT_TIMEOUT_SEC = 3_600;
export const MAX_KEEPALIVE_INTERVAL_SEC = 86_400;
export const MAX_KEEPALIVE_COUNT = 1_000;
/** Seconds that still fit a Node timer (about 24.8 days): autossh's poll, gate time and lifetime. */
export const MAX_TIMER_SEC = Math.floor(MAX_TIMER_MS / 1000);

/** "… at most N s" when `seconds` is above `max`. */
export function durationProblem(seconds: number, max: number): string | undefined {
  return seconds > max ? `too long: at most ${max} s (${describeSeconds(max)})` : undefined;
}

function describeSeconds(s: number): string {
  if (s % 86_400 === 0) return `${s / 86_400} day${s === 86_400 ? '' : 's'}`;
  if (s >= 86_400) return `about ${(s / 86_400).toFixed(1)} days`;
  return s % 3600 === 0 ? `${s / 3600} h` : `${Math.round(s / 60)} min`;
}

/** ssh and the kernel end a C string at a NUL byte: a value holding one means something else to them. */
export function nulProblem(value: string): string | undefined {
  return value.includes('\0') ? 'contains a NUL byte ("\\0"), which no file name, host or ssh option can hold; remove it' : undefined;
}

const JUMP_EXPECTED = 'expected jump hosts as [user@]host[:port] (or ssh://[user@]host[:port]), comma-separated';

/**
 * Why one jump host (ssh -J / ProxyJump) is not `[user@]host[:port]`, or undefined. ssh builds a
 * ProxyCommand for it that goes through a shell, so the user part gets the destination's checks.
 */
export function jumpHostProblem(jump: string): string | undefined {
  const bad = (why: string) => `jump host "${jump}": ${why}`;
  const nul = nulProblem(jump);
  if (nul) return bad(nul);
  let rest = jump.startsWith('ssh://') ? jump.slice('ssh://'.length).replace(/\/$/, '') : jump;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const user = rest.slice(0, at);
    const issue = user === '' ? 'the user name is empty' : user.includes('@') ? 'more than one "@"' : userProblem(user);
    if (issue) return bad(`user "${user}" ${issue}`);
    rest = rest.slice(at + 1);
  }
  let host = rest;
  let port: string | undefined;
  if (rest.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
    if (!m) return bad(`an unclosed "[" or text after "]"; ${JUMP_EXPECTED}`);
    if (!isIP(m[1]!)) return bad(`"${m[1]}" in brackets is not an IPv6 address`);
    host = m[1]!;
    port = m[2];
  } else {
    const colon = rest.indexOf(':');
    if (colon >= 0) {
      host = rest.slice(0, colon);
      port = rest.slice(colon + 1);
    }
  }
  if (host === '') return bad(`no host; ${JUMP_EXPECTED}`);
  const hostIssue = isIP(host) ? undefined : hostProblem(host);
  if (hostIssue) return bad(`host "${host}" ${hostIssue}`);
  if (port !== undefined && parsePort(port) === undefined) return bad(`port "${port}": ${PORT_EXPECTED}`);
  return undefined;
}

/** Problems of a -J / ProxyJump value (comma-separated hosts; ProxyJump=none is ssh's "no jump"). */
export function jumpListProblems(value: string, allowNone: boolean): string[] {
  if (allowNone && value.trim().toLowerCase() === 'none') return [];
  return value.split(',').map((j) => jumpHostProblem(j.trim())).filter((p): p is string => p !== undefined);
}

/**
 * The addresses a local listener binds, as ssh binds them: "localhost" is loopback in both
 * families (ssh resolves it to 127.0.0.1 and ::1), IPv6 is compared in its canonical form.
 * undefined = every address (a wildcard, or no address: GatewayPorts decides).
 */
function boundAddresses(address: string | undefined): Set<string> | undefined {
  if (address === undefined || ['', '*', '0.0.0.0', '::', '[::]'].includes(address)) return undefined;
  const bare = address.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return new Set(['127.0.0.1', '::1']);
  if (isIP(bare) === 6) {
    try {
      return new Set([new URL(`http://[${bare}]/`).hostname.replace(/^\[(.*)\]$/, '$1')]);
    } catch {
      return new Set([bare]);
    }
  }
  return new Set([bare]);
}

/** A socket path as the kernel resolves it: "//", "/./" and "x/.." do not make another file. */
export function normalSocketPath(path: string): string {
  return resolve('/', path);
}

/** Whether two local (or dynamic) forwards would listen on the same port or socket. */
export function sameListener(f: Forward, g: Forward): boolean {
  if (f.bindSocket !== undefined || g.bindSocket !== undefined) {
    return f.bindSocket !== undefined && g.bindSocket !== undefined && normalSocketPath(f.bindSocket) === normalSocketPath(g.bindSocket);
  }
  if (f.bindPort !== g.bindPort) return false;
  const a = boundAddresses(f.bindAddress);
  const b = boundAddresses(g.bindAddress);
  if (!a || !b) return true;
  return [...a].some((x) => b.has(x));
}
