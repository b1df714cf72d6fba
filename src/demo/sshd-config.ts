/**
 * The sshd_config of a throwaway OpenSSH server on loopback: the demo's (throwaway-sshd.ts) and
 * the test harness's (test/harness/sshd.ts) share these lines; each adds its own after them.
 */

export interface ThrowawaySshdFiles {
  port: number;
  /** Where it listens; loopback. */
  listen: string;
  hostKey: string;
  authorizedKeys: string;
}

export function throwawaySshdConfig(f: ThrowawaySshdFiles): string[] {
  return [
    `Port ${f.port}`,
    `ListenAddress ${f.listen}`,
    `HostKey ${f.hostKey}`,
    `AuthorizedKeysFile ${f.authorizedKeys}`,
    // No PAM: root in a container has no usable PAM stack, and pubkey is all we need.
    'UsePAM no',
    // A temp dir and its files do not pass sshd's ownership/mode checks.
    'StrictModes no',
    // -D keeps sshd in the foreground; a pid file would only collide between runs.
    'PidFile none',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes',
  ];
}
