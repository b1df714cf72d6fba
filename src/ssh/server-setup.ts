/**
 * What an SSH server needs for these tunnels and nothing more, as text ready to paste: the
 * authorized_keys line restricted to exactly these forwards, and an sshd_config Match block.
 * Pure: the public keys are given. Option names and matching are OpenSSH's (sshd(8)
 * AUTHORIZED_KEYS FILE FORMAT, sshd_config(5) PermitListen/PermitOpen).
 */
import { describeServer, type Forward, type TunnelSpec } from '../config/spec.js';
import { bracket, isLoopback } from '../net/address.js';

/**
 * sshd probes a silent client and drops it after 3 unanswered probes: a dead session (a client
 * gone without closing, after a network drop) frees its -R port within seconds instead of
 * holding it until TCP gives up (hours). A probe costs a few bytes per idle session.
 */
export const CLIENT_ALIVE_INTERVAL = 2;
export const CLIENT_ALIVE_COUNT_MAX = 3;
/**
 * Upper bound on how long a dead session keeps its ports. Not interval × (count + 1): sshd (9.2)
 * probes only once MORE than a whole interval has passed since the last traffic, in whole
 * seconds, so each probe comes about two intervals apart. Measured against a stopped client:
 * 5 s × 3 → 39 s; 2 s × 3 → 14.9 and 15.1 s, and 16.2 s until the port could be bound again
 * (test/integration/server-setup.test.ts) — hence one interval more.
 */
export const CLIENT_ALIVE_BUDGET_SEC = 2 * CLIENT_ALIVE_INTERVAL * (CLIENT_ALIVE_COUNT_MAX + 1) + CLIENT_ALIVE_INTERVAL;

/** The program a session runs instead of a shell: none for a tunnel (-N), and nothing if one asks. */
export const NO_COMMAND = '/bin/false';

export interface ServerSetupInput {
  specs: TunnelSpec[];
  /** Public key line ("type base64 [comment]") of each tunnel's identity, by tunnel name. */
  publicKeys: Map<string, string>;
}

/**
 * The listen address as ssh asks for it: none given → "localhost" (which PermitListen matches
 * by that name, not as 127.0.0.1), "" or "*" → every address, else the address as written.
 */
function listenSpec(f: Forward): string {
  const port = f.bindPort === 0 ? '*' : String(f.bindPort);
  if (f.bindAddress === undefined) return port;
  if (f.bindAddress === '' || f.bindAddress === '*') return `*:${port}`;
  return `${bracket(f.bindAddress)}:${port}`;
}

function openSpec(f: Forward): string {
  return `${bracket(f.targetHost ?? '')}:${f.targetPort}`;
}

interface ServerGroup {
  user: string;
  host: string;
  where: string;
  tunnels: TunnelSpec[];
}

function groups(specs: TunnelSpec[]): ServerGroup[] {
  const out = new Map<string, ServerGroup>();
  for (const spec of specs) {
    const key = `${spec.server.user}@${spec.server.host}:${spec.server.port}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { user: spec.server.user, host: spec.server.host, where: describeServer(spec.server), tunnels: [] }));
    g.tunnels.push(spec);
  }
  return [...out.values()];
}

const unique = (xs: string[]) => [...new Set(xs)];

export function serverSetupText(input: ServerSetupInput): string {
  const out: string[] = [];
  for (const g of groups(input.specs)) {
    const forwards = g.tunnels.flatMap((t) => t.forwards);
    const tcpRemote = forwards.filter((f) => f.kind === 'remote' && !f.bindSocket);
    const tcpLocal = forwards.filter((f) => f.kind === 'local' && !f.targetSocket);
    const dynamic = forwards.some((f) => f.kind === 'dynamic');
    const sockets = forwards.filter((f) => f.bindSocket || f.targetSocket);
    const wantsRemote = forwards.some((f) => f.kind === 'remote');
    const wantsLocal = forwards.some((f) => f.kind !== 'remote');
    const listens = unique(tcpRemote.map(listenSpec));
    const opens = dynamic ? [] : unique(tcpLocal.map(openSpec));
    const beyondLoopback = tcpRemote.filter((f) => f.bindAddress !== undefined && !isLoopback(f.bindAddress));
    const names = g.tunnels.map((t) => `"${t.name}"`).join(', ');

    out.push(`# ── ${g.where}, for tunnel${g.tunnels.length > 1 ? 's' : ''} ${names} ──`, '');
    const keyTunnels = g.tunnels.filter((t) => input.publicKeys.has(t.name));
    if (keyTunnels.length) {
      // restrict: no pty, no agent or X11 forwarding, no ~/.ssh/rc, no forwarding; then back only
      // what the tunnel uses. command=: a key that asks for a shell or command gets nothing.
      const options = [
        'restrict',
        'port-forwarding',
        `command="${NO_COMMAND}"`,
        ...listens.map((l) => `permitlisten="${l}"`),
        ...opens.map((o) => `permitopen="${o}"`),
      ];
      out.push(`# 1. Add to ~${g.user}/.ssh/authorized_keys on ${g.host}: this key may carry exactly these forwards, nothing else.`);
      if (dynamic) out.push('#    -D (a SOCKS proxy) reaches any host and port the server can: no permitopen can narrow it to targets, so none is set; restrict what the server may reach with a firewall.');
      // sshd rejects the whole key line for permitopen="none" (9.2, tried): the Match block's
      // PermitOpen none / PermitListen none close the direction the tunnels do not use.
      if (!wantsLocal || !wantsRemote) out.push(`#    The key line cannot forbid ${wantsLocal ? '-R' : '-L/-D'} by itself (authorized_keys has no "none" for ${wantsLocal ? 'permitlisten' : 'permitopen'}): the Match block below does.`);
      if (sockets.length) out.push('#    Unix-socket forwards are not covered by permitlisten/permitopen (OpenSSH has no per-socket permission for keys).');
      for (const key of unique(keyTunnels.map((t) => input.publicKeys.get(t.name)!))) out.push(`${options.join(',')} ${key}`);
    } else {
      out.push(`# 1. No key: these tunnels log in with a password; the Match block below allows only their forwards.`);
    }
    out.push('');

    const forwarding = wantsRemote && wantsLocal ? 'yes' : wantsRemote ? 'remote' : 'local';
    const anyPassword = g.tunnels.some((t) => t.server.auth?.password);
    out.push(
      `# 2. Add to the END of /etc/ssh/sshd_config on ${g.host} (a Match block lasts to the next Match), check with "sshd -t", then reload sshd:`,
      `Match User ${g.user}`,
      `    AllowTcpForwarding ${forwarding}`,
      `    PermitListen ${listens.join(' ') || 'none'}`,
      `    PermitOpen ${dynamic ? 'any' : opens.join(' ') || 'none'}`,
      `    AllowStreamLocalForwarding ${sockets.length ? forwarding : 'no'}`,
      `    GatewayPorts ${beyondLoopback.length ? 'clientspecified' : 'no'}`,
      // Match-block form of the cure for a -R port held by a dead session.
      `    ClientAliveInterval ${CLIENT_ALIVE_INTERVAL}`,
      `    ClientAliveCountMax ${CLIENT_ALIVE_COUNT_MAX}`,
      '    PermitTTY no',
      '    X11Forwarding no',
      '    AllowAgentForwarding no',
      '    PermitTunnel no',
      `    ForceCommand ${NO_COMMAND}`,
      ...(anyPassword ? ['    PasswordAuthentication yes'] : []),
      '',
      `# A dead session (a client gone after a network drop) is dropped, and its -R ports freed, within about ${CLIENT_ALIVE_BUDGET_SEC} s (sshd probes about every 2 × ClientAliveInterval, and gives up after ClientAliveCountMax + 1 probes).`,
    );
    if (beyondLoopback.length) {
      out.push(`# GatewayPorts clientspecified: the -R listener${beyondLoopback.length > 1 ? 's' : ''} on ${unique(beyondLoopback.map(listenSpec)).join(', ')} bind${beyondLoopback.length > 1 ? '' : 's'} where asked; with sshd's default ("no") the port would stay on the server's 127.0.0.1.`);
    }
    out.push(
      '# Many tunnels from one address (several autotunnel instances behind one NAT): OpenSSH 9.8 and later penalize an',
      '# address for failed or aborted logins (PerSourcePenalties). A global "PerSourcePenaltyExemptList ADDRESS/32"',
      '# line (before any Match) exempts it; fix the failing tunnel rather than widening the list.',
      '',
    );
  }
  return out.join('\n');
}
