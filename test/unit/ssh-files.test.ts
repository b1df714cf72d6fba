/**
 * ssh-files: the spec's key and host-key policy turned into real files, in a real temp dir.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { DEFAULT_BACKOFF, type HostKeyPolicy, type Identity, type TunnelSpec } from '../../src/config/spec.js';
import { ENV_SETTING_NAMES } from '../../src/config/env.js';
import { defaultStateDir, keyNeedsCopy, prepareSshFiles, removeOrphanedRuntimeDirs, type PreparedFiles } from '../../src/adapters/ssh-files.js';
import type { SshFiles } from '../../src/ssh/argv.js';

const KEY_TEXT = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----\n';
const MY_UID = process.getuid!();
const IS_ROOT = MY_UID === 0;
/** A pid no process can have (Linux pid_max is at most 2^22). */
const DEAD_PID = 999_999_999;

let root: string;
const prepared: PreparedFiles[] = [];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'autotunnel-unit-files-'));
});

after(() => {
  for (const p of prepared) p.cleanup();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  const dir = join(root, `case-${++counter}`);
  mkdirSync(dir);
  return dir;
}

function makeSpec(hostKey: HostKeyPolicy, identity?: Identity): TunnelSpec {
  return {
    name: `unit${counter}`,
    server: { user: 'u', host: 'example.com', port: 22, hostKey, ...(identity ? { identity } : {}) },
    forwards: [{ kind: 'local', bindAddress: '127.0.0.1', bindPort: 8080, targetHost: 'localhost', targetPort: 80 }],
    keepalive: { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } },
    connectTimeoutSec: 10,
    ssh: { extraArgs: [], addsRemoteForwards: false, proxied: false },
    settingNames: ENV_SETTING_NAMES,
    backoff: { ...DEFAULT_BACKOFF },
  };
}

function writeKey(dir: string, mode: number): string {
  const file = join(dir, 'id_ed25519');
  writeFileSync(file, KEY_TEXT);
  chmodSync(file, mode); // explicit: writeFileSync's mode is filtered by the umask
  return file;
}

function prepare(spec: TunnelSpec, stateDir: string, explicit: boolean): PreparedFiles {
  const p = prepareSshFiles(spec, stateDir, explicit);
  prepared.push(p);
  return p;
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Runtime dirs this process has created and not removed yet. */
function myRuntimeDirs(): string[] {
  const out: string[] = [];
  for (const base of ['/dev/shm', process.env.XDG_RUNTIME_DIR, tmpdir()]) {
    if (!base) continue;
    try {
      for (const n of readdirSync(base)) if (n.startsWith(`autotunnel-${process.pid}-`)) out.push(join(base, n));
    } catch {
      // no such base
    }
  }
  return out;
}

const KNOWN_HOSTS: HostKeyPolicy = { mode: 'known-hosts', file: '/mounted/known_hosts', checkHostIp: true };

/** The files without the ready marker (a random path, checked on its own below). */
function withoutMarker(files: SshFiles): SshFiles {
  const { readyMarker: _marker, ...rest } = files;
  return rest;
}

describe('keyNeedsCopy (would ssh refuse the key as it is?)', () => {
  const cases: Array<[number, number, number, boolean]> = [
    [0o600, 1000, 1000, false],
    [0o400, 1000, 1000, false],
    [0o700, 1000, 1000, false],
    [0o100600, 1000, 1000, false], // regular-file type bits are ignored
    [0o100400, 0, 0, false],
    [0o644, 1000, 1000, true],
    [0o640, 1000, 1000, true],
    [0o604, 1000, 1000, true],
    [0o610, 1000, 1000, true],
    [0o601, 1000, 1000, true],
    [0o444, 1000, 1000, true], // a typical Docker secret
    [0o100444, 0, 0, true],
    [0o600, 0, 1000, true], // owned by someone else
    [0o400, 1000, 0, true],
  ];
  for (const [mode, owner, me, expected] of cases) {
    test(`mode ${mode.toString(8)}, owner ${owner}, me ${me} → ${expected}`, () => {
      assert.equal(keyNeedsCopy(mode, owner, me), expected);
    });
  }
});

describe('prepareSshFiles: the key', () => {
  test('a 0644 key is copied to a private 0600 file with the same content, removed by cleanup()', () => {
    const dir = freshDir();
    const key = writeKey(dir, 0o644);
    const before = myRuntimeDirs();
    const p = prepare(makeSpec(KNOWN_HOSTS, { file: key, explicit: true }), join(dir, 'state'), false);
    const copy = p.files.identityFile!;
    assert.ok(copy, 'an identity file is returned');
    assert.notEqual(copy, key);
    assert.equal(dirname(copy) === dir, false, 'the copy is not next to the original');
    assert.equal(copy.endsWith(`/unit${counter}.key`), true, copy);
    assert.equal(readFileSync(copy, 'utf8'), KEY_TEXT);
    assert.equal(modeOf(copy), 0o600);
    assert.equal(statSync(copy).uid, MY_UID);
    assert.equal(modeOf(dirname(copy)), 0o700, 'the directory holding the copy is private');
    assert.match(dirname(copy), new RegExp(`/autotunnel-${process.pid}-[^/]+$`));
    assert.deepEqual(myRuntimeDirs().filter((d) => !before.includes(d)), [dirname(copy)]);
    // the original is untouched
    assert.equal(modeOf(key), 0o644);
    assert.equal(readFileSync(key, 'utf8'), KEY_TEXT);
    assert.deepEqual(p.notices, [
      `key ${key} has mode 0644 and owner uid ${MY_UID}, which ssh refuses; using a private 0600 copy that is removed at exit`,
    ]);
    assert.deepEqual(p.warnings, []);
    assert.deepEqual(withoutMarker(p.files), { knownHostsFile: '/mounted/known_hosts', identityFile: copy });

    p.cleanup();
    assert.equal(existsSync(copy), false);
    assert.equal(existsSync(dirname(copy)), false);
    p.cleanup(); // a second call is harmless
    assert.equal(existsSync(key), true);
  });

  test('a 0444 key (Docker secret style) is copied too', () => {
    const dir = freshDir();
    const key = writeKey(dir, 0o444);
    const p = prepare(makeSpec(KNOWN_HOSTS, { file: key, explicit: true }), join(dir, 'state'), false);
    assert.notEqual(p.files.identityFile, key);
    assert.equal(modeOf(p.files.identityFile!), 0o600);
    assert.match(p.notices[0]!, /has mode 0444/);
    p.cleanup();
  });

  test('a 0600 key owned by us is used in place: the private dir holds only the ready marker', () => {
    const dir = freshDir();
    const key = writeKey(dir, 0o600);
    const before = myRuntimeDirs();
    const p = prepare(makeSpec(KNOWN_HOSTS, { file: key, explicit: false }), join(dir, 'state'), false);
    assert.deepEqual(withoutMarker(p.files), { knownHostsFile: '/mounted/known_hosts', identityFile: key });
    assert.deepEqual(p.notices, []);
    assert.deepEqual(p.warnings, []);
    assert.deepEqual(myRuntimeDirs().filter((d) => !before.includes(d)), [dirname(p.files.readyMarker!)]);
    assert.deepEqual(readdirSync(dirname(p.files.readyMarker!)), ['alive.sock'], 'only the socket that says its maker runs; ssh binds the marker later');
    assert.equal(existsSync(join(dir, 'state')), false, 'the state dir is only needed for trust on first use');
    p.cleanup();
    assert.equal(readFileSync(key, 'utf8'), KEY_TEXT, 'cleanup never touches the user\'s key');
  });

  test('a 0600 key owned by another user is copied', { skip: IS_ROOT ? false : 'needs root to chown' }, () => {
    const dir = freshDir();
    const key = writeKey(dir, 0o600);
    chownSync(key, 12345, 12345);
    const p = prepare(makeSpec(KNOWN_HOSTS, { file: key, explicit: true }), join(dir, 'state'), false);
    assert.notEqual(p.files.identityFile, key);
    assert.equal(statSync(p.files.identityFile!).uid, MY_UID);
    assert.equal(readFileSync(p.files.identityFile!, 'utf8'), KEY_TEXT);
    assert.match(p.notices[0]!, /has mode 0600 and owner uid 12345/);
    p.cleanup();
  });

  test('no identity: no identityFile key at all', () => {
    const p = prepare(makeSpec(KNOWN_HOSTS), join(freshDir(), 'state'), false);
    assert.deepEqual(withoutMarker(p.files), { knownHostsFile: '/mounted/known_hosts' });
  });

  test('a key that vanished since parsing is an error, and nothing is left behind', () => {
    const dir = freshDir();
    const before = myRuntimeDirs();
    assert.throws(() => prepareSshFiles(makeSpec(KNOWN_HOSTS, { file: join(dir, 'gone'), explicit: true }), join(dir, 'state'), false), { code: 'ENOENT' });
    assert.deepEqual(myRuntimeDirs(), before);
  });
});

describe('prepareSshFiles: the ready marker', () => {
  test('a random socket name in a private 0700 directory, gone after cleanup()', () => {
    const a = prepare(makeSpec(KNOWN_HOSTS), join(freshDir(), 'state'), false);
    const b = prepare(makeSpec(KNOWN_HOSTS), join(freshDir(), 'state'), false);
    const marker = a.files.readyMarker!;
    assert.match(marker, new RegExp(`/autotunnel-${process.pid}-[^/]+/ready-[0-9a-f]{16}\\.sock$`));
    assert.notEqual(marker, b.files.readyMarker, 'no two tunnels (or runs) share a name the peer could guess');
    assert.equal(modeOf(dirname(marker)), 0o700);
    a.cleanup();
    b.cleanup();
    assert.equal(existsSync(dirname(marker)), false);
  });
});

describe('prepareSshFiles: host keys', () => {
  test('known-hosts mode uses the given file as it is', () => {
    const dir = freshDir();
    const p = prepare(makeSpec({ mode: 'known-hosts', file: join(dir, 'kh'), checkHostIp: false }), join(dir, 'state'), true);
    assert.deepEqual(withoutMarker(p.files), { knownHostsFile: join(dir, 'kh') });
    assert.equal(existsSync(join(dir, 'kh')), false, 'nothing is written to a user-provided path');
    assert.equal(existsSync(join(dir, 'state')), false);
  });

  test('pinned mode writes the known_hosts lines to a private 0600 file, removed by cleanup()', () => {
    const dir = freshDir();
    const lines = ['example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', '[example.com]:2222 ssh-rsa AAAAB3Nza'];
    const p = prepare(makeSpec({ mode: 'pinned', knownHostsLines: lines, checkHostIp: true }), join(dir, 'state'), false);
    const file = p.files.knownHostsFile;
    assert.equal(file.endsWith(`/unit${counter}.known_hosts`), true, file);
    assert.equal(readFileSync(file, 'utf8'), `${lines[0]}\n${lines[1]}\n`);
    assert.equal(modeOf(file), 0o600);
    assert.equal(modeOf(dirname(file)), 0o700);
    assert.equal(existsSync(join(dir, 'state')), false);
    assert.deepEqual(p.warnings, []);
    p.cleanup();
    assert.equal(existsSync(file), false);
  });

  test('pinned key and copied key share one private directory', () => {
    const dir = freshDir();
    const key = writeKey(dir, 0o640);
    const p = prepare(makeSpec({ mode: 'pinned', knownHostsLines: ['h ssh-ed25519 AAAA'], checkHostIp: true }, { file: key, explicit: true }), join(dir, 'state'), false);
    assert.equal(dirname(p.files.knownHostsFile), dirname(p.files.identityFile!));
    p.cleanup();
    assert.equal(existsSync(p.files.knownHostsFile), false);
    assert.equal(existsSync(p.files.identityFile!), false);
  });

  test('trust on first use: <stateDir>/known_hosts, creating the state dir (0700)', () => {
    const dir = freshDir();
    const stateDir = join(dir, 'a', 'b', 'autotunnel');
    const p = prepare(makeSpec({ mode: 'trust-on-first-use', checkHostIp: true }), stateDir, false);
    assert.deepEqual(withoutMarker(p.files), { knownHostsFile: join(stateDir, 'known_hosts') });
    assert.equal(statSync(stateDir).isDirectory(), true);
    assert.equal(modeOf(stateDir), 0o700);
    assert.equal(existsSync(join(stateDir, 'known_hosts')), false, 'ssh creates the file itself when it accepts a key');
    assert.deepEqual(p.warnings, []);
    assert.deepEqual(p.notices, []);
    p.cleanup();
    assert.equal(existsSync(stateDir), true, 'cleanup keeps the state: keys trusted on first use must be remembered');
  });

  test('trust on first use with an existing state dir and known_hosts keeps them', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'known_hosts'), 'example.com ssh-ed25519 AAAA\n');
    const p = prepare(makeSpec({ mode: 'trust-on-first-use', checkHostIp: true }), dir, true);
    assert.equal(p.files.knownHostsFile, join(dir, 'known_hosts'));
    assert.equal(readFileSync(join(dir, 'known_hosts'), 'utf8'), 'example.com ssh-ed25519 AAAA\n');
  });

  test('an explicit state dir that cannot be created is a ConfigError (exit 78)', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'file'), 'a regular file');
    const stateDir = join(dir, 'file', 'sub');
    let caught: unknown;
    try {
      prepareSshFiles(makeSpec({ mode: 'trust-on-first-use', checkHostIp: true }), stateDir, true);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ConfigError, String(caught));
    assert.equal(caught.exitCode, 78);
    assert.equal(caught.problems.length, 1);
    const p = caught.problems[0]!;
    assert.equal(p.where, 'AUTOTUNNEL_STATE_DIR');
    assert.equal(p.value, stateDir);
    assert.match(p.expected, /^cannot be used \(.*not a directory.*\); point it at a writable directory, e\.g\. a mounted volume$/);
    assert.doesNotMatch(p.expected, /ENOTDIR:/, 'the errno prefix is dropped');
  });

  test('an explicit unwritable state dir is a ConfigError', { skip: IS_ROOT ? 'root can write anywhere' : false }, () => {
    const dir = freshDir();
    const stateDir = join(dir, 'ro');
    mkdirSync(stateDir, { mode: 0o500 });
    chmodSync(stateDir, 0o500);
    assert.throws(() => prepareSshFiles(makeSpec({ mode: 'trust-on-first-use', checkHostIp: true }), stateDir, true), ConfigError);
  });

  test('on that error a key copy already made is removed again', () => {
    const dir = freshDir();
    const key = writeKey(dir, 0o644);
    writeFileSync(join(dir, 'file'), 'x');
    const before = myRuntimeDirs();
    assert.throws(
      () => prepareSshFiles(makeSpec({ mode: 'trust-on-first-use', checkHostIp: true }, { file: key, explicit: true }), join(dir, 'file', 'sub'), true),
      ConfigError,
    );
    assert.deepEqual(myRuntimeDirs(), before, 'no private copy of the key may outlive the error');
  });

  test('a default state dir that cannot be used falls back to the private dir, with a warning', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'file'), 'x');
    const stateDir = join(dir, 'file', 'sub');
    const p = prepare(makeSpec({ mode: 'trust-on-first-use', checkHostIp: true }), stateDir, false);
    const fallback = dirname(p.files.knownHostsFile);
    assert.match(fallback, new RegExp(`/autotunnel-${process.pid}-[^/]+$`));
    assert.equal(p.files.knownHostsFile, join(fallback, 'known_hosts'));
    assert.equal(modeOf(fallback), 0o700);
    assert.equal(p.warnings.length, 1);
    assert.ok(p.warnings[0]!.startsWith(`the state directory ${stateDir} is not writable (`), p.warnings[0]);
    assert.match(p.warnings[0]!, new RegExp(`are kept in ${fallback} and forgotten at exit`));
    p.cleanup();
    assert.equal(existsSync(fallback), false);
  });
});

describe('defaultStateDir', () => {
  test('root: /var/lib/autotunnel', { skip: IS_ROOT ? false : 'not root' }, () => {
    assert.equal(defaultStateDir({ HOME: '/root', XDG_STATE_HOME: '/x' }), '/var/lib/autotunnel');
  });

  test('other users: $XDG_STATE_HOME/autotunnel, else ~/.local/state/autotunnel', { skip: IS_ROOT ? 'running as root' : false }, () => {
    assert.equal(defaultStateDir({ HOME: '/home/u', XDG_STATE_HOME: '/xdg/state' }), '/xdg/state/autotunnel');
    assert.equal(defaultStateDir({ HOME: '/home/u' }), '/home/u/.local/state/autotunnel');
    assert.equal(defaultStateDir({ HOME: '/home/u', XDG_STATE_HOME: '' }), '/home/u/.local/state/autotunnel');
  });
});

describe('removeOrphanedRuntimeDirs', () => {
  test('asks each directory whether its maker still runs: a live one answers on its socket, to any pid namespace', { skip: process.getuid?.() === 0 ? false : 'needs root for unshare --pid' }, async () => {
    const base = freshDir();
    const dead = join(base, `autotunnel-${process.pid}-dead`);
    const legacyDead = join(base, `autotunnel-${DEAD_PID}-old`);
    const young = join(base, `autotunnel-${DEAD_PID}-young`);
    for (const d of [dead, legacyDead, young]) mkdirSync(d);
    // A SIGKILLed maker leaves its socket file with nobody listening.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(join(dead, 'alive.sock'))}, () => process.kill(process.pid, 'SIGKILL'))`]);
    // A directory of an older version, without a socket: judged by its pid once it is not new.
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(legacyDead, old, old);
    const mine = prepareSshFiles(makeSpec(KNOWN_HOSTS), join(base, 'state'), false);
    const myDir = dirname(mine.files.readyMarker!);
    try {
      await removeOrphanedRuntimeDirs(base);
      await removeOrphanedRuntimeDirs(dirname(myDir));
      assert.equal(existsSync(dead), false, "a dead maker's directory is removed");
      assert.equal(existsSync(legacyDead), false);
      assert.equal(existsSync(young), true, 'a new directory without a socket may be being made: kept');
      assert.equal(existsSync(myDir), true, 'our own directories are kept');
      // A sweep from another pid namespace (a container sharing the directory, a benchmark lane),
      // where our pid does not exist: our directory answers on its socket, and is kept.
      const sweep = spawnSync('unshare', ['--pid', '--fork', process.execPath, '--import', 'tsx', '-e',
        `import(${JSON.stringify(join(import.meta.dirname, '../../src/adapters/ssh-files.ts'))}).then((m) => m.removeOrphanedRuntimeDirs(${JSON.stringify(dirname(myDir))}))`], { encoding: 'utf8' });
      assert.equal(sweep.status, 0, sweep.stderr);
      assert.equal(existsSync(myDir), true, 'kept by a sweep from another pid namespace');
    } finally {
      mine.cleanup();
    }
  });

  test('a missing base directory is ignored', async () => {
    await assert.doesNotReject(() => removeOrphanedRuntimeDirs(join(root, 'does-not-exist')));
  });
});
