/** Small validators shared by every config source; each returns an explanation or undefined. */
import { isIP } from 'node:net';

export const PORT_EXPECTED = 'expected a TCP port number from 1 to 65535';

/** Parses a decimal integer; anything else (signs, spaces, hex, fractions) is undefined. */
export function parseWholeNumber(value: string): number | undefined {
  return /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

export function parsePort(value: string, allowZero = false): number | undefined {
  const n = parseWholeNumber(value);
  if (n === undefined || n > 65535 || (n === 0 && !allowZero)) return undefined;
  return n;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** Why `host` is not a usable host name or address, or undefined when it is fine. */
export function hostProblem(host: string): string | undefined {
  if (host.startsWith('-')) return 'must not begin with "-" (ssh would read it as an option); expected a host name or IP address';
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) || isIP(bare.replace(/%[A-Za-z0-9_.-]+$/, ''))) return undefined;
  if (HOSTNAME.test(host)) return undefined;
  return 'expected a host name (letters, digits, "-", "." and "_") or an IP address';
}

/** Why `user` cannot be a login name, or undefined. Allows domain-style names such as user@corp. */
export function userProblem(user: string): string | undefined {
  if (user.startsWith('-')) return 'must not begin with "-" (ssh would read it as an option); expected a login name';
  if (!/^[^\s:/\\'"`$;&|<>(){}*?\x00-\x1f]+$/.test(user)) {
    return 'expected a login name without spaces, quotes or shell characters';
  }
  return undefined;
}

/** Why `address` cannot be a listen address, or undefined. */
export function bindAddressProblem(address: string): string | undefined {
  if (address === '*' || address === 'localhost') return undefined;
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIP(bare)) return undefined;
  if (address.startsWith('-')) return 'must not begin with "-"; expected an IP address such as 127.0.0.1 or 0.0.0.0';
  return HOSTNAME.test(address) ? undefined : 'expected an IP address such as 127.0.0.1 or 0.0.0.0, "localhost" or "*"';
}

const TRUE = new Set(['true', 'yes', '1', 'on']);
const FALSE = new Set(['false', 'no', '0', 'off']);

export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return undefined;
}
