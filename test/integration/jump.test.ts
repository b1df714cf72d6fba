/**
 * Tunnels through a jump host: two real sshd on loopback, the tunnel reaches the second through
 * the first. HOME is an empty directory (as in a container): the jump connection can only work
 * if it uses the tunnel's own key and host keys, never ~/.ssh.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type TestSshd } from '../harness/sshd.js';
import { roundTrip, waitFor } from '../harness/echo.js';
import { envFor, logLines, testBed, waitForLog } from './helpers.js';

const UP_TIMEOUT_MS = 15_000;
const ROUND_TRIP_TIMEOUT_MS = 15_000;

const bed = testBed();

async function echoesThrough(port: number): Promise<void> {
  await waitFor(() => roundTrip('127.0.0.1', port, { timeoutMs: 1000 }), { timeoutMs: ROUND_TRIP_TIMEOUT_MS, what: `a round trip through 127.0.0.1:${port}` });
}

/** A jump sshd and a destination sshd that both accept the destination's client key. */
async function twoServers(): Promise<{ jump: TestSshd; dest: TestSshd; knownHosts: string; home: string }> {
  const [jump, dest] = await Promise.all([bed.sshd(), bed.sshd()]);
  appendFileSync(join(jump.dir, 'authorized_keys'), readFileSync(`${dest.clientKeyPath}.pub`));
  const dir = mkdtempSync(join(tmpdir(), 'autotunnel-jump-'));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, readFileSync(jump.knownHostsPath, 'utf8') + readFileSync(dest.knownHostsPath, 'utf8'));
  const home = mkdtempSync(join(tmpdir(), 'autotunnel-emptyhome-'));
  return { jump, dest, knownHosts, home };
}

type Servers = Awaited<ReturnType<typeof twoServers>>;

/** A -L tunnel to the echo target on `dest`, through `jump` given in SSH_OPTIONS, with an empty HOME. */
function jumpEnv(s: Servers, port: number): Record<string, string | undefined> {
  return envFor(s.dest, {
    HOME: s.home,
    SSH_MODE: '-L',
    SSH_KNOWN_HOSTS_FILE: s.knownHosts,
    SSH_OPTIONS: `-J ${s.jump.user}@127.0.0.1:${s.jump.port}`,
    SSH_TUNNEL_PORT: String(port),
    SSH_TARGET_PORT: String(bed.echo().port),
  });
}

describe('jump hosts', () => {
  let s: Servers;
  before(async () => {
    s = await twoServers();
  });

  it('SSH_OPTIONS -J with an empty ~/.ssh: the jump uses the tunnel\'s key and host keys, carries data, and comes back after the jump sshd restarts', async () => {
    const port = await freePort();
    const r = bed.run(jumpEnv(s, port));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    await echoesThrough(port);

    const mark = r.cli.mark();
    await s.jump.stop();
    const refused = await waitForLog(r.cli, { state: 'backoff', cause: 'connection_refused' }, UP_TIMEOUT_MS, mark);
    assert.match(refused.msg, new RegExp(`the jump host 127\\.0\\.0\\.1:${s.jump.port} failed`));
    assert.match(refused.fix!, new RegExp(`sshd runs on the jump host 127\\.0\\.0\\.1 port ${s.jump.port}`));
    // While the jump host is down the tunnel backs off as usual (0, 0.2, 0.4, 0.8 s: 5 attempts
    // here), though the server itself answers: watching the server once made ~100 attempts in 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const attempts = logLines(r.cli, mark).filter((l) => l.state === 'connecting').length;
    assert.ok(attempts <= 6, `backoff, not a retry loop while the jump host is down (${attempts} attempts in 1.5 s)`);
    await s.jump.start();
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    await echoesThrough(port);
  });

  it('server.jump in a file: the same, and the jump host is trusted on first use like the server', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'autotunnel-jumpfile-'));
    const file = join(dir, 'tunnels.yaml');
    writeFileSync(
      file,
      [
        'tunnels:',
        '  - name: through',
        '    server:',
        '      host: 127.0.0.1',
        `      port: ${s.dest.port}`,
        `      user: ${s.dest.user}`,
        `      key_file: ${s.dest.clientKeyPath}`,
        `      jump: ['${s.jump.user}@127.0.0.1:${s.jump.port}']`,
        '    forwards:',
        `      - local: 127.0.0.1:${port}`,
        `        to: 127.0.0.1:${bed.echo().port}`,
      ].join('\n') + '\n',
    );
    const r = bed.run({ HOME: s.home, AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', file]);
    await waitForLog(r.cli, { tunnel: 'through', state: 'up' }, UP_TIMEOUT_MS);
    await echoesThrough(port);
    assert.ok(logLines(r.cli).some((l) => /^trusted the jump host's ED25519 host key on first use: SHA256:/.test(l.msg)), 'the jump host key is announced as such');
    assert.ok(logLines(r.cli).some((l) => /^trusted the server's ED25519 host key on first use: SHA256:/.test(l.msg)));
    const trusted = readFileSync(join(r.stateDir, 'known_hosts'), 'utf8');
    assert.match(trusted, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${s.jump.port} ssh-ed25519 `, 'm'), 'the jump host key is remembered');
    assert.match(trusted, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${s.dest.port} ssh-ed25519 `, 'm'), "the server's key is remembered");
  });

  it('SSH_HOST_KEY with whole known_hosts lines pins the jump host\'s key as well as the server\'s', async () => {
    const port = await freePort();
    const r = bed.run({ ...jumpEnv(s, port), SSH_KNOWN_HOSTS_FILE: undefined, SSH_HOST_KEY: readFileSync(s.knownHosts, 'utf8') });
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    await echoesThrough(port);
  });

  it('two jump hosts in a row: every hop uses the tunnel\'s key and host keys', async () => {
    const second = await bed.sshd();
    appendFileSync(join(second.dir, 'authorized_keys'), readFileSync(`${s.dest.clientKeyPath}.pub`));
    const knownHosts = join(mkdtempSync(join(tmpdir(), 'autotunnel-jump2-')), 'known_hosts');
    writeFileSync(knownHosts, readFileSync(s.knownHosts, 'utf8') + readFileSync(second.knownHostsPath, 'utf8'));
    const port = await freePort();
    const r = bed.run({
      ...jumpEnv(s, port),
      SSH_KNOWN_HOSTS_FILE: knownHosts,
      SSH_OPTIONS: `-J ${s.jump.user}@127.0.0.1:${s.jump.port},${second.user}@127.0.0.1:${second.port}`,
    });
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    await echoesThrough(port);
  });

  it('a jump host with a changed host key is reported as the jump host failing, with its address and the fix', async () => {
    const own = await twoServers();
    await own.jump.rotateHostKey();
    await own.jump.restart();
    const r = bed.run(jumpEnv(own, await freePort()));
    const failed = await waitForLog(r.cli, { state: 'backoff' }, UP_TIMEOUT_MS);
    assert.equal(failed.cause, 'host_key_changed', JSON.stringify(failed));
    assert.match(failed.msg, new RegExp(`jump host 127\\.0\\.0\\.1:${own.jump.port}`));
    assert.match(failed.fix!, new RegExp(`\\[127\\.0\\.0\\.1\\]:${own.jump.port}`), 'the fix names the jump host, not the server');
    assert.equal(logLines(r.cli).some((l) => l.state === 'up'), false);
  });
});
