/**
 * Parses forwards as users write them: ssh's own `-L/-R/-D` notation for command lines, and the
 * config file's `local:`/`remote:`/`dynamic:` + `to:` pairs. Returns an explanation on bad input.
 */
import type { Forward, ForwardKind } from './spec.js';
import { PORT_EXPECTED, bindAddressProblem, hostProblem, parsePort } from './validate.js';

export interface Endpoint {
  address?: string;
  port?: number;
  socket?: string;
}

/**
 * "8080", "127.0.0.1:8080", "[::1]:8080", "*:8080", "/run/app.sock". For targets an address is
 * required (`host:port` or a socket path).
 */
export function parseEndpoint(text: string, role: 'bind' | 'target', allowPortZero: boolean): Endpoint | string {
  const t = text.trim();
  if (t.startsWith('/')) return { socket: t };
  let address: string | undefined;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(t);
  if (v6) {
    address = v6[1];
    portText = v6[2]!;
  } else if (t.startsWith('[')) {
    return `expected [address]:port, e.g. [::1]:8080, got "${t}"`;
  } else {
    const i = t.lastIndexOf(':');
    if (i < 0) {
      if (role === 'target') return 'expected host:port (or a /path/to/socket), e.g. localhost:80';
      portText = t;
    } else {
      address = t.slice(0, i);
      portText = t.slice(i + 1);
      if (address.includes(':')) return `write an IPv6 address in brackets, e.g. [${address}]:${portText}`;
    }
  }
  const port = parsePort(portText, allowPortZero);
  if (port === undefined) return `"${portText}" is not a port: ${PORT_EXPECTED}`;
  if (role === 'target') {
    if (!address) return 'expected host:port (or a /path/to/socket), e.g. localhost:80';
    const p = hostProblem(address);
    if (p) return `target host "${address}" ${p}`;
  } else if (address === '') {
    // ssh(1): "an empty address or '*' indicates that the port should be available from all interfaces".
    address = '*';
  } else if (address !== undefined) {
    const p = bindAddressProblem(address);
    if (p) return `listen address "${address}" ${p}`;
  }
  return { ...(address ? { address } : {}), port };
}

/** Builds a Forward from a listen endpoint and (except for dynamic) a target. */
export function makeForward(kind: ForwardKind, bind: Endpoint, target: Endpoint | undefined): Forward | string {
  if (kind === 'dynamic' && bind.socket) return 'a SOCKS proxy (dynamic) listens on a TCP port, not a Unix socket';
  if (kind !== 'remote' && bind.port === 0) return 'port 0 is only allowed for remote forwards, where the server picks the port';
  const f: Forward = { kind, bindPort: bind.port ?? 0 };
  if (bind.socket) f.bindSocket = bind.socket;
  if (bind.address) f.bindAddress = bind.address;
  if (target) {
    if (target.socket) f.targetSocket = target.socket;
    else {
      f.targetHost = target.address!;
      f.targetPort = target.port!;
    }
  }
  return f;
}

/**
 * ssh's notation: -L/-R `[bind:]port:host:hostport`, `[bind:]port:/socket`, `/socket:host:port`,
 * `/socket:/socket`; -D `[bind:]port`. IPv6 addresses in brackets.
 */
export function parseSshForward(kind: ForwardKind, spec: string): Forward | string {
  const parts = splitColons(spec);
  if (parts === undefined) return `unbalanced "[" in "${spec}"`;
  if (kind === 'dynamic') {
    if (parts.length > 2) return `expected [bind_address:]port for -D, got "${spec}"`;
    const bind = parseEndpoint(parts.length === 2 ? `${bracketIfV6(parts[0]!)}:${parts[1]}` : bracketIfV6(parts[0]!), 'bind', false);
    return typeof bind === 'string' ? bind : makeForward(kind, bind, undefined);
  }
  // Work from the end: the target is either "/socket" or "host:port".
  let target: Endpoint | string;
  let rest: string[];
  if (parts.at(-1)!.startsWith('/')) {
    target = { socket: parts.at(-1)! };
    rest = parts.slice(0, -1);
  } else {
    if (parts.length < 3) return `expected [bind_address:]port:host:hostport, got "${spec}"`;
    target = parseEndpoint(`${bracketIfV6(parts.at(-2)!)}:${parts.at(-1)}`, 'target', false);
    rest = parts.slice(0, -2);
  }
  if (typeof target === 'string') return target;
  if (rest.length === 0 || rest.length > 2) return `expected [bind_address:]port:host:hostport, got "${spec}"`;
  const bindText = rest.length === 2 ? `${bracketIfV6(rest[0]!)}:${rest[1]}` : bracketIfV6(rest[0]!);
  const bind = parseEndpoint(bindText, 'bind', kind === 'remote');
  return typeof bind === 'string' ? bind : makeForward(kind, bind, target);
}

/** Splits on ":" outside brackets, dropping the brackets. */
function splitColons(text: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const c of text) {
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ':' && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    } else cur += c;
    if (depth < 0 || depth > 1) return undefined;
  }
  if (depth !== 0) return undefined;
  out.push(cur);
  return out;
}

function bracketIfV6(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
