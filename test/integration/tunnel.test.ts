/**
 * autotunnel against real components: the built CLI, configured by SSH_* variables as users run
 * it, a real OpenSSH sshd on loopback, the real ssh client, real TCP targets and real faults.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SSHD_VERSIONS, skipUnless } from '../harness/openssh-versions.js';
import { TestSshd, freePort } from '../harness/sshd.js';
import { roundTrip, socksRoundTrip, waitFor, HeldConnection } from '../harness/echo.js';
import { FaultProxy } from '../harness/faultproxy.js';
import { sshClientsFor, waitForNoProcess } from '../harness/procs.js';
import { envFor, logLines, testBed, waitForLog, type TunnelRun } from './helpers.js';

/** Generous bounds: they catch "never happens", not slowness (speed is measured in bench/). */
const UP_TIMEOUT_MS = 15_000;
const ROUND_TRIP_TIMEOUT_MS = 15_000;

const bed = testBed();
const sshd = (extraConfig: string[] = []): Promise<TestSshd> => bed.sshd({ extraConfig });
const run = (env: Record<string, string | undefined>): TunnelRun => bed.run(env);
/** The echo target every tunnel here leads to. */
const echo = { get port() { return bed.echo().port; } };

async function echoesThrough(port: number): Promise<void> {
  await waitFor(() => roundTrip('127.0.0.1', port, { timeoutMs: 1000 }), { timeoutMs: ROUND_TRIP_TIMEOUT_MS, what: `a round trip through 127.0.0.1:${port}` });
}

describe('each mode carries data', () => {
  let server: TestSshd;
  before(async () => {
    server = await sshd();
  });

  it('-L: a local port reaches the target through the server', async () => {
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(typeof up.connect_ms, 'number');
    assert.equal(await roundTrip('127.0.0.1', port), true);
  });

  it('-R (the default mode): a port on the server reaches a target here', async () => {
    const port = await freePort();
    const r = run(envFor(server, { SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    // The server is on this machine: its 127.0.0.1:port is the remote listener.
    assert.equal(await roundTrip('127.0.0.1', port), true);
  });

  it('-R with port 0: the server picks the port, autotunnel reports it', async () => {
    const r = run(envFor(server, { SSH_MODE: 'R', SSH_TUNNEL_PORT: '0', SSH_TARGET_PORT: String(echo.port) }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const [port] = up.allocated_ports as number[];
    assert.ok(Number.isInteger(port) && port! > 0, `allocated port reported: ${JSON.stringify(up)}`);
    assert.equal(await roundTrip('127.0.0.1', port!), true);
  });

  it('-D: a SOCKS proxy reaches any target', async () => {
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-D', SSH_TUNNEL_PORT: String(port), SSH_TARGET_HOST: undefined }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await socksRoundTrip(port, '127.0.0.1', echo.port), true);
  });

  it('a Docker secret key (mode 0444) is used through a private copy that is removed at exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autotunnel-secret-'));
    const secret = join(dir, 'id');
    copyFileSync(server.clientKeyPath, secret);
    chmodSync(secret, 0o444);
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: secret, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const copyLine = logLines(r.cli).find((l) => /private 0600 copy/.test(l.msg));
    assert.ok(copyLine, 'the copy is announced');
    const ssh = sshClientsFor(server.port).find((p) => p.pid === up.pid);
    assert.ok(ssh, `ssh ${up.pid} found`);
    const keyPath = ssh!.argv[ssh!.argv.indexOf('-i') + 1]!;
    assert.notEqual(keyPath, secret);
    assert.equal(readFileSync(keyPath, 'utf8'), readFileSync(secret, 'utf8'));
    r.cli.signal('SIGTERM');
    assert.equal((await r.cli.exited(5_000)).code, 0);
    assert.equal((statSync(secret).mode & 0o777), 0o444, 'the original is untouched');
    assert.equal(existsSync(keyPath), false, 'the private copy is gone after exit');
  });
});

describe('secrets', () => {
  it('even at debug level, no line of the private key reaches the log', async () => {
    const server = await sshd();
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port), AUTOTUNNEL_LOG_LEVEL: 'debug' }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const out = r.cli.output();
    assert.match(out, /ssh command: /, 'debug output is on');
    assert.match(out, /"msg":"ssh: /, "ssh's own lines are logged");
    const body = readFileSync(server.clientKeyPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    assert.ok(body.length > 0);
    for (const line of body) assert.equal(out.includes(line), false, 'a key line was logged');
  });
});

// Against the machine's sshd and against OpenSSH 10 (PerSourcePenalties on by default).
for (const version of SSHD_VERSIONS) describe(`recovery from real faults (OpenSSH ${version})`, { skip: skipUnless(version) }, () => {
  const sshd = (): Promise<TestSshd> => bed.sshd({ version });

  it('ssh client killed → back, with a new ssh', async () => {
    const server = await sshd();
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const mark = r.cli.mark();
    process.kill(up.pid!, 'SIGKILL');
    const down = await waitForLog(r.cli, { state: 'backoff' }, UP_TIMEOUT_MS, mark);
    assert.equal(down.cause, 'killed');
    assert.equal(down.delay_ms, 0, 'a tunnel that was up restarts at once');
    const again = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.notEqual(again.pid, up.pid);
    await echoesThrough(port);
  });

  it('sshd restarted → back', async () => {
    const server = await sshd();
    const port = await freePort();
    const r = run(envFor(server, { SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const mark = r.cli.mark();
    await server.restart();
    const down = await waitForLog(r.cli, { state: 'backoff' }, UP_TIMEOUT_MS, mark);
    assert.match(down.cause!, /connection_closed|keepalive_timeout|connection_refused/);
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    await echoesThrough(port);
  });

  it('sshd down at start → keeps trying, up once it starts', async () => {
    const server = await sshd();
    await server.stop();
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    const refused = await waitForLog(r.cli, { cause: 'connection_refused' }, UP_TIMEOUT_MS);
    assert.match(refused.msg, /refused the connection/);
    assert.match(refused.fix!, /sshd runs on 127\.0\.0\.1 port/);
    // Let it fail a few times, so the backoff is longer than the probe interval.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(r.cli.output().includes('"state":"up"'), false);
    const mark = r.cli.mark();
    await server.start();
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    await echoesThrough(port);
  });

  it('link black-holed → found dead within the keepalive budget, back after the link returns', async () => {
    const server = await sshd();
    const proxy = await FaultProxy.start('127.0.0.1', server.port);
    try {
      const port = await freePort();
      // Through the proxy the host is [127.0.0.1]:proxyPort: pin the server's key for that name.
      const r = run(
        envFor(server, {
          SSH_MODE: '-L',
          SSH_REMOTE_PORT: String(proxy.port),
          SSH_KNOWN_HOSTS_FILE: undefined,
          SSH_HOST_KEY: server.hostKeyLine(),
          SSH_TUNNEL_PORT: String(port),
          SSH_TARGET_PORT: String(echo.port),
        }),
      );
      await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
      const mark = r.cli.mark();
      const frozenAt = Date.now();
      proxy.freeze();
      // Defaults: 2 s × (3 + 1) = 8 s; the bound only catches "not within the budget".
      const dead = await waitForLog(r.cli, { state: 'backoff' }, 12_000, mark);
      const noticedMs = Date.now() - frozenAt;
      assert.equal(dead.cause, 'keepalive_timeout');
      assert.ok(noticedMs <= 12_000, `noticed after ${noticedMs} ms`);
      proxy.thaw();
      await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
      await echoesThrough(port);
    } finally {
      await proxy.close();
    }
  });
});

describe('diagnosis of permanent failures', () => {
  let server: TestSshd;
  before(async () => {
    server = await sshd();
  });

  it('wrong key → "permission denied" with the fix, and no tight retry loop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autotunnel-wrongkey-'));
    const key = join(dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(echo.port) }));
    const denied = await waitForLog(r.cli, { cause: 'permission_denied' }, UP_TIMEOUT_MS);
    assert.equal(denied.level, 'error');
    assert.match(denied.msg, /refused to log us in/);
    assert.match(denied.fix!, /authorized_keys/);
    assert.ok(denied.delay_ms! >= 20_000, `waits long before retrying (${denied.delay_ms} ms)`);
    await new Promise((r) => setTimeout(r, 3_000));
    const attempts = logLines(r.cli).filter((l) => l.state === 'connecting').length;
    assert.equal(attempts, 1, 'one attempt in the first 3 s');
  });

  it('changed host key (trusted on first use) → refused with that cause and how to fix it', async () => {
    const own = await sshd();
    const port = await freePort();
    const env = envFor(own, { SSH_MODE: '-L', SSH_KNOWN_HOSTS_FILE: undefined, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) });
    const r = run(env);
    const trusted = await waitForLog(r.cli, { msg: /trusted the server's ED25519 host key on first use: SHA256:/ }, UP_TIMEOUT_MS);
    assert.equal(trusted.level, 'warn');
    assert.match(String(trusted.fingerprint), /^SHA256:/);
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.match(readFileSync(join(r.stateDir, 'known_hosts'), 'utf8'), new RegExp(`\\[127\\.0\\.0\\.1\\]:${own.port} ssh-ed25519 `));

    const mark = r.cli.mark();
    await own.rotateHostKey();
    await own.restart();
    const changed = await waitForLog(r.cli, { cause: 'host_key_changed' }, UP_TIMEOUT_MS, mark);
    assert.match(changed.msg, /host key has changed/);
    assert.match(changed.fix!, new RegExp(`ssh-keygen -R '\\[127\\.0\\.0\\.1\\]:${own.port}' -f ${r.stateDir}/known_hosts`));
    assert.ok(changed.delay_ms! >= 20_000);
    assert.equal(r.cli.output().slice(mark).includes('"state":"up"'), false, 'never up with the wrong key');
  });

  it('changed host key against a mounted known_hosts → refused', async () => {
    const own = await sshd();
    await own.rotateHostKey();
    await own.restart();
    const r = run(envFor(own, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(echo.port) }));
    const changed = await waitForLog(r.cli, { cause: 'host_key_changed' }, UP_TIMEOUT_MS);
    assert.match(changed.fix!, new RegExp(own.knownHostsPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('-R port held by another session → "remote port forwarding failed" with the ClientAliveInterval cure', async () => {
    const port = await freePort();
    const first = run(envFor(server, { SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port), AUTOTUNNEL_NAME: 'first' }));
    await waitForLog(first.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const second = run(envFor(server, { SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port), AUTOTUNNEL_NAME: 'second' }));
    const failed = await waitForLog(second.cli, { cause: 'remote_forward_failed' }, UP_TIMEOUT_MS);
    assert.match(failed.msg, new RegExp(`could not listen on port ${port}`));
    assert.match(failed.fix!, /stale session.*ClientAliveInterval/);
  });

  it('-L port already in use here → "local port in use"', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
      const inUse = await waitForLog(r.cli, { cause: 'local_port_in_use' }, UP_TIMEOUT_MS);
      assert.match(inUse.msg, new RegExp(`local port ${port} is already in use`));
      assert.equal(r.cli.output().includes('"state":"up"'), false, 'the other listener does not count as our tunnel');
    } finally {
      blocker.close();
    }
  });
});

describe('process lifecycle', () => {
  let server: TestSshd;
  before(async () => {
    server = await sshd();
  });

  it('SIGTERM → exit 0 within 2 s, no ssh left, open connections closed', async () => {
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const held = await HeldConnection.open('127.0.0.1', port);
    assert.equal(await held.alive(), true);
    r.cli.signal('SIGTERM');
    const exit = await r.cli.exited(5_000);
    assert.equal(exit.code, 0);
    assert.ok(exit.ms <= 2_000, `exited in ${exit.ms} ms`);
    await waitForNoProcess((p) => p.pid === up.pid, 1_000);
    assert.deepEqual(sshClientsFor(server.port), []);
    held.close();
  });

  it('SIGINT → exit 0 as well', async () => {
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(echo.port) }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    r.cli.signal('SIGINT');
    assert.equal((await r.cli.exited(5_000)).code, 0);
    assert.deepEqual(sshClientsFor(server.port), []);
  });

  it('SIGKILL → its ssh does not outlive it', async () => {
    const port = await freePort();
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echo.port) }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    r.cli.signal('SIGKILL');
    await r.cli.exited(5_000);
    await waitForNoProcess((p) => p.pid === up.pid, 1_500);
    // The port is free again: nothing kept the tunnel open.
    assert.equal(await roundTrip('127.0.0.1', port, { timeoutMs: 500 }), false);
  });

  it('SIGUSR1 → retries now instead of waiting out the backoff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autotunnel-usr1-'));
    const key = join(dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const r = run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(echo.port) }));
    await waitForLog(r.cli, { cause: 'permission_denied' }, UP_TIMEOUT_MS);
    const mark = r.cli.mark();
    r.cli.signal('SIGUSR1');
    // The backoff after "permission denied" is ~30 s: attempt 2 within 5 s can only be the signal's.
    await waitForLog(r.cli, { state: 'connecting', attempt: 2 }, 5_000, mark);
    assert.ok(logLines(r.cli, mark).some((l) => /^SIGUSR1 received: connecting now instead of waiting/.test(l.msg)), 'the retry is logged with its reason');
  });

  it('bad configuration → exit 78 naming each variable, value and what is expected', async () => {
    const r = run(envFor(server, { SSH_REMOTE_PORT: '70000', SSH_MODE: '-X', SSH_OPTIONS: '-o "unbalanced' }));
    const exit = await r.cli.exited(5_000);
    assert.equal(exit.code, 78);
    const out = r.cli.output();
    assert.match(out, /SSH_REMOTE_PORT="70000": expected a TCP port number from 1 to 65535/);
    assert.match(out, /SSH_MODE="-X": expected -R/);
    assert.match(out, /SSH_OPTIONS=.*unbalanced double quote/);
    assert.doesNotMatch(out, /connecting/, 'nothing was started');
  });
});
