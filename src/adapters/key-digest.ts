/**
 * A key's content, not its path, decides whether it changed: a Docker or Kubernetes secret is
 * rotated by writing new content under the same name, and a tunnel that uses a private copy of
 * it would otherwise keep the old copy forever. Only a digest is kept, never the key.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TunnelSpec } from '../config/spec.js';

/** The spec with its key file's digest; unchanged when it has no key file or the file cannot be read (ssh will say why). */
export function withKeyDigest(spec: TunnelSpec): TunnelSpec {
  const identity = spec.server.identity;
  // A key with a passphrase lives in autotunnel's agent, which a reload refreshes in place
  // (adapters/tunnel-auth.ts): no copy to renew, and the running ssh is left alone.
  if (!identity || spec.server.auth?.keyPassphrase) return spec;
  let contentDigest: string;
  try {
    contentDigest = createHash('sha256').update(readFileSync(identity.file)).digest('hex');
  } catch {
    return spec;
  }
  return { ...spec, server: { ...spec.server, identity: { ...identity, contentDigest } } };
}
