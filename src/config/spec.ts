/**
 * The one validated description of a tunnel. Every config source (environment variables today,
 * a YAML file and command-line flags later) produces this type; everything downstream — the ssh
 * argv builder, the supervisor, the observers — only ever reads it.
 */

export type ForwardKind = 'local' | 'remote' | 'dynamic';

/** One `-L`, `-R` or `-D` forward. */
export interface Forward {
  kind: ForwardKind;
  /** Where the listener is: on this machine for local/dynamic, on the server for remote. */
  bindAddress?: string;
  /** 0 for remote forwards lets the server allocate a port (ssh reports it); 0 when bindSocket is set. */
  bindPort: number;
  /** A Unix socket path to listen on instead of a TCP port. */
  bindSocket?: string;
  /** Where connections go; absent for dynamic (SOCKS) forwards. */
  targetHost?: string;
  targetPort?: number;
  /** A Unix socket to connect to instead of host:port. */
  targetSocket?: string;
}

/**
 * How the server's host key is verified. Never "accept anything": without a known_hosts file
 * we trust on first use and refuse a changed key afterwards.
 */
export type HostKeyPolicy =
  | { mode: 'known-hosts'; file: string; checkHostIp: boolean }
  | { mode: 'pinned'; knownHostsLines: string[]; checkHostIp: boolean }
  | { mode: 'trust-on-first-use'; checkHostIp: boolean }
  /** One-off and autossh-style command lines: ssh's own configuration decides (with BatchMode, unknown keys fail). */
  | { mode: 'ssh-config' };

export interface Identity {
  /** The key file as the user gave it (it may be copied to a private file before use). */
  file: string;
  /** Whether the user named it explicitly (an explicit missing file is an error). */
  explicit: boolean;
}

export interface ServerSpec {
  user: string;
  host: string;
  port: number;
  /** Absent: ssh's own default identities and agent are used. */
  identity?: Identity;
  hostKey: HostKeyPolicy;
  /** Jump hosts ([user@]host[:port]), in order → -J. */
  jump?: string[];
  /** Port/user not given on an ssh-style command line: no -p/-l, so ssh's own config decides. */
  implicit?: { port?: boolean; user?: boolean };
}

export interface KeepaliveSpec {
  intervalSec: number;
  countMax: number;
  /** True where the value came from the user, so it is passed before (and wins over) SSH_OPTIONS. */
  explicit: { interval: boolean; countMax: boolean };
}

export interface BackoffSpec {
  /** Delay after the second consecutive failure; the first failure after a stable period retries at once. */
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** ± fraction applied to every delay, so many tunnels don't retry in lockstep. */
  jitter: number;
  /** Up this long and the failure count starts again from zero. */
  stableAfterMs: number;
}

export interface TunnelSpec {
  name: string;
  server: ServerSpec;
  forwards: Forward[];
  keepalive: KeepaliveSpec;
  connectTimeoutSec: number;
  /** Extra ssh arguments, already split (never through a shell) and checked. */
  extraArgs: string[];
  backoff: BackoffSpec;
  /** Whether readiness (/readyz, `autotunnel health`) waits for this tunnel; default true. */
  required?: boolean;
  /** false: defined but never started (state "disabled") until `autotunnel start NAME`. */
  enabled?: boolean;
  /** An active test of the target through a local forward (`check: {tcp: true, every: 30s}`). */
  check?: TargetCheckSpec;
  /** Readiness also waits for the last forwarded connection to have reached the target. */
  readyRequiresTarget?: boolean;
}

export interface TargetCheckSpec {
  /** Connect through each -L forward this often; ssh's answer tells whether the target was reached. */
  everyMs: number;
}

export const DEFAULT_BACKOFF: BackoffSpec = {
  initialMs: 200,
  maxMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
  stableAfterMs: 10_000,
};

/**
 * Keepalive defaults: a silent server is dropped after about interval × (countMax + 1) = 8 s,
 * inside the 10 s budget for finding a dead link. Costs one tiny packet every 2 s while idle.
 */
export const DEFAULT_KEEPALIVE_INTERVAL_SEC = 2;
export const DEFAULT_KEEPALIVE_COUNT_MAX = 3;
export const DEFAULT_CONNECT_TIMEOUT_SEC = 10;

/** The forward in ssh's own notation, e.g. `-L 127.0.0.1:5432:db:5432`. */
export function describeForward(f: Forward): string {
  return `${FLAG[f.kind]} ${forwardSpec(f)}`;
}

const FLAG: Record<ForwardKind, string> = { local: '-L', remote: '-R', dynamic: '-D' };

/** The argument of -L/-R/-D for this forward. */
export function forwardSpec(f: Forward): string {
  const bind = f.bindSocket ?? `${f.bindAddress ? `${bracket(f.bindAddress)}:` : ''}${f.bindPort}`;
  if (f.kind === 'dynamic') return bind;
  const target = f.targetSocket ?? `${bracket(f.targetHost ?? '')}:${f.targetPort}`;
  return `${bind}:${target}`;
}

/** IPv6 literals need brackets inside ssh's colon-separated forward notation. */
export function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function describeServer(s: ServerSpec): string {
  return `${s.user}@${bracket(s.host)}:${s.port}`;
}
