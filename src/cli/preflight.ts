/**
 * What every start checks about this machine before a tunnel runs, and what `autotunnel check`
 * checks the same way, so that check passes exactly what a start accepts: the HTTP address, the
 * ssh client, the state directory and a place for private key copies.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TunnelSpec } from '../config/spec.js';
import { httpSettings, type HttpSettings, type Settings } from '../config/settings.js';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import { parseAllowedHosts } from '../config/http-hosts.js';
import { keyNeedsCopy, makeRuntimeDir, removeRuntimeDir, sweepOrphanedRuntimeDirs } from '../adapters/ssh-files.js';
import { findSshTools, type SshTools } from './wiring.js';

export interface Preflight {
  http: HttpSettings;
  tools: SshTools;
}

/**
 * Throws ConfigError (78) or MissingSshError (69) for what would make every attempt fail.
 * `sweep`: remove the private key copies that SIGKILLed runs left (at a start, whether or not
 * this run needs a copy itself; `check` leaves the machine as it is).
 */
export async function preflight(settings: Settings, env: Record<string, string | undefined>, specs: TunnelSpec[], opts: { sweep: boolean }): Promise<Preflight> {
  if (opts.sweep) await sweepOrphanedRuntimeDirs();
  const problems: ConfigProblem[] = [];
  // AUTOTUNNEL_HTTP itself was checked with the other settings.
  let http: HttpSettings = httpSettings(settings);
  try {
    if (http.address) http = { ...http, allowedHosts: parseAllowedHosts(env, http.address.host) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  if (settings.stateDir !== undefined) {
    const p = stateDirProblem(settings.stateDir);
    if (p) problems.push({ where: 'AUTOTUNNEL_STATE_DIR', value: settings.stateDir, expected: p });
  }
  if (problems.length) throw new ConfigError(problems);
  const tools = findSshTools(settings.ssh);
  if (specs.some(needsPrivateFile)) {
    // Made and removed at once: the real one is made per tunnel; this only proves it can be.
    removeRuntimeDir(makeRuntimeDir());
  }
  return { http, tools };
}

/** Why an explicitly set state directory cannot hold keys trusted on first use, or undefined. */
function stateDirProblem(dir: string): string | undefined {
  let existing = dir;
  for (;;) {
    try {
      if (!statSync(existing).isDirectory()) {
        return existing === dir ? 'that is not a directory; point it at a directory (a mounted volume)' : `${existing} is not a directory, so the state directory cannot be created there`;
      }
      break;
    } catch {
      if (existing === dirname(existing)) break;
      existing = dirname(existing);
    }
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
    return undefined;
  } catch {
    return `${existing === dir ? 'it' : existing} is not writable for uid ${process.getuid?.() ?? '?'}; point it at a writable directory, e.g. a mounted volume`;
  }
}

/** A key ssh would refuse as it is (copied), or a pinned host key (written to a private file). */
function needsPrivateFile(spec: TunnelSpec): boolean {
  if (spec.server.hostKey.mode === 'pinned') return true;
  const id = spec.server.identity;
  if (!id) return false;
  try {
    const st = statSync(id.file);
    return keyNeedsCopy(st.mode, st.uid, process.getuid?.() ?? st.uid);
  } catch {
    return false;
  }
}
