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
  | 'key_file_rejected'
  | 'ssh_option_rejected'
  | 'ssh_stuck'
  | 'handshake_timeout'
  | 'connect_stalled'
  | 'local_port_not_accepting'
  | 'monitor_failed'
  | 'retry_requested'
  | 'killed'
  | 'exited'
  | 'spawn_failed';

export interface Cause {
  code: CauseCode;
  kind: CauseKind;
  /** One sentence a person can act on. */
  summary: string;
  /** What to do about it, where there is something to do. */
  hint?: string;
  /** The ssh line it was read from, verbatim. */
  line?: string;
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
  key_file_rejected: 'permanent',
  ssh_option_rejected: 'permanent',
  ssh_stuck: 'transient',
  handshake_timeout: 'transient',
  connect_stalled: 'network',
  local_port_not_accepting: 'transient',
  monitor_failed: 'network',
  retry_requested: 'transient',
  killed: 'transient',
  exited: 'transient',
  spawn_failed: 'permanent',
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
  };
}

/** Adds the hint that fits this tunnel's configuration to a classified cause. */
export function withHint(cause: Cause, ctx: HintContext): Cause {
  const hint = hintFor(cause.code, ctx);
  return hint === undefined ? cause : { ...cause, hint };
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
      return `put the public half of ${ctx.identityFile ?? 'your key'} in ~${ctx.user}/.ssh/authorized_keys on ${ctx.host}, and check ${names.user} (${ctx.user}) and ${names.key}; keys with a passphrase cannot be used unattended`;
    case 'remote_forward_failed':
      return `the server's port ${ctx.remotePorts.join(', ') || '?'} is taken — usually by the server's own stale session from before a network drop, which it keeps until it notices the client is gone. Cure: set ClientAliveInterval 10 and ClientAliveCountMax 3 in the server's sshd_config so it drops dead sessions within 30 s. Otherwise another process holds the port, or the server forbids forwarding (AllowTcpForwarding, PermitListen)`;
    case 'local_port_in_use':
      return `another process already listens on that port: stop it or choose another ${names.localPort}`;
    case 'connection_refused':
      return `check that sshd runs on ${ctx.host} port ${ctx.port} (${names.host}, ${names.port})`;
    case 'connection_dropped':
      return 'retrying after a short random wait, so that many clients spread out; if it persists, raise MaxStartups in the server\'s sshd_config';
    case 'server_penalty':
      return `OpenSSH 9.8 and later drop every connection from an address they penalise (PerSourcePenalties: failed logins, or connections closed before logging in). Exempt this address on ${ctx.host} with PerSourcePenaltyExemptList in sshd_config, and run one autotunnel with a config file for many tunnels rather than many processes; the penalty ends by itself (sshd logs "activating ... penalty")`;
    case 'dns_failure':
      return `check the spelling of ${names.host} (${ctx.host}) and this machine's DNS`;
    case 'key_file_rejected':
      return `check that ${ctx.identityFile ?? 'the key'} is an unencrypted OpenSSH or PEM private key`;
    default:
      return undefined;
  }
}
