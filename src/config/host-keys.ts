/** Pinned host keys and the known_hosts host pattern, shared by every config source and the fix texts. */
import { unbracket } from '../net/address.js';

/** Key types that may begin a pinned key given without a host pattern. */
const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(-cert-v01@openssh\.com)?$/;

/** The name ssh looks a server up by in known_hosts: "host" on port 22, else "[host]:port". */
export function knownHostsPattern(host: string, port: number): string {
  const bare = unbracket(host);
  return port === 22 ? bare : `[${bare}]:${port}`;
}

/**
 * Turns a pinned host key (SSH_HOST_KEY, host_key:) into known_hosts lines. Accepts full
 * known_hosts lines (one per line) or bare "type base64" keys, to which the host pattern ssh
 * looks up is prefixed. Returns an explanation
 * string when the value is not usable.
 */
export function pinnedKnownHostsLines(value: string, host: string, port: number): string[] | string {
  const pattern = knownHostsPattern(host, port);
  const out: string[] = [];
  for (const raw of value.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const typeAt = KEY_TYPE.test(words[0]!) ? 0 : words[0] === '@cert-authority' || words[0] === '@revoked' ? 2 : 1;
    const type = words[typeAt];
    const blob = words[typeAt + 1];
    if (type === undefined || !KEY_TYPE.test(type) || blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
      return 'expected a public host key such as "ssh-ed25519 AAAAC3Nz…" (as printed by ssh-keyscan or found in /etc/ssh/ssh_host_ed25519_key.pub), or a whole known_hosts line';
    }
    out.push(typeAt === 0 ? `${pattern} ${type} ${blob}` : line);
  }
  if (out.length === 0) return 'no key found; expected a public host key such as "ssh-ed25519 AAAAC3Nz…"';
  return out;
}
