/**
 * The ssh command line, as a pure function of the spec. ssh keeps the first value it is given
 * for most options, so the order encodes precedence: what supervision needs, then what the user
 * set explicitly, then the user's extra options, then our defaults (which those may override).
 */
import { forwardSpec, type Forward, type TunnelSpec } from '../config/spec.js';

/** Concrete files the spec's key and host-key policy resolve to on this machine. */
export interface SshFiles {
  /** Private key to offer; absent → ssh's default identities and agent. */
  identityFile?: string;
  /** The known_hosts file ssh reads (and, in trust-on-first-use mode, writes). */
  knownHostsFile: string;
  /** A private ssh_config given with -F, so that jump connections use the tunnel's key and host keys (see jump.ts). */
  configFile?: string;
  /** autotunnel's own ssh-agent holding the key; identityFile is then the key's public half. */
  identityAgent?: string;
  /** Password authentication through autotunnel's askpass helper. */
  password?: boolean;
  /**
   * A socket path in a private directory, unknown to the server: see READY_MARKER below.
   * Absent → readiness rests on ssh's lines alone (tests, `check`).
   */
  readyMarker?: string;
}

/**
 * Where the marker forward leads if anyone ever connected to it (no one can: its socket sits in a
 * 0700 directory of ours). ssh binds local forwards only after it has authenticated to the
 * verified server, and says "Local forwarding listening on path MARKER." first of all of them:
 * that line cannot come from the peer, which never learns the path, so only lines after it are
 * trusted to say a forward works (issue 11: before the host key is verified, whoever answers can
 * put any line on ssh's stderr).
 */
const READY_MARKER_TARGET = '127.0.0.1:9';

export function buildSshArgs(spec: TunnelSpec, files: SshFiles): string[] {
  const { server, keepalive } = spec;
  const opt = (keyword: string, value: string | number) => ['-o', `${keyword}=${value}`];

  const args: string[] = [
    // -v: readiness ("Local forwarding listening", "forwarding_success") is only reported at debug1.
    '-v',
    '-N',
    ...(files.configFile ? ['-F', files.configFile] : []),
    // BatchMode=yes turns password authentication off altogether (ssh 9.x: "No more authentication
    // methods to try", askpass or not), so a password tunnel runs without it: its askpass helper
    // refuses every prompt but a password one, and host keys are never confirmed interactively.
    ...opt('BatchMode', files.password ? 'no' : 'yes'),
    // One password try per connection: OpenSSH >= 9.8 penalizes each failed one (authfail:5).
    ...(files.password ? opt('NumberOfPasswordPrompts', 1) : []),
    ...(files.password && !files.identityFile ? opt('PreferredAuthentications', 'keyboard-interactive,password') : []),
    ...opt('ExitOnForwardFailure', 'yes'),
    // A user's ControlMaster in ~/.ssh/config would hide the real connection from us.
    ...opt('ControlMaster', 'no'),
    ...opt('ControlPath', 'none'),
  ];
  const hostKey = server.hostKey;
  // ssh-config mode (ssh-style command lines): the user's own known_hosts and settings apply.
  if (hostKey.mode !== 'ssh-config') {
    args.push(
      ...opt('StrictHostKeyChecking', hostKey.mode === 'trust-on-first-use' ? 'accept-new' : 'yes'),
      ...opt('UserKnownHostsFile', sshConfigPath(files.knownHostsFile)),
      ...opt('CheckHostIP', hostKey.checkHostIp ? 'yes' : 'no'),
      // Keys are pinned by the user or by first use; ssh must not rewrite a mounted file.
      ...opt('UpdateHostKeys', 'no'),
      // Keys trusted on first use stay readable (Debian's ssh_config hashes them): one can see whose key it is.
      ...opt('HashKnownHosts', 'no'),
    );
  }
  if (keepalive.explicit.interval) args.push(...opt('ServerAliveInterval', keepalive.intervalSec));
  if (keepalive.explicit.countMax) args.push(...opt('ServerAliveCountMax', keepalive.countMax));
  if (files.identityFile) {
    // IdentitiesOnly: agent keys tried first could exhaust the server's MaxAuthTries.
    // ssh expands %-tokens in identity files ("%d" is the home directory). -i cannot carry a
    // literal %: ssh checks the unexpanded -i path exists before it expands it, so "%%" fails
    // that check and "%" is expanded. IdentityFile= takes the escaped form.
    if (files.identityFile.includes('%')) args.push(...opt('IdentityFile', sshConfigPath(files.identityFile)));
    else args.push('-i', files.identityFile);
    args.push(...opt('IdentitiesOnly', 'yes'));
    // That key from our own agent, and no other agent's keys.
    if (files.identityAgent) args.push(...opt('IdentityAgent', sshConfigPath(files.identityAgent)));
  }

  // Before any forward of the user's (extra arguments included): ssh sets them up in order.
  if (files.readyMarker) args.push('-L', `${files.readyMarker}:${READY_MARKER_TARGET}`);

  if (server.jump?.length) args.push('-J', server.jump.join(','));
  args.push(...spec.ssh.extraArgs);

  if (!keepalive.explicit.interval) args.push(...opt('ServerAliveInterval', keepalive.intervalSec));
  if (!keepalive.explicit.countMax) args.push(...opt('ServerAliveCountMax', keepalive.countMax));
  args.push(...opt('ConnectTimeout', spec.connectTimeoutSec));

  for (const f of spec.forwards) args.push(...forwardArgs(f));

  if (!server.implicit?.port) args.push('-p', String(server.port));
  if (!server.implicit?.user) args.push('-l', server.user);
  args.push('--', server.host);
  return args;
}

/**
 * A file name as the value of an -o option. ssh splits that value into words as in its config
 * files (a space would make "/a b/known_hosts" two files) and then expands %-tokens in it
 * ("%d" is the home directory, an unknown "%x" is fatal), so quote and escape what it would read.
 */
export function sshConfigPath(path: string): string {
  const escaped = escapePercent(path);
  return /[\s"'\\#]/.test(escaped) ? `"${escaped.replace(/["\\]/g, '\\$&')}"` : escaped;
}

export function forwardArgs(f: Forward): string[] {
  // ssh expands %-tokens in forwards' socket paths too.
  const g: Forward = { ...f };
  if (g.bindSocket !== undefined) g.bindSocket = escapePercent(g.bindSocket);
  if (g.targetSocket !== undefined) g.targetSocket = escapePercent(g.targetSocket);
  return [f.kind === 'local' ? '-L' : f.kind === 'remote' ? '-R' : '-D', forwardSpec(g)];
}

/** A path ssh will run through its %-token expansion, with every % meaning itself. */
export function escapePercent(path: string): string {
  return path.replace(/%/g, '%%');
}

/** For logs: the command as a user could paste it, quoting only where needed. */
export function formatCommand(command: string, args: string[]): string {
  // "[" and "]" are glob characters: zsh refuses an unquoted [::1]:8080 ("no matches found").
  return [command, ...args].map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
