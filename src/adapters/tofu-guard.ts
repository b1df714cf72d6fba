/**
 * Trust on first use holds only if the first key is really remembered. ssh says "Permanently
 * added" even when its write failed (it does not check fclose, so on a full disk known_hosts
 * stays empty), and then accepts whatever key the next connection shows. So when ssh says it
 * added a key, we read the file back; if the key is not there, the tunnel is stopped rather than
 * left running unpinned.
 */
import { readBoundedText } from './bounded-read.js';
import { parseSshLine } from '../ssh/stderr.js';
import type { Tunnel } from '../supervisor/tunnel.js';

/** A known_hosts file of many hosts; more than this is not ours to read whole. */
const MAX_KNOWN_HOSTS_BYTES = 4 * 1024 * 1024;

/** Whether every host pattern of `hostPattern` ("[h]:p" or "h,ip") begins a line of the file. */
export function knownHostsHas(text: string, hostPattern: string): boolean {
  const lineHosts = text.split('\n').map((l) => new Set((l.trim().split(/\s+/)[0] ?? '').split(',')));
  return hostPattern.split(',').every((p) => lineHosts.some((hosts) => hosts.has(p)));
}

/**
 * `expected`: the known_hosts patterns this tunnel's ssh may add (the server's, its jump hosts'),
 * as ssh writes them ("host" on port 22, "[host]:port" otherwise).
 *
 * The line is only read back once the tunnel is up. Before the host key is verified, whoever
 * answers can put any line on ssh's stderr (issue 11): a forged "Permanently added" for a
 * pattern nobody wrote must not stop a tunnel for good. Once up, ssh has authenticated to the
 * key it accepted, and a genuine first use has written that key (or failed to: the case this
 * guards). The next connection, the one that would accept any key, is never made.
 */
export function guardTrustOnFirstUse(tunnel: Tunnel, knownHostsFile: string, expected: string[], onRefused: (message: string) => void): () => void {
  const ours = new Set(expected.map((p) => p.toLowerCase()));
  let added: string[] = [];
  return tunnel.events.on((e) => {
    if (e.type === 'state' && e.to === 'connecting' && e.from !== 'connecting') added = [];
    if (e.type === 'ssh') {
      const progress = parseSshLine(e.line).progress;
      if (progress?.type === 'host_key_added' && ours.has(progress.hostPattern.split(',')[0]!.toLowerCase())) added.push(progress.hostPattern);
      return;
    }
    if (e.type !== 'state' || e.to !== 'up') return;
    const patterns = added;
    added = [];
    for (const hostPattern of patterns) {
      let why: string | undefined;
      try {
        if (!knownHostsHas(readBoundedText(knownHostsFile, MAX_KNOWN_HOSTS_BYTES), hostPattern)) why = 'the key is not in it (is the disk full?)';
      } catch (err) {
        why = `it cannot be read back (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
      }
      if (why === undefined) continue;
      // Synchronously, as the tunnel comes up: no further connection is made without a saved key.
      void tunnel.stop();
      onRefused(
        `the server's host key for ${hostPattern} could not be saved in ${knownHostsFile}: ${why}. ` +
          'The tunnel is stopped: without a saved key, a different key would be accepted on the next connection. ' +
          'Free space there (or point AUTOTUNNEL_STATE_DIR at a writable volume), or pin the key (SSH_HOST_KEY, SSH_KNOWN_HOSTS_FILE, or host_key / known_hosts_file in a config file), then restart autotunnel',
      );
      return;
    }
  });
}

/** The known_hosts pattern ssh writes for host:port. */
export function knownHostsPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}
