/**
 * What ssh -v says about each forwarded connection: whether its target was reached. Texts are
 * OpenSSH 9.x's (test/fixtures/ssh-stderr/target-*.txt are real captures):
 *
 * - -R, reached:      "debug1: channel 0: connected to 127.0.0.1 port 80"
 * - -R, not reached:  "debug1: channel 0: connection failed: Connection refused", then
 *                     "connect_to 127.0.0.1 port 80: failed."
 * - -L/-D, not reached: "channel 1: open failed: connect failed: Connection refused"
 * - -L/-D, reached:   ssh -v prints nothing when the server confirms the channel; the channel's
 *                     "channel 1: free: direct-tcpip: …" without an "open failed" before it is
 *                     the first sign. So a -L connection counts as reached when it ends, and one
 *                     given up before the server answered counts as reached too.
 */

export type TargetLine = { ok: true } | { ok: false; summary: string; line: string };

const REMOTE_OK = /^channel \d+: connected to \S+ port \d+$/;
const REMOTE_REASON = /^channel \d+: connection failed: (.+)$/;
const REMOTE_FAILED = /^connect_to (\S+) port (\d+): (.+?)\.?$/;
const LOCAL_FAILED = /^channel (\d+): open failed: (.+)$/;
const LOCAL_FREED = /^channel (\d+): free: direct-tcpip: listening port \d+ for (\S+) port (\d+),/;

/** One per ssh run: it remembers which channels failed, so their "free" is not taken for success. */
export class TargetLineReader {
  private readonly failedChannels = new Set<string>();
  private lastReason: string | undefined;

  /** `text` is the line without its "debugN: " prefix. */
  read(text: string): TargetLine | undefined {
    if (REMOTE_OK.test(text)) return { ok: true };
    let m = REMOTE_REASON.exec(text);
    if (m) {
      this.lastReason = m[1];
      return undefined;
    }
    m = REMOTE_FAILED.exec(text);
    if (m) {
      const reason = this.lastReason ?? m[3]!;
      this.lastReason = undefined;
      return { ok: false, summary: `the target ${bracketed(m[1]!)}:${m[2]} could not be reached from here (${lowerFirst(reason)})`, line: text };
    }
    m = LOCAL_FAILED.exec(text);
    if (m) {
      this.failedChannels.add(m[1]!);
      const reason = m[2]!.replace(/^connect failed: /, '');
      return { ok: false, summary: `the server could not reach the target (${lowerFirst(reason)})`, line: text };
    }
    m = LOCAL_FREED.exec(text);
    if (m) {
      if (this.failedChannels.delete(m[1]!)) return undefined;
      return { ok: true };
    }
    return undefined;
  }
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function lowerFirst(s: string): string {
  return /^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s;
}
