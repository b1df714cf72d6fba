/**
 * Host and address notation shared by every layer: the config parsers, the supervisor's probes
 * and the HTTP listener's URLs. Pure string work, importing nothing.
 */

/**
 * A host as the spec keeps it: an IPv6 literal without the brackets users may write around it.
 * Stripped once by the config parsers, so ssh's argument, the reachability probe and known_hosts
 * patterns all start from the same form (brackets are added back where a notation needs them).
 */
export function unbracket(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1');
}

/** IPv6 literals need brackets inside colon-separated notations (ssh's forwards, host:port). */
export function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** "host:port", an IPv6 host in brackets. */
export function formatHostPort(host: string, port: number): string {
  return `${bracket(host)}:${port}`;
}

/** Addresses that only this machine (or only the server, for -R) can reach. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const bare = address.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\./.test(bare);
}

/** Where to connect to reach a listener bound to `bind`: a wildcard bind is reached on loopback. */
export function connectAddress(bind: string | undefined): string {
  if (!bind || bind === '*' || bind === '0.0.0.0') return '127.0.0.1';
  if (bind === '::' || bind === '[::]') return '::1';
  return unbracket(bind);
}

/** The http:// URL a client uses to reach a listener bound to host:port. */
export function baseUrl(address: { host: string; port: number }, actualPort = address.port): string {
  return `http://${formatHostPort(connectAddress(address.host), actualPort)}`;
}
