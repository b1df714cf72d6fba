/**
 * Jump hosts (ProxyJump). OpenSSH turns `-J user@host:port` into a ProxyCommand that runs a
 * second ssh with only `-l`, `-p`, `-J` (the remaining hops), `-v` and `-F` passed on (ssh.c):
 * none of our `-i`, `-o UserKnownHostsFile`, `StrictHostKeyChecking` or `BatchMode`. In a
 * container with an empty ~/.ssh that jump connection fails "Host key verification failed",
 * forever. Since `-F` is the one thing passed on (to every hop), the tunnel's key and host-key
 * policy go into a private ssh_config given with `-F`; that file then includes the user's own
 * ~/.ssh/config and /etc/ssh/ssh_config, so nothing else changes.
 */
import type { TunnelSpec } from '../config/spec.js';
import type { Cause } from './causes.js';
import { sshConfigPath, type SshFiles } from './argv.js';

export interface JumpHost {
  user?: string;
  host: string;
  port: number;
  /** As the user wrote it. */
  text: string;
}

/** The jump hosts of a tunnel, from `server.jump` or from `-J`/`-o ProxyJump` in the extra options. */
export function jumpHostsOf(spec: TunnelSpec): JumpHost[] {
  const words = spec.server.jump ?? jumpWords(spec.ssh.extraArgs);
  return words.flatMap((w) => w.split(',')).filter(Boolean).map(parseJumpHost);
}

function jumpWords(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '-J' || word === '-o') {
      const value = args[i + 1] ?? '';
      i++;
      if (word === '-J') out.push(value);
      else out.push(...proxyJumpValue(value));
    } else if (word.startsWith('-J')) out.push(word.slice(2));
    else if (word.startsWith('-o')) out.push(...proxyJumpValue(word.slice(2)));
  }
  return out;
}

function proxyJumpValue(setting: string): string[] {
  const m = /^\s*proxyjump\s*(?:=|\s)\s*(\S+)\s*$/i.exec(setting);
  return m && m[1]!.toLowerCase() !== 'none' ? [m[1]!] : [];
}

/** `[user@]host[:port]`, `[user@][v6]:port` or `ssh://[user@]host[:port]`. */
export function parseJumpHost(text: string): JumpHost {
  const rest = text.replace(/^ssh:\/\//, '');
  const at = rest.lastIndexOf('@');
  const user = at > 0 ? rest.slice(0, at) : undefined;
  const hostPort = rest.slice(at + 1);
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(hostPort);
  const [host, port] = v6 ? [v6[1]!, v6[2]] : plain ? [plain[1]!, plain[2]] : [hostPort, undefined];
  return { ...(user ? { user } : {}), host, port: port ? Number(port) : 22, text };
}

/** `host:port` as the log names a jump host. */
export function describeJumpHost(j: JumpHost): string {
  return `${j.host.includes(':') ? `[${j.host}]` : j.host}:${j.port}`;
}

/**
 * Whether the tunnel needs the private ssh_config: it goes through a jump host, and its host keys
 * are autotunnel's business (on an ssh-style command line the user's own configuration decides,
 * for the jump as for the server), and the user did not give a -F of their own.
 */
export function needsJumpConfig(spec: TunnelSpec): boolean {
  if (spec.server.hostKey.mode === 'ssh-config') return false;
  if (spec.ssh.extraArgs.some((a) => a.startsWith('-F'))) return false;
  return jumpHostsOf(spec).length > 0;
}

/**
 * The private ssh_config for the jump connections: every hop gets the tunnel's identity and
 * host-key policy, BatchMode (never a prompt), no connection sharing, and the same timeouts and
 * keepalives as the tunnel. Command-line options beat a config file, so the main connection is
 * unchanged; ssh keeps the first value it reads, so these beat the included files.
 */
export function jumpSshConfig(spec: TunnelSpec, files: SshFiles): string {
  const { hostKey } = spec.server;
  if (hostKey.mode === 'ssh-config') throw new Error('jumpSshConfig: the user\'s own ssh configuration decides in ssh-config mode');
  const lines = [
    `# Written by autotunnel for tunnel ${spec.name}: its jump connections use the tunnel's own key and host keys.`,
    'Host *',
    '  BatchMode yes',
    `  StrictHostKeyChecking ${hostKey.mode === 'trust-on-first-use' ? 'accept-new' : 'yes'}`,
    `  UserKnownHostsFile ${sshConfigPath(files.knownHostsFile)}`,
    `  CheckHostIP ${hostKey.checkHostIp ? 'yes' : 'no'}`,
    '  UpdateHostKeys no',
    '  HashKnownHosts no',
    '  ControlMaster no',
    '  ControlPath none',
    `  ConnectTimeout ${spec.connectTimeoutSec}`,
    `  ServerAliveInterval ${spec.keepalive.intervalSec}`,
    `  ServerAliveCountMax ${spec.keepalive.countMax}`,
  ];
  if (files.identityFile) lines.push(`  IdentityFile ${sshConfigPath(files.identityFile)}`, '  IdentitiesOnly yes');
  // A key with a passphrase is offered from autotunnel's own agent, to the jump hosts as well.
  if (files.identityAgent) lines.push(`  IdentityAgent ${sshConfigPath(files.identityAgent)}`);
  // What ssh would have read without -F; a missing file is skipped.
  lines.push('Include ~/.ssh/config', 'Include /etc/ssh/ssh_config');
  return lines.join('\n') + '\n';
}

/**
 * ssh pastes the -F path into the jump's ProxyCommand, which runs through a shell, unquoted (and
 * expands %-tokens in it): only a path of plain characters may go there.
 */
export function safeForProxyCommand(path: string): boolean {
  return /^[A-Za-z0-9_./+-]+$/.test(path);
}

/**
 * Counts the hops of one ssh run that got through: each ssh of a ProxyJump chain prints
 * "Authenticated to …" (at -v, which ssh passes on to every hop) once logged in, hop by hop, the
 * server last. A failure before the n-th such line is the n-th jump host's.
 */
export class JumpProgress {
  private authenticated = 0;
  constructor(private readonly jumps: JumpHost[]) {}

  observe(text: string): void {
    if (/^Authenticated to /.test(text)) this.authenticated++;
  }

  /** The jump host that was being reached when ssh failed; undefined once every hop was through. */
  get failedHop(): JumpHost | undefined {
    return this.jumps[this.authenticated];
  }
}

/** The cause, said of the jump host (its address, and "the jump host" where it said "the server"). */
export function asJumpFailure(cause: Cause, jump: JumpHost): Cause {
  return {
    ...cause,
    summary: `the jump host ${describeJumpHost(jump)} failed: ${cause.summary.replace(/\bthe server\b/g, 'the jump host')}`,
    jump: { host: jump.host, port: jump.port, ...(jump.user ? { user: jump.user } : {}) },
  };
}
