/**
 * The one validated description of a tunnel. Every config source (the SSH_* variables, a YAML
 * file, an ssh-style or autossh command line) produces this type; everything downstream — the
 * ssh argv builder, the supervisor, the observers — only ever reads it. Optional fields are left
 * out, never set to undefined: a reload compares specs with isDeepStrictEqual.
 */
import { bracket } from '../net/address.js';

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
  /**
   * SHA-256 of the file's content when the configuration was read (adapters/key-digest.ts): a key
   * rotated in place under the same name is a changed spec, so a reload makes a new private copy.
   */
  contentDigest?: string;
}

/**
 * Where a secret (a key's passphrase, a password) comes from. The value itself never enters the
 * spec, which is logged, compared and shown: it is read from its source when it is needed.
 */
export interface SecretSource {
  /** A file holding the secret alone on one line (a Docker or Kubernetes secret)… */
  file?: string;
  /** …or one of autotunnel's environment variables (never passed on to ssh). */
  env?: string;
}

/** Secrets beyond a plain key file: see config/secrets.ts. */
export interface ServerAuth {
  /** The identity's passphrase: the key is held by autotunnel's own ssh-agent. */
  keyPassphrase?: SecretSource;
  /** Password (and keyboard-interactive "Password:") authentication through SSH_ASKPASS. */
  password?: SecretSource;
}

export interface ServerSpec {
  user: string;
  host: string;
  port: number;
  /** Absent: ssh's own default identities and agent are used. */
  identity?: Identity;
  hostKey: HostKeyPolicy;
  auth?: ServerAuth;
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

/**
 * Each setting named the way its user wrote it ("SSH_REMOTE_PORT", "tunnels[2].server.port",
 * "-p"), so fix texts and option refusals speak the user's words whatever the source.
 */
export interface SettingNames {
  host: string;
  port: string;
  user: string;
  /** The private key. */
  key: string;
  /** The forwards that listen on this machine, for "that port is in use". */
  localPort: string;
  /** Where a pinned host key is set; absent where host keys follow ssh's own configuration. */
  hostKey?: string;
  /** Where a known_hosts file is named; absent likewise. */
  knownHosts?: string;
  /** Where the key's passphrase and the password come from, when the tunnel has them. */
  keyPassphrase?: string;
  password?: string;
}

/** A tunnel's name: in logs, metrics labels and URLs. */
export const TUNNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export interface TunnelSpec {
  name: string;
  server: ServerSpec;
  forwards: Forward[];
  keepalive: KeepaliveSpec;
  connectTimeoutSec: number;
  /** The user's extra ssh options, and what they change. */
  ssh: SshSpec;
  backoff: BackoffSpec;
  /** Whether readiness (/readyz, `autotunnel health`) waits for this tunnel; default true. */
  required?: boolean;
  /** An end-to-end check through the tunnel while it is up (autossh's -M); absent: none. */
  monitor?: MonitorSpec;
  /** How the user wrote each setting (for fix texts); not part of what the tunnel does. */
  settingNames: SettingNames;
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
  /** For -D forwards: where to ask the SOCKS proxy to connect. */
  socksTarget?: { host: string; port: number };
}

/** The user's extra ssh options and what they change, read once by the config source. */
export interface SshSpec {
  /** Extra ssh arguments, already split (never through a shell) and checked. */
  extraArgs: string[];
  /** They add -R forwards, so readiness waits for ssh's "all forwards confirmed". */
  addsRemoteForwards: boolean;
  /** ssh does not connect straight to the server (jump host, ProxyJump, ProxyCommand). */
  proxied: boolean;
}

/** autossh's -M monitor: a message through the tunnel that must come back, or ssh is restarted. */
export interface MonitorSpec {
  firstAfterMs: number;
  everyMs: number;
  /** What the check is, for the cause: "monitor message (-M)". */
  what: string;
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

/** The keepalive every source starts from; `explicit` marks what the user then sets. */
export function defaultKeepalive(): KeepaliveSpec {
  return { intervalSec: DEFAULT_KEEPALIVE_INTERVAL_SEC, countMax: DEFAULT_KEEPALIVE_COUNT_MAX, explicit: { interval: false, countMax: false } };
}

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

export function describeServer(s: ServerSpec): string {
  return `${s.user}@${bracket(s.host)}:${s.port}`;
}
