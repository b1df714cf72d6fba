/**
 * Turns the spec's key and host-key policy into files ssh can use: copies a key whose
 * permissions ssh would refuse into a private file, writes a pinned host key to a known_hosts
 * file, and picks the file where keys trusted on first use are remembered.
 */
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TunnelSpec } from '../config/spec.js';
import type { SshFiles } from '../ssh/argv.js';
import { ConfigError } from '../config/errors.js';

export interface PreparedFiles {
  files: SshFiles;
  notices: string[];
  warnings: string[];
  /** Removes the private copies; safe to call more than once. */
  cleanup(): void;
}

/** Where keys trusted on first use are kept, unless AUTOTUNNEL_STATE_DIR says otherwise. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/autotunnel';
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'autotunnel');
}

/**
 * A private directory for secrets: in memory (/dev/shm) when there is one, so a key copy never
 * reaches a disk. Its name carries our pid, so a later run can remove what a SIGKILLed one left.
 */
function makeRuntimeDir(): string {
  for (const base of ['/dev/shm', process.env.XDG_RUNTIME_DIR, tmpdir()]) {
    if (!base) continue;
    try {
      accessSync(base, constants.W_OK);
      removeOrphanedRuntimeDirs(base);
      const dir = mkdtempSync(join(base, `autotunnel-${process.pid}-`));
      chmodSync(dir, 0o700);
      return dir;
    } catch {
      // try the next place
    }
  }
  throw new Error('could not create a private temporary directory for the key copy (tried /dev/shm, $XDG_RUNTIME_DIR and the system temp dir)');
}

/** Removes runtime dirs of autotunnel processes that no longer exist (killed with SIGKILL). */
export function removeOrphanedRuntimeDirs(base: string): void {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const name of entries) {
    const m = /^autotunnel-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || processExists(Number(m[1]))) continue;
    try {
      const path = join(base, name);
      if (statSync(path).uid === process.getuid?.()) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone already, or not ours
    }
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when ssh would refuse the key file as it is ("UNPROTECTED PRIVATE KEY FILE"). */
export function keyNeedsCopy(mode: number, ownerUid: number, myUid: number): boolean {
  return (mode & 0o077) !== 0 || ownerUid !== myUid;
}

/**
 * The files a tunnel will use, without creating anything (for `autotunnel check`): a key that
 * needs a private copy and a pinned key's file are named by what they will hold.
 */
export function planSshFiles(spec: TunnelSpec, stateDir: string): SshFiles {
  const policy = spec.server.hostKey;
  const knownHostsFile =
    policy.mode === 'known-hosts' ? policy.file
    : policy.mode === 'pinned' ? `<private file with ${spec.settingNames.hostKey ?? 'the pinned host key'}>`
    : policy.mode === 'ssh-config' ? '~/.ssh/known_hosts'
    : join(stateDir, 'known_hosts');
  return { knownHostsFile, ...(spec.server.identity ? { identityFile: spec.server.identity.file } : {}) };
}

export function prepareSshFiles(spec: TunnelSpec, stateDir: string, stateDirExplicit: boolean): PreparedFiles {
  const notices: string[] = [];
  const warnings: string[] = [];
  let runtimeDir: string | undefined;
  const runtime = () => (runtimeDir ??= makeRuntimeDir());
  const cleanup = () => {
    if (runtimeDir) rmSync(runtimeDir, { recursive: true, force: true });
    runtimeDir = undefined;
  };

  try {
    let identityFile: string | undefined;
    const identity = spec.server.identity;
    if (identity) {
      const st = statSync(identity.file);
      const myUid = process.getuid?.() ?? st.uid;
      if (keyNeedsCopy(st.mode, st.uid, myUid)) {
        identityFile = join(runtime(), `${spec.name}.key`);
        copyFileSync(identity.file, identityFile);
        chmodSync(identityFile, 0o600);
        notices.push(
          `key ${identity.file} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} and owner uid ${st.uid}, which ssh refuses; using a private 0600 copy that is removed at exit`,
        );
      } else {
        identityFile = identity.file;
      }
    }

    let knownHostsFile: string;
    const policy = spec.server.hostKey;
    if (policy.mode === 'known-hosts') {
      knownHostsFile = policy.file;
    } else if (policy.mode === 'ssh-config') {
      knownHostsFile = '~/.ssh/known_hosts';
    } else if (policy.mode === 'pinned') {
      knownHostsFile = join(runtime(), `${spec.name}.known_hosts`);
      writeFileSync(knownHostsFile, policy.knownHostsLines.join('\n') + '\n', { mode: 0o600 });
    } else {
      const dir = usableStateDir(stateDir, stateDirExplicit, warnings, runtime);
      knownHostsFile = join(dir, 'known_hosts');
    }
    return { files: { knownHostsFile, ...(identityFile ? { identityFile } : {}) }, notices, warnings, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

function usableStateDir(dir: string, explicit: boolean, warnings: string[], runtime: () => string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    return dir;
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^[A-Z]+: /, '') : String(e);
    if (explicit) {
      throw new ConfigError([{ where: 'AUTOTUNNEL_STATE_DIR', value: dir, expected: `cannot be used (${why}); point it at a writable directory, e.g. a mounted volume` }]);
    }
    const fallback = runtime();
    warnings.push(
      `the state directory ${dir} is not writable (${why}): host keys trusted on first use are kept in ${fallback} and forgotten at exit — mount a volume there or set AUTOTUNNEL_STATE_DIR`,
    );
    return fallback;
  }
}
