/**
 * Reloads that must take effect, or fail without harm: a key rotated in place (Docker or
 * Kubernetes secret, used through a private copy), and a reload that cannot be applied because
 * the private directory for key copies is full — the built CLI against a real sshd.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type TestSshd } from '../harness/sshd.js';
import { roundTrip, waitFor } from '../harness/echo.js';
import { sshClientsFor } from '../harness/procs.js';
import { CliProcess } from '../harness/cli.js';
import { BIN, envFor, logLines, testBed, waitForLog, serverYaml } from './helpers.js';

const UP_TIMEOUT_MS = 15_000;

const bed = testBed();

async function echoesThrough(port: number): Promise<void> {
  await waitFor(() => roundTrip('127.0.0.1', port, { timeoutMs: 1000 }), { timeoutMs: UP_TIMEOUT_MS, what: `a round trip through 127.0.0.1:${port}` });
}

/** A copy of the server's client key with mode 0444, as a Docker or Kubernetes secret arrives. */
function secretKey(server: TestSshd): string {
  const key = join(mkdtempSync(join(tmpdir(), 'autotunnel-secret-')), 'id');
  copyFileSync(server.clientKeyPath, key);
  chmodSync(key, 0o444);
  return key;
}

/**
 * Rotates the secret in place: a new key pair, its private half written over the same file
 * (mode stays 0444), and the server authorizes the new public key only.
 */
function rotateKey(server: TestSshd, secret: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'autotunnel-newkey-'));
  const fresh = join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', fresh]);
  chmodSync(secret, 0o644);
  writeFileSync(secret, readFileSync(fresh));
  chmodSync(secret, 0o444);
  writeFileSync(join(server.dir, 'authorized_keys'), readFileSync(`${fresh}.pub`));
  return readFileSync(fresh, 'utf8');
}

function yaml(server: TestSshd, tunnels: Array<{ name: string; port: number; key: string }>): string {
  return [
    'defaults:',
    ...serverYaml(server, '  ', { key: false }),
    'tunnels:',
    ...tunnels.flatMap((t) => [`  - name: ${t.name}`, '    server:', `      key_file: ${t.key}`, '    forwards:', `      - local: 127.0.0.1:${t.port}`, `        to: 127.0.0.1:${bed.echo().port}`]),
  ].join('\n') + '\n';
}

/** The private key file the tunnel's ssh (pid) was given with -i. */
function keyGivenTo(server: TestSshd, pid: number | undefined): string {
  const ssh = sshClientsFor(server.port).find((p) => p.pid === pid);
  assert.ok(ssh, `ssh ${pid} found`);
  return readFileSync(ssh.argv[ssh.argv.indexOf('-i') + 1]!, 'utf8');
}

/** A tunnels file with one -L tunnel 'rot' using a secret key, on its own sshd (each test rotates its authorized key); up. */
async function rotatableTunnel() {
  const server = await bed.sshd();
  const secret = secretKey(server);
  const port = await freePort();
  const file = join(mkdtempSync(join(tmpdir(), 'autotunnel-rotate-')), 'tunnels.yaml');
  writeFileSync(file, yaml(server, [{ name: 'rot', port, key: secret }]));
  const r = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', file]);
  await waitForLog(r.cli, { tunnel: 'rot', state: 'up' }, UP_TIMEOUT_MS);
  return { server, secret, port, r };
}

describe('a key rotated in place', () => {
  it('config file: SIGHUP sees the new content, makes a new private copy and reconnects with it', async () => {
    const { server, secret, port, r } = await rotatableTunnel();

    const newKey = rotateKey(server, secret);
    const mark = r.cli.mark();
    r.cli.signal('SIGHUP');
    const reloaded = await waitForLog(r.cli, { msg: /reloaded/ }, UP_TIMEOUT_MS, mark);
    assert.deepEqual(reloaded.changed, ['rot'], reloaded.msg);
    assert.ok(logLines(r.cli, mark).some((l) => l.tunnel === 'rot' && /^replaced: its changed version starts now/.test(l.msg)), 'the old version is said to be replaced, not removed');
    const up = await waitForLog(r.cli, { tunnel: 'rot', state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal(keyGivenTo(server, up.pid), newKey, 'ssh runs with a copy of the new key');
    await echoesThrough(port);
  });

  it('config file: with no signal at all (a Kubernetes Secret update), the key file change itself reloads', async () => {
    const { server, secret, port, r } = await rotatableTunnel();

    const mark = r.cli.mark();
    const newKey = rotateKey(server, secret);
    const reloaded = await waitForLog(r.cli, { msg: /^key file .* changed: reloaded/ }, UP_TIMEOUT_MS, mark);
    assert.deepEqual(reloaded.changed, ['rot'], reloaded.msg);
    const up = await waitForLog(r.cli, { tunnel: 'rot', state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal(keyGivenTo(server, up.pid), newKey);
    await echoesThrough(port);
  });

  it('SSH_* variables: SIGHUP re-reads the key file the same way', async () => {
    const server = await bed.sshd();
    const secret = secretKey(server);
    const port = await freePort();
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: secret, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(bed.echo().port) }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);

    const newKey = rotateKey(server, secret);
    const mark = r.cli.mark();
    r.cli.signal('SIGHUP');
    await waitForLog(r.cli, { msg: /SIGHUP received: the key file .* changed/ }, UP_TIMEOUT_MS, mark);
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal(keyGivenTo(server, up.pid), newKey);
    await echoesThrough(port);

    const again = r.cli.mark();
    r.cli.signal('SIGHUP');
    await waitForLog(r.cli, { msg: /SIGHUP received: nothing changed/ }, UP_TIMEOUT_MS, again);
    assert.equal(logLines(r.cli, again).some((l) => l.state !== undefined), false, 'an unchanged key leaves the tunnel alone');
  });
});

/** The test below needs a private mount namespace with its own tmpfs: root, and a runtime that allows mounts. */
const SMALL_SHM = 'mount -t tmpfs -o size=64k,mode=1777 tmpfs /dev/shm';
const canMountPrivately = process.getuid?.() === 0 && spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SMALL_SHM], { stdio: 'ignore' }).status === 0;

describe('a reload that cannot be applied', { skip: canMountPrivately ? false : 'needs root and unshare/mount: mounts a small tmpfs as /dev/shm in a private mount namespace' }, () => {
  it('with /dev/shm full, a tunnel whose new key needs a copy keeps its old version running; the rest of the reload applies', async () => {
    const server = await bed.sshd();
    const [pa, pb, pc] = [await freePort(), await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'autotunnel-full-'));
    const file = join(dir, 'tunnels.yaml');
    writeFileSync(file, yaml(server, [{ name: 'a', port: pa, key: server.clientKeyPath }, { name: 'b', port: pb, key: server.clientKeyPath }]));
    const stateDir = mkdtempSync(join(tmpdir(), 'autotunnel-state-'));
    // autotunnel in its own mount namespace, where /dev/shm is a 64 KiB tmpfs (and the only
    // candidate for the private directory: $TMPDIR and $XDG_RUNTIME_DIR point there too).
    const cli = CliProcess.spawn(
      ['--mount', '--propagation', 'private', 'sh', '-c', `${SMALL_SHM} && exec "$@"`, 'sh', process.execPath, BIN, 'run', '-c', file],
      {
        command: 'unshare',
        env: { AUTOTUNNEL_STATE_DIR: stateDir, AUTOTUNNEL_HTTP: 'off', AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined, TMPDIR: '/dev/shm', XDG_RUNTIME_DIR: '/dev/shm' },
      },
    );
    try {
      await waitFor(() => logLines(cli).filter((l) => l.state === 'up').length === 2, { timeoutMs: UP_TIMEOUT_MS, what: 'a and b up' });
      const upA = logLines(cli).find((l) => l.tunnel === 'a' && l.state === 'up')!;
      const upB = logLines(cli).find((l) => l.tunnel === 'b' && l.state === 'up')!;

      // Fill autotunnel's /dev/shm, seen from here through its root.
      const shm = `/proc/${cli.pid}/root/dev/shm`;
      const filler = join(shm, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(128 * 1024));
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      }

      const mark = cli.mark();
      writeFileSync(file, yaml(server, [{ name: 'a', port: pa, key: secretKey(server) }, { name: 'b', port: pb, key: server.clientKeyPath }, { name: 'c', port: pc, key: server.clientKeyPath }]));
      cli.signal('SIGHUP');
      const refused = await waitForLog(cli, { level: 'error', tunnel: 'a' }, UP_TIMEOUT_MS, mark);
      assert.match(refused.msg, /ENOSPC|no space/i);
      assert.match(refused.msg, /previous version keeps running/);
      await waitForLog(cli, { tunnel: 'c', state: 'up' }, UP_TIMEOUT_MS, mark);
      const reloaded = await waitForLog(cli, { msg: /reloaded/ }, UP_TIMEOUT_MS, mark);
      assert.deepEqual(reloaded.added, ['c']);
      assert.deepEqual(reloaded.failed, ['a']);
      const since = logLines(cli, mark);
      assert.equal(since.some((l) => (l.tunnel === 'a' || l.tunnel === 'b') && l.state !== undefined), false, 'a and b were not touched');
      assert.ok(sshClientsFor(server.port).some((p) => p.pid === upA.pid), "a's ssh is the same process");
      assert.ok(sshClientsFor(server.port).some((p) => p.pid === upB.pid), "b's ssh is the same process");
      await echoesThrough(pa);
      await echoesThrough(pc);

      // Space again: the next reload applies the change.
      rmSync(filler, { force: true });
      const mark2 = cli.mark();
      cli.signal('SIGHUP');
      const applied = await waitForLog(cli, { msg: /reloaded/ }, UP_TIMEOUT_MS, mark2);
      assert.deepEqual(applied.changed, ['a']);
      await waitForLog(cli, { tunnel: 'a', state: 'up' }, UP_TIMEOUT_MS, mark2);
      await echoesThrough(pa);
    } finally {
      await cli.kill();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
