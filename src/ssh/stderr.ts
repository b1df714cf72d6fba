/**
 * Reads ssh's stderr one line at a time: progress towards "up" (from -v debug lines) and the
 * cause of a failure (from its error lines). Texts are OpenSSH 9.x's; the fixtures in
 * test/fixtures/ssh-stderr are real captures.
 */
import { makeCause, type Cause, type CauseCode } from './causes.js';
import { asJumpFailure, JumpProgress, type JumpHost } from './jump.js';

export type SshProgress =
  | { type: 'tcp_connecting'; address: string }
  | { type: 'tcp_connected' }
  | { type: 'host_key'; fingerprint: string }
  | { type: 'host_key_added'; hostPattern: string; keyType: string }
  | { type: 'authenticated'; method: string }
  | { type: 'local_listening'; address: string; port: number }
  | { type: 'local_listening_path'; path: string }
  | { type: 'session_started' }
  | { type: 'remote_forward_ok'; listen: string }
  | { type: 'remote_port_allocated'; port: number; target: string }
  | { type: 'all_forwards_ok' };

export interface SshLine {
  /** The line without its "debugN: " prefix. */
  text: string;
  /** ssh's debug output (-v): parsed, not worth showing by default. */
  debug: boolean;
  progress?: SshProgress;
  cause?: Cause;
  /** Higher wins when one failure prints several lines (see PRIORITY). */
  priority?: number;
}

/**
 * One failed run often prints several of these lines, the reason first and its consequences
 * after; the most telling one is the cause. From most to least telling:
 */
const PRIORITY = {
  /** autotunnel's own askpass helper and key agent: they say exactly what went wrong with a secret. */
  ourSecrets: 33,
  /** Our own side's reason behind a refusal: a key ssh could not load is why the server then denies us. */
  ourReason: 31,
  /** What the server decided: login refused, host key wrong or unknown, -R port taken. */
  serverDecision: 30,
  /** ssh refused its own options: nothing else happened. */
  badOptions: 29,
  /** A local socket path could not be bound: it names the path, the generic line after it does not. */
  localSocket: 26,
  /** A local listener could not be bound. */
  localPort: 25,
  /** The network: refused, unreachable, timed out, keepalives unanswered, DNS. */
  network: 20,
  /** "Host key verification failed": the generic line after the specific host-key one. */
  verificationFailed: 15,
  /**
   * The connection dropped before the SSH handshake, or closed later: symptoms of the others,
   * the reason only when nothing else was said.
   */
  closedEarly: 12,
  closed: 10,
} as const;

interface Rule {
  re: RegExp;
  code: CauseCode;
  priority: number;
  summary: (m: RegExpExecArray) => string;
}

const RULES: Rule[] = [
  // Lines of autotunnel's own: its askpass helper (through ssh's stderr) and its key agent.
  { re: /^autotunnel-askpass: refused to answer (".*"): (.*)$/, code: 'prompt_refused', priority: PRIORITY.ourSecrets,
    summary: (m) => `ssh asked ${m[1]}, which autotunnel does not answer: ${m[2]}` },
  { re: /^autotunnel: the passphrase does not open (.*)$/, code: 'key_passphrase_wrong', priority: PRIORITY.ourSecrets,
    summary: (m) => `the passphrase does not open ${m[1]}` },
  { re: /^autotunnel: cannot read the (?:password|key passphrase): (.*)$/, code: 'secret_unreadable', priority: PRIORITY.ourSecrets,
    summary: (m) => `the secret cannot be read: ${m[1]}` },
  { re: /^autotunnel: (ssh-agent|ssh-add|ssh-keygen) failed: (.*)$/, code: 'spawn_failed', priority: PRIORITY.ourSecrets,
    summary: (m) => `autotunnel's key agent could not take the key: ${m[1]} failed: ${m[2]}` },
  { re: /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for (\S+) has changed/, code: 'host_key_changed', priority: PRIORITY.serverDecision,
    summary: () => "the server's host key has changed since it was trusted: connection refused (this is what a man-in-the-middle attack looks like)" },
  { re: /No (\S+) host key is known for (\S+)/, code: 'host_key_unknown', priority: PRIORITY.serverDecision,
    summary: (m) => `the server's ${m[1]} host key is not in the known_hosts file, and unknown keys are refused` },
  { re: /Permission denied \(([^)]*)\)|Too many authentication failures/, code: 'permission_denied', priority: PRIORITY.serverDecision,
    summary: (m) => `the server refused to log us in (permission denied${m[1] ? `, tried: ${m[1]}` : ''})` },
  { re: /remote port forwarding failed for listen (?:port (\d+)|path (\S+))/, code: 'remote_forward_failed', priority: PRIORITY.serverDecision,
    summary: (m) => `the server could not listen on ${m[1] ? `port ${m[1]}` : m[2]} for the -R forward` },
  { re: /cannot bind to path (.+): (.+)$/, code: 'local_socket_in_use', priority: PRIORITY.localSocket,
    summary: (m) => `the socket path ${m[1]} for the local forward cannot be used (${m[2]})` },
  { re: /bind \[?([^\]\s]*)\]?:(\d+): Address already in use|cannot listen to port: (\d+)|Could not request local forwarding/, code: 'local_port_in_use', priority: PRIORITY.localPort,
    summary: (m) => {
      const port = m[2] ?? m[3];
      return port ? `local port ${port} is already in use` : 'local port is already in use';
    } },
  { re: /UNPROTECTED PRIVATE KEY FILE|Load key "([^"]*)": (.*)/, code: 'key_file_rejected', priority: PRIORITY.ourReason,
    summary: (m) => (m[1] ? `ssh could not load the private key ${m[1]}: ${m[2]}` : 'ssh refused the private key file: its permissions are too open') },
  { re: /Bad configuration option: (.*)|command-line line \d+: (.*)|Unsupported option|Bad port|Bad (?:local|remote|dynamic) forwarding specification/, code: 'ssh_option_rejected', priority: PRIORITY.badOptions,
    summary: (m) => `ssh rejected its options: ${m[1] ?? m[2] ?? m[0]}` },
  { re: /^Timeout, server (\S+) not responding/, code: 'keepalive_timeout', priority: PRIORITY.network,
    summary: (m) => `the server ${m[1]} stopped answering keepalives: the link went dead` },
  { re: /Could not resolve hostname (\S+?):? (.*)/, code: 'dns_failure', priority: PRIORITY.network,
    summary: (m) => `the server's name ${m[1]} could not be resolved (${m[2]})` },
  { re: /connect to host (\S+) port (\d+): Connection refused/, code: 'connection_refused', priority: PRIORITY.network,
    summary: (m) => `the server ${m[1]} refused the connection on port ${m[2]}: nothing is listening there (is sshd running?)` },
  { re: /connect to host (\S+) port (\d+): (No route to host|Network is unreachable)/, code: 'no_route', priority: PRIORITY.network,
    summary: (m) => `the server ${m[1]} cannot be reached: ${m[3]!.toLowerCase()}` },
  { re: /connect to host (\S+) port (\d+): (?:Connection|Operation) timed out|Connection timed out during banner exchange|Connection to (\S+) port (\d+) timed out/, code: 'connect_timeout', priority: PRIORITY.network,
    summary: (m) => {
      const host = m[1] ?? m[3];
      return `no answer from the server${host ? ` ${host}` : ''} within the connect timeout: it is down or the path to it drops packets`;
    } },
  { re: /Host key verification failed/, code: 'host_key_rejected', priority: PRIORITY.verificationFailed,
    summary: () => "the server's host key could not be verified" },
  { re: /kex_exchange_identification: (.*)/, code: 'connection_dropped', priority: PRIORITY.closedEarly,
    summary: (m) => `the server closed the connection before the SSH handshake (${m[1]}): sshd drops connections when too many arrive at once (its MaxStartups) or from an address it penalises (PerSourcePenalties), or is restarting` },
  { re: /Connection (?:closed|reset) by (?:remote host|(\S+) port \d+)|Connection to (\S+) closed by remote host|send disconnect: (Broken pipe|Connection reset by peer)|Received disconnect from (\S+)[^:]*:\d+: (.*)/, code: 'connection_closed', priority: PRIORITY.closed,
    summary: (m) => (m[5] ? `the server closed the connection: ${m[5]}` : 'the server closed the connection') },
];

const PROGRESS: Array<{ re: RegExp; make: (m: RegExpExecArray) => SshProgress }> = [
  // The SYN goes out here: a stalled connect is measured from this line, not from spawning ssh.
  { re: /^Connecting to \S+ \[([^\]]+)\] port \d+\.$/, make: (m) => ({ type: 'tcp_connecting', address: m[1]! }) },
  { re: /^Connection established\.$/, make: () => ({ type: 'tcp_connected' }) },
  { re: /^Server host key: \S+ (\S+)/, make: (m) => ({ type: 'host_key', fingerprint: m[1]! }) },
  { re: /^Warning: Permanently added '([^']+)' \((\S+)\) to the list of known hosts/, make: (m) => ({ type: 'host_key_added', hostPattern: m[1]!, keyType: m[2]! }) },
  { re: /^Authenticated to \S+ \(\S+\) using "([^"]+)"/, make: (m) => ({ type: 'authenticated', method: m[1]! }) },
  { re: /^Local forwarding listening on (\S+) port (\d+)\./, make: (m) => ({ type: 'local_listening', address: m[1]!, port: Number(m[2]) }) },
  { re: /^Local forwarding listening on path (.+)\.$/, make: (m) => ({ type: 'local_listening_path', path: m[1]! }) },
  // Printed once forwarding setup is done; "Local forwarding listening" comes BEFORE bind(),
  // so only this line proves the local listeners were bound (ExitOnForwardFailure exits otherwise).
  { re: /^Entering interactive session\./, make: () => ({ type: 'session_started' }) },
  { re: /^remote forward success for: listen ([^,]+),/, make: (m) => ({ type: 'remote_forward_ok', listen: m[1]! }) },
  { re: /^Allocated port (\d+) for remote forward to (\S+)/, make: (m) => ({ type: 'remote_port_allocated', port: Number(m[1]), target: m[2]! }) },
  { re: /^forwarding_success: all expected forwarding replies received/, make: () => ({ type: 'all_forwards_ok' }) },
];

export function parseSshLine(raw: string): SshLine {
  const line = raw.replace(/\r$/, '');
  const debugMatch = /^debug\d: (.*)$/.exec(line);
  const text = debugMatch ? debugMatch[1]! : line;
  const out: SshLine = { text, debug: debugMatch !== null };
  for (const p of PROGRESS) {
    const m = p.re.exec(text);
    if (m) {
      out.progress = p.make(m);
      return out;
    }
  }
  // Failures are reported at error level; debug lines also mention refusals on the way to a
  // fallback (e.g. one address of several), which are not the cause.
  if (out.debug) return out;
  for (const r of RULES) {
    const m = r.re.exec(text);
    if (m) {
      out.cause = makeCause(r.code, r.summary(m), { line: text });
      out.priority = r.priority;
      return out;
    }
  }
  return out;
}

/**
 * A line as it may be shown at info level: it can hold what the peer said before its host key was
 * verified, so control characters (terminal escapes) are replaced and its length is bounded.
 */
function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > MAX_LAST_WORD_CHARS ? `${clean.slice(0, MAX_LAST_WORD_CHARS)}…` : clean;
}

const MAX_LAST_WORD_CHARS = 300;

/** How many of ssh's unexplained lines are kept: the reason is usually the last one or two. */
export const LAST_WORDS_KEPT = 3;

/**
 * Keeps the most telling cause seen during one ssh run; with jump hosts, says which hop failed.
 * Lines that match no rule (and are not -v chatter or progress) are kept too, the last few, so
 * that an exit nothing explains still shows what ssh (or setpriv) said.
 */
export class CauseTracker {
  private best: { cause: Cause; priority: number } | undefined;
  private readonly hops: JumpProgress | undefined;
  private lastWords: string[] = [];

  constructor(jumps: JumpHost[] = []) {
    this.hops = jumps.length ? new JumpProgress(jumps) : undefined;
  }

  observe(line: SshLine): void {
    this.hops?.observe(line.text);
    if (line.cause && (this.best === undefined || (line.priority ?? 0) > this.best.priority)) {
      this.best = { cause: line.cause, priority: line.priority ?? 0 };
    } else if (!line.cause && !line.debug && !line.progress && line.text.trim() !== '') {
      this.lastWords = [...this.lastWords, printable(line.text.trim())].slice(-LAST_WORDS_KEPT);
    }
  }

  get cause(): Cause | undefined {
    const cause = this.best?.cause;
    const hop = this.hops?.failedHop;
    return cause && hop ? asJumpFailure(cause, hop) : cause;
  }

  /** What ssh said that no rule explains, oldest first; empty when it said nothing of the kind. */
  get unexplained(): string[] {
    return [...this.lastWords];
  }
}
