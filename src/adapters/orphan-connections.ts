/**
 * Frees a -R port the server still holds for a session that died in a network outage.
 *
 * After a black-hole, sshd keeps the dead session (and its -R listener) until a packet from this
 * machine tells it the connection is gone. The ssh that held it has exited, but its socket lives
 * on in the kernel as an orphan (FIN-WAIT-1: our FIN queued behind unacknowledged keepalives),
 * retransmitting on TCP's backoff: after a 15 s outage the next try can be 7–9 s after the link
 * returns (bench/RESULTS.md), after a long one up to two minutes. The cure: abort the orphan once
 * the link is back (SOCK_DESTROY, what `ss -K` does; needs CAP_NET_ADMIN): the kernel sends a
 * RST, the server drops the session at once (0.1–0.3 s after the link returns, bench).
 *
 * Capping TCP's backoff (net.ipv4.tcp_rto_max_ms=1000) looked like a cure for the non-root image
 * and is not one: measured, the port was freed 6.3 s after the link returned, as without it (the
 * orphan, retrying every second, spends its retries during the outage and dies before the link
 * is back). Without the capability, only the server can bound it (ClientAliveInterval).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Orphan states that still owe the server a packet; ESTABLISHED sockets belong to live ssh. */
const ORPHAN_STATES = ['fin-wait-1', 'closing', 'last-ack'];
const SS_TIMEOUT_MS = 2_000;
const CAP_NET_ADMIN = 12;

export type AbortOrphans = (address: string, port: number) => void;

export type StaleListenerCure = { kind: 'abort'; abort: AbortOrphans; says: string } | { kind: 'none'; says: string };

export interface CureFacts {
  /** The effective capability mask (CapEff in /proc/self/status), when readable. */
  capEff?: bigint;
  /** Path of iproute2's ss, when installed. */
  ss?: string;
  /** Whether this process runs as root (only root gets a container's added capabilities). */
  root?: boolean;
}

/** Which cure applies here, and a sentence for the log saying so (and how to get the faster one). */
export function staleListenerCure(facts: CureFacts, run: (file: string, args: string[]) => void = runQuietly): StaleListenerCure {
  const netAdmin = facts.capEff !== undefined && (facts.capEff & (1n << BigInt(CAP_NET_ADMIN))) !== 0n;
  if (netAdmin && facts.ss) {
    const ss = facts.ss;
    return {
      kind: 'abort',
      abort: (address, port) => run(ss, ['-K', '-tn', ...ORPHAN_STATES.flatMap((s) => ['state', s]), 'dst', address.includes(':') ? `[${address}]` : address, 'dport', '=', `:${port}`]),
      says: 'after a network outage, a -R port the server still holds for the dead session is freed as soon as the link returns (CAP_NET_ADMIN: the dead connection is aborted)',
    };
  }
  // A capability given to a container reaches root only: a non-root user's processes start
  // with no effective capabilities, whatever cap_add says.
  const how = facts.root
    ? "give autotunnel CAP_NET_ADMIN (compose: cap_add: [NET_ADMIN]) with iproute2's ss installed, or set ClientAliveInterval on the server (autotunnel server-setup prints it)"
    : 'set ClientAliveInterval on the server (autotunnel server-setup prints it), or run autotunnel as root with CAP_NET_ADMIN and iproute2\'s ss';
  const missing = netAdmin ? "iproute2's ss is not installed" : 'no CAP_NET_ADMIN';
  return { kind: 'none', says: `after a network outage, a -R port the server still holds for the dead session is freed only when the server notices (seconds to minutes; ${missing}): to free it sooner, ${how}` };
}

/** The facts of this process, read from /proc and PATH. */
export function readCureFacts(ssPath: string | undefined): CureFacts {
  const facts: CureFacts = {};
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) facts.capEff = BigInt(`0x${m[1]}`);
  } catch {
    // not Linux, or /proc not mounted: no capability known
  }
  if (ssPath) facts.ss = ssPath;
  facts.root = process.getuid?.() === 0;
  return facts;
}

function runQuietly(file: string, args: string[]): void {
  // Best effort: a failure leaves the server to notice by itself, as without the capability.
  execFile(file, args, { timeout: SS_TIMEOUT_MS, windowsHide: true }, () => {});
}
