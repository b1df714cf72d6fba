/**
 * Which OpenSSH servers the tests can run, and how to start the second one.
 *
 * '9.2' is this machine's own /usr/sbin/sshd (Debian 12's OpenSSH 9.2). '10' is Debian 13's
 * OpenSSH 10.0 from a root tree that scripts/openssh10-tree.sh builds and caches: its sshd runs
 * chrooted into the tree inside a private mount namespace (`unshare --mount`), with the test's
 * directory bind-mounted at the same path so every path in sshd_config means the same file on
 * both sides. The network namespace is not changed: sshd listens on the test's own loopback.
 *
 * OpenSSH >= 9.8 penalises a source address for connections that never try to authenticate
 * (PerSourcePenalties, on by default): the harness must never cause one itself, so it checks
 * readiness without connecting (see listening()).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type SshdVersion = '9.2' | '10';
/** Every version a test can ask for, the machine's own first. */
export const SSHD_VERSIONS: readonly SshdVersion[] = ['9.2', '10'];

const SYSTEM_SSHD = '/usr/sbin/sshd';
const DEFAULT_CACHE = '/var/cache/autotunnel/openssh10';
const BUILD_HINT = 'build it with "bash scripts/openssh10-tree.sh" as root (scripts/test.sh does)';

/** Where scripts/openssh10-tree.sh keeps its cache (same variable, same default). */
function cacheDir(): string {
  return process.env.AUTOTUNNEL_OPENSSH10_CACHE || DEFAULT_CACHE;
}

/** The OpenSSH 10 root tree (AUTOTUNNEL_OPENSSH10_ROOT, else the cache's current tree). */
export function openssh10Root(): string {
  return process.env.AUTOTUNNEL_OPENSSH10_ROOT || join(cacheDir(), 'current', 'root');
}

/**
 * Why sshd `version` cannot run here, or undefined when it can. For `{ skip: … }` in tests:
 * the reason is printed with the skipped test, so a missing tree is never silent.
 */
export function sshdUnavailable(version: SshdVersion): string | undefined {
  if (version === '9.2') return existsSync(SYSTEM_SSHD) ? undefined : `${SYSTEM_SSHD} is missing (apt-get install openssh-server)`;
  if (process.getuid?.() !== 0) return 'OpenSSH 10 runs chrooted in a private mount namespace, which needs root';
  const root = openssh10Root();
  if (existsSync(join(root, 'usr', 'sbin', 'sshd'))) return undefined;
  let why = '';
  try {
    why = readFileSync(join(cacheDir(), 'unavailable.txt'), 'utf8').trim();
  } catch {
    // never tried to build, or the build said nothing
  }
  return `no OpenSSH 10 tree at ${root}${why ? ` (last build attempt: ${why})` : ''}: ${BUILD_HINT}`;
}

/** Skip reasons for test variants, with one loud line on stderr per unavailable version. */
const announced = new Set<SshdVersion>();
export function skipUnless(version: SshdVersion): string | false {
  const why = sshdUnavailable(version);
  if (why === undefined) return false;
  if (!announced.has(version)) {
    announced.add(version);
    process.stderr.write(`\n######## SKIPPING the OpenSSH ${version} variants: ${why}\n\n`);
  }
  return `OpenSSH ${version} not available: ${why}`;
}

/**
 * The command that runs `sshd ARGS` of `version` for a server whose files all live in `dir`.
 * For '10': a shell in a fresh mount namespace makes the tree usable (a private /tmp and /run,
 * the host's /dev, a proc, `dir` at its own path) and then execs chroot, which execs sshd — one
 * pid from spawn to sshd, so signals and the process-tree walk in stop() reach sshd directly.
 * The namespace, and so every mount, vanishes with the last process in it.
 */
export function sshdCommand(version: SshdVersion, dir: string, sshdArgs: string[]): [string, string[]] {
  if (version === '9.2') return [SYSTEM_SSHD, sshdArgs];
  const root = openssh10Root();
  const script = [
    'set -e',
    'root="$1"; dir="$2"; shift 2',
    // The tree's /tmp and /run are private tmpfs: mount points made there leave the cache as it was.
    'mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"',
    'mount -t tmpfs -o mode=755 tmpfs "$root/run"',
    'mkdir -p "$root/run/sshd" "$root$dir"',
    'mount --bind "$dir" "$root$dir"',
    'mount --rbind /dev "$root/dev"',
    'mount -t proc proc "$root/proc"',
    'exec chroot "$root" /usr/sbin/sshd "$@"',
  ].join('\n');
  return ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', root, dir, ...sshdArgs]];
}

/** What sshd's log (LogLevel VERBOSE) says about connections it refused to serve. */
export interface SshdLogCounts {
  /** "activating ipv4 penalty of N seconds for …" (OpenSSH >= 9.8, PerSourcePenalties). */
  penaltyActivations: number;
  /** "drop connection #n … penalty: …": connections refused while a penalty was active. */
  penaltyDrops: number;
  /** "drop connection #n … past MaxStartups" (9.2) / "… past Maxstartups" (10). */
  maxStartupsDrops: number;
}

export function countSshdLog(log: string): SshdLogCounts {
  const count = (re: RegExp) => (log.match(re) ?? []).length;
  return {
    penaltyActivations: count(/: activating \S+ penalty of \d+ seconds/g),
    penaltyDrops: count(/drop connection #\d+ from \S+ on \S+ penalty:/g),
    maxStartupsDrops: count(/drop connection #\d+ from \S+ on \S+ past maxstartups/gi),
  };
}

/**
 * True when something listens on 127.0.0.1:port, read from /proc/net/tcp of this network
 * namespace: unlike a test connection, it costs no penalty on OpenSSH >= 9.8.
 */
export function listening(port: number): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return false;
  }
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1] === want && cols[3] === '0A';
  });
}
