/**
 * Turns the spec's key and host-key policy into files ssh can use: copies a key whose
 * permissions ssh would refuse into a private file, writes a pinned host key to a known_hosts
 * file, and picks the file where keys trusted on first use are remembered.
 */
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { socketAnswers } from './tcp-probe.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TunnelSpec } from '../config/spec.js';
import type { SshFiles } from '../ssh/argv.js';
import type { SpawnSsh } from '../supervisor/world.js';
import { ConfigError } from '../config/errors.js';
import { jumpSshConfig, needsJumpConfig, safeForProxyCommand } from '../ssh/jump.js';

export interface PreparedFiles {
  files: SshFiles;
  notices: string[];
  warnings: string[];
  /** The tunnel's private 0700 directory (made on first use), for files written after these. */
  privateDir(): string;
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
 * reaches a disk. A SIGKILLed run cannot remove its own, so each start sweeps what dead runs
 * left (sweepOrphanedRuntimeDirs). Whether the maker of a directory still runs is asked of the
 * directory itself: it holds a socket its maker listens on (ALIVE), which answers from any pid or
 * network namespace. A pid in the name would not do: a process in another pid namespace (a
 * container sharing /tmp, a benchmark lane) is invisible here, and a live one's directory was
 * swept away under it — its ssh could then bind nothing there.
 */
export function makeRuntimeDir(): string {
  const tried: string[] = [];
  for (const base of runtimeBases()) {
    try {
      accessSync(base, constants.W_OK);
      const dir = mkdtempSync(join(base, `autotunnel-${process.pid}-`));
      chmodSync(dir, 0o700);
      const beacon = createServer().on('error', () => {}).listen(join(dir, ALIVE));
      beacon.unref();
      beacons.set(dir, beacon);
      return dir;
    } catch (e) {
      tried.push(`${base} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
  // A user's setup, not a bug: one message saying what to mount, exit 78, no stack trace.
  throw new ConfigError([{
    where: 'TMPDIR',
    value: tmpdir(),
    expected: `no writable private directory for key copies and pinned host keys: tried ${tried.join(', ')}; mount a tmpfs on /dev/shm or /tmp (docker run --tmpfs /tmp), or set TMPDIR to a writable directory — or give the key mode 0600 and this user as owner, so that no copy is needed`,
  }]);
}

/** The socket a runtime directory's maker listens on while it runs. */
const ALIVE = 'alive.sock';
/**
 * The listening sockets of the directories this process made: the one piece of process-wide
 * state here, as they are OS resources that removeRuntimeDir must close.
 */
const beacons = new Map<string, Server>();
/** A directory without a beacon (made by an older version, or being made) is left this long. */
const NO_BEACON_GRACE_MS = 60_000;
const BEACON_TIMEOUT_MS = 1_000;

/** Removes a directory made by makeRuntimeDir, and stops answering for it. */
export function removeRuntimeDir(dir: string): void {
  beacons.get(dir)?.close();
  beacons.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Where private copies may go, best first: memory (/dev/shm), the user's runtime dir, the temp dir. */
export function runtimeBases(): string[] {
  return [...new Set(['/dev/shm', process.env.XDG_RUNTIME_DIR, tmpdir()].filter((b): b is string => Boolean(b)))];
}

/** Removes what SIGKILLed runs left in every place a copy may be; run at every start. */
export async function sweepOrphanedRuntimeDirs(): Promise<void> {
  for (const base of runtimeBases()) await removeOrphanedRuntimeDirs(base);
}

/** Removes the directories in `base` whose maker no longer runs (see makeRuntimeDir). */
export async function removeOrphanedRuntimeDirs(base: string): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  await Promise.all(entries.map(async (name) => {
    const m = /^autotunnel-(\d+)-/.exec(name);
    const path = join(base, name);
    if (!m || beacons.has(path)) return;
    try {
      const st = statSync(path);
      if (st.uid !== process.getuid?.()) return;
      const answer = await socketAnswers(join(path, ALIVE), BEACON_TIMEOUT_MS);
      // No beacon: an older version's directory (judged by its pid, in this namespace), or one
      // being made this very moment (left alone while young).
      const orphan = answer === 'absent' ? Date.now() - st.mtimeMs > NO_BEACON_GRACE_MS && !processExists(Number(m[1])) : answer === 'refused';
      if (orphan) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone already, or not ours
    }
  }));
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
  return {
    knownHostsFile,
    readyMarker: '<private dir>/ready.sock',
    ...(spec.server.identity ? { identityFile: spec.server.identity.file } : {}),
    ...(needsJumpConfig(spec) ? { configFile: '<private ssh_config for the jump hosts>' } : {}),
  };
}

/** sun_path holds 108 bytes; a longer marker path could not be bound and the tunnel never come up. */
const MAX_SOCKET_PATH = 100;

/** The ready marker (see READY_MARKER_TARGET in ssh/argv.ts): a random name in the private dir. */
function readyMarkerPath(runtimeDir: string, warnings: string[]): string | undefined {
  const path = join(runtimeDir, `ready-${randomBytes(8).toString('hex')}.sock`);
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return path;
  warnings.push(`the private directory ${runtimeDir} has too long a path for a socket: the tunnel counts as up on ssh's word alone, which whoever answers before the host key is verified could forge; set TMPDIR to a shorter path`);
  return undefined;
}

export function prepareSshFiles(spec: TunnelSpec, stateDir: string, stateDirExplicit: boolean): PreparedFiles {
  const notices: string[] = [];
  const warnings: string[] = [];
  let runtimeDir: string | undefined;
  const runtime = () => (runtimeDir ??= makeRuntimeDir());
  const cleanup = () => {
    if (runtimeDir) removeRuntimeDir(runtimeDir);
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
    const readyMarker = readyMarkerPath(runtime(), warnings);
    return { files: { knownHostsFile, ...(identityFile ? { identityFile } : {}), ...(readyMarker ? { readyMarker } : {}) }, notices, warnings, privateDir: runtime, cleanup };
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

/**
 * The files with the private ssh_config the jump connections read (see ssh/jump.ts), when the
 * tunnel needs one; `files` are final (an agent-held key's public half and socket included).
 */
export function withJumpConfig(spec: TunnelSpec, files: SshFiles, privateDir: () => string): SshFiles {
  return needsJumpConfig(spec) ? { ...files, configFile: writeJumpConfig(spec, files, privateDir()) } : files;
}

function writeJumpConfig(spec: TunnelSpec, files: SshFiles, dir: string): string {
  const path = join(dir, `${spec.name}.ssh_config`);
  if (!safeForProxyCommand(path)) {
    throw new ConfigError([{ where: 'TMPDIR', value: dir, expected: 'a directory path of letters, digits and "._+-/" only: ssh passes it to the jump host\'s command through a shell (or make /dev/shm writable)' }]);
  }
  writeFileSync(path, jumpSshConfig(spec, files), { mode: 0o600 });
  return path;
}

/** The ready marker's socket outlives the ssh that bound it: the next ssh could not bind it again. */
export function unlinkFirst(path: string, spawn: SpawnSsh): SpawnSsh {
  return (args) => {
    rmSync(path, { force: true });
    return spawn(args);
  };
}
