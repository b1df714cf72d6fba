/**
 * Why a tunnel is not up, in plain words. ssh exits 255 for nearly every failure, so the
 * cause is read from its stderr (see stderr.ts); the kind decides how fast we retry. The fix
 * texts name each setting as the tunnel's own config source does (spec.settingNames): this
 * module knows no config source.
 */
import { knownHostsPattern } from '../config/host-keys.js';
import type { SettingNames, TunnelSpec } from '../config/spec.js';
import type { SshFiles } from './argv.js';

/**
 * - network: the server could not be reached; retried at once when a plain TCP connect to it
 *   succeeds again.
 * - transient: worth retrying on the normal exponential backoff.
 * - permanent: will not fix itself (keys, host keys, config); backs off to the cap at once.
 */
export type CauseKind = 'network' | 'transient' | 'permanent';

export type CauseCode =
  | 'connection_refused'
  | 'connect_timeout'
  | 'no_route'
  | 'dns_failure'
  | 'keepalive_timeout'
  | 'connection_closed'
  | 'connection_dropped'
  | 'server_penalty'
  | 'host_key_changed'
  | 'host_key_unknown'
  | 'host_key_rejected'
  | 'permission_denied'
  | 'remote_forward_failed'
  | 'local_port_in_use'
  | 'local_socket_in_use'
  | 'key_file_rejected'
  | 'ssh_option_rejected'
  | 'ssh_stuck'
  | 'handshake_timeout'
  | 'connect_stalled'
  | 'monitor_failed'
  | 'retry_requested'
  | 'stopped_by_request'
  | 'killed'
  | 'exited'
  | 'spawn_failed'
  | 'key_passphrase_wrong'
  | 'password_rejected'
  | 'prompt_refused'
  | 'secret_unreadable';

export interface Cause {
  code: CauseCode;
  kind: CauseKind;
  /** One sentence a person can act on. */
  summary: string;
  /** What to do about it, where there is something to do. */
  hint?: string;
  /** The ssh line it was read from, verbatim. */
  line?: string;
  /** Set when a jump host failed, not the server itself (see ssh/jump.ts). */
  jump?: { host: string; port: number; user?: string };
}

export const CAUSE_KIND: Record<CauseCode, CauseKind> = {
  connection_refused: 'network',
  connect_timeout: 'network',
  no_route: 'network',
  dns_failure: 'network',
  keepalive_timeout: 'network',
  connection_closed: 'transient',
  connection_dropped: 'transient',
  server_penalty: 'transient',
  host_key_changed: 'permanent',
  host_key_unknown: 'permanent',
  host_key_rejected: 'permanent',
  permission_denied: 'permanent',
  remote_forward_failed: 'transient',
  local_port_in_use: 'transient',
  local_socket_in_use: 'transient',
  key_file_rejected: 'permanent',
  ssh_option_rejected: 'permanent',
  ssh_stuck: 'transient',
  handshake_timeout: 'transient',
  connect_stalled: 'network',
  monitor_failed: 'network',
  stopped_by_request: 'transient',
  retry_requested: 'transient',
  killed: 'transient',
  exited: 'transient',
  spawn_failed: 'permanent',
  key_passphrase_wrong: 'permanent',
  // OpenSSH >= 9.8 charges every failed authentication 5 s of penalty (PerSourcePenalties
  // authfail:5): retrying a wrong password quickly would lock this address out of the server.
  password_rejected: 'permanent',
  prompt_refused: 'permanent',
  secret_unreadable: 'permanent',
};

export function makeCause(code: CauseCode, summary: string, extra: { hint?: string; line?: string } = {}): Cause {
  return { code, kind: CAUSE_KIND[code], summary, ...extra };
}

/** What the hints need to know of the tunnel, to name the right file, command and setting. */
export interface HintContext {
  host: string;
  port: number;
  user: string;
  hostKeyMode: 'known-hosts' | 'pinned' | 'trust-on-first-use' | 'ssh-config';
  knownHostsFile: string;
  identityFile?: string;
  /** The -R ports, for the stale-listener hint. */
  remotePorts: number[];
  /** Each setting as the user wrote it. */
  settings: SettingNames;
  /** The tunnel logs in with a password (through autotunnel's askpass helper). */
  passwordAuth?: boolean;
}

/** The hint context of a tunnel whose files are prepared. */
export function hintContext(spec: TunnelSpec, files: SshFiles): HintContext {
  return {
    host: spec.server.host,
    port: spec.server.port,
    user: spec.server.user,
    hostKeyMode: spec.server.hostKey.mode,
    knownHostsFile: files.knownHostsFile,
    ...(spec.server.identity ? { identityFile: spec.server.identity.file } : {}),
    remotePorts: spec.forwards.filter((f) => f.kind === 'remote' && !f.bindSocket).map((f) => f.bindPort),
    settings: spec.settingNames,
    ...(spec.server.auth?.password ? { passwordAuth: true } : {}),
  };
}

/** Adds the hint that fits this tunnel's configuration to a classified cause. */
export function withHint(cause: Cause, ctx: HintContext): Cause {
  const refined = forPassword(cause, ctx);
  const hint = refined.jump ? jumpHint(refined.code, refined.jump, ctx) : hintFor(refined.code, ctx);
  return hint === undefined ? refined : { ...refined, hint };
}

/**
 * "Permission denied" after ssh tried the password (or keyboard-interactive) method of a tunnel
 * that has one: the password was refused, which is worth its own cause and fix.
 */
function forPassword(cause: Cause, ctx: HintContext): Cause {
  if (cause.code !== 'permission_denied' || !ctx.passwordAuth) return cause;
  const methods = /Permission denied \(([^)]*)\)/.exec(cause.line ?? '')?.[1] ?? '';
  if (!/password|keyboard-interactive/.test(methods)) return cause;
  return { ...cause, code: 'password_rejected', kind: CAUSE_KIND.password_rejected, summary: `the server refused the password for ${ctx.user}@${ctx.host} (tried: ${methods})` };
}

/** The fix when a jump host failed: the same advice, about the jump host. */
function jumpHint(code: CauseCode, jump: NonNullable<Cause['jump']>, ctx: HintContext): string | undefined {
  const where = `the jump host ${jump.host.includes(':') ? `[${jump.host}]` : jump.host} port ${jump.port}`;
  switch (code) {
    case 'connection_refused':
    case 'no_route':
    case 'connect_timeout':
      return `check that sshd runs on ${where} and that this machine can reach it, and the jump host setting (-J, ProxyJump or server.jump)`;
    case 'dns_failure':
      return `check the spelling of the jump host ${jump.host} (-J, ProxyJump or server.jump) and this machine's DNS`;
    case 'permission_denied':
      return `${where} refused the tunnel's key: put the public half of ${ctx.identityFile ?? 'your key'} in ~${jump.user ?? ctx.user}/.ssh/authorized_keys there (the jump connection uses the same key as the server)`;
    default: {
      const hint = hintFor(code, { ...ctx, host: jump.host, port: jump.port, user: jump.user ?? ctx.user });
      return hint === undefined ? undefined : `${where}: ${hint}`;
    }
  }
}

function hintFor(code: CauseCode, ctx: HintContext): string | undefined {
  const hostPattern = knownHostsPattern(ctx.host, ctx.port);
  const names = ctx.settings;
  switch (code) {
    case 'host_key_changed':
      if (ctx.hostKeyMode === 'trust-on-first-use') {
        return `if the server's key was changed on purpose, forget the old one with: ssh-keygen -R '${hostPattern}' -f ${ctx.knownHostsFile} — otherwise someone may be intercepting the connection`;
      }
      if (ctx.hostKeyMode === 'pinned') return `if the server's key was changed on purpose, put its new public key in ${names.hostKey ?? 'the pinned host key'} (ssh-keyscan prints it); otherwise someone may be intercepting the connection`;
      return `if the server's key was changed on purpose, update its line in ${ctx.knownHostsFile} (ssh-keygen -R '${hostPattern}' -f FILE, then add the new key); otherwise someone may be intercepting the connection`;
    case 'host_key_unknown':
      return `add the server's key to ${ctx.knownHostsFile} (check its fingerprint, then: ssh-keyscan -p ${ctx.port} ${ctx.host} >> ${ctx.knownHostsFile})${names.hostKey ? `, or set ${names.hostKey}` : ''}`;
    case 'permission_denied':
      if (ctx.passwordAuth) return `the server did not offer password authentication: set PasswordAuthentication yes (or KbdInteractiveAuthentication yes with PAM) for ${ctx.user} in its sshd_config, or use a key`;
      return `put the public half of ${ctx.identityFile ?? 'your key'} in ~${ctx.user}/.ssh/authorized_keys on ${ctx.host}, and check ${names.user} (${ctx.user}) and ${names.key}; a key with a passphrase needs ${names.keyPassphrase ?? 'its passphrase configured'}`;
    case 'remote_forward_failed':
      return `the server's port ${ctx.remotePorts.join(', ') || '?'} is taken — usually by the server's own stale session from before a network drop, which it keeps until it notices the client is gone. Cure: set ClientAliveInterval 2 and ClientAliveCountMax 3 in the server's sshd_config so it drops dead sessions within about 18 s (autotunnel server-setup prints the whole block). Otherwise another process holds the port, or the server forbids forwarding (AllowTcpForwarding, PermitListen)`;
    case 'local_port_in_use':
      return `another process already listens on that port: stop it or choose another ${names.localPort}`;
    case 'local_socket_in_use':
      return 'another process listens on that socket path (a socket file nothing listens on is removed before each attempt), or its directory is missing or not writable: stop that process, fix the directory, or give this forward another path';
    case 'connection_refused':
      return `check that sshd runs on ${ctx.host} port ${ctx.port} (${names.host}, ${names.port})`;
    case 'connection_dropped':
      return 'retrying after a short random wait, so that many clients spread out; if it persists, raise MaxStartups in the server\'s sshd_config';
    case 'server_penalty':
      return `OpenSSH 9.8 and later drop every connection from an address they penalise (PerSourcePenalties: failed logins, or connections closed before logging in). Exempt this address on ${ctx.host} with PerSourcePenaltyExemptList in sshd_config, and run one autotunnel with a config file for many tunnels rather than many processes; the penalty ends by itself (sshd logs "activating ... penalty")`;
    case 'dns_failure':
      return `check the spelling of ${names.host} (${ctx.host}) and this machine's DNS`;
    case 'password_rejected':
      return `check the password in ${names.password ?? 'the password setting'} and the user ${ctx.user} (${names.user}); autotunnel waits the full backoff before trying again, because OpenSSH 9.8 and later penalize every failed login from this address (PerSourcePenalties). Send SIGUSR1 after fixing it to retry at once`;
    case 'key_passphrase_wrong':
      return `put the key's passphrase in ${names.keyPassphrase ?? 'the key passphrase setting'} (check it with: ssh-keygen -y -f ${ctx.identityFile ?? 'KEY'}); the file is read again before the next attempt`;
    case 'prompt_refused':
      return 'the server wants something autotunnel cannot give unattended (a second factor, a confirmation): give this account password-only or key authentication for the tunnel';
    case 'secret_unreadable':
      return 'mount the secret file again, or fix the setting; it is read again before the next attempt';
    case 'key_file_rejected':
      return `check that ${ctx.identityFile ?? 'the key'} is an unencrypted OpenSSH or PEM private key`;
    default:
      return undefined;
  }
}
