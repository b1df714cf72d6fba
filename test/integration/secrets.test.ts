/**
 * Keys with a passphrase (autotunnel's own ssh-agent) and password authentication (its askpass
 * helper), end to end against a real sshd: the tunnel carries data, the secret is in no argv,
 * no child's environment, no log line at debug level, the API or the page, wrong secrets are
 * their own permanent causes, and bad input stops the start with exit 78.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestSshd, freePort } from '../harness/sshd.js';
import { roundTrip, waitFor } from '../harness/echo.js';
import { listProcesses, waitForNoProcess } from '../harness/procs.js';
import { processesHolding } from '../harness/secret-scan.js';
import { createTestUser, testUserUnavailable, type TestUser } from '../harness/test-user.js';
import { envFor, logLines, testBed, waitForLog, type TunnelRun } from './helpers.js';

const UP_TIMEOUT_MS = 15_000;

const bed = testBed();
const echoPort = () => bed.echo().port;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'autotunnel-secrets-'));
}

/** A copy of the server's client key, encrypted with a fresh random passphrase (file mode 0600). */
function encryptedKey(server: TestSshd, dir: string): { key: string; passphrase: string; passphraseFile: string } {
  const key = join(dir, 'id_enc');
  copyFileSync(server.clientKeyPath, key);
  const passphrase = `pp-${randomBytes(12).toString('hex')}`;
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', passphrase, '-f', key]);
  const passphraseFile = join(dir, 'passphrase');
  writeFileSync(passphraseFile, passphrase + '\n', { mode: 0o600 });
  return { key, passphrase, passphraseFile };
}

/**
 * Rotates a key in place: a new key with a new passphrase written over the old files, and only
 * the new key authorized on the server. Returns the new public key's base64 part.
 */
function rotateKey(server: TestSshd, key: string, passphraseFile: string): string {
  const fresh = join(tempDir(), 'fresh');
  const passphrase = `pp-${randomBytes(12).toString('hex')}`;
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', fresh]);
  writeFileSync(join(server.dir, 'authorized_keys'), readFileSync(`${fresh}.pub`));
  writeFileSync(key, readFileSync(fresh));
  writeFileSync(passphraseFile, passphrase + '\n');
  return readFileSync(`${fresh}.pub`, 'utf8').split(' ')[1]!;
}

/** The keys (base64 parts) in the agent the ssh process `pid` is pointed at. */
function agentKeysOf(pid: number): string[] {
  const ssh = listProcesses((p) => p.pid === pid)[0]!;
  const socket = ssh.argv.find((a) => a.startsWith('IdentityAgent='))!.slice('IdentityAgent='.length);
  return execFileSync('ssh-add', ['-L'], { env: { ...process.env, SSH_AUTH_SOCK: socket } }).toString().trim().split('\n').map((l) => l.split(' ')[1]!);
}

/** ssh-agent processes started by the autotunnel process `pid` (their socket names it). */
function agentsOf(pid: number) {
  return listProcesses((p) => p.argv.some((a) => /ssh-agent$/.test(a)) && p.argv.some((a) => a.includes(`/autotunnel-${pid}-`)));
}

/** Every place a secret must never be: other processes, the log, the API, the status page. */
async function assertNowhere(secret: string, run: TunnelRun, http: string, exceptPids: number[] = []): Promise<void> {
  assert.deepEqual(processesHolding(secret, exceptPids), [], 'no argv or environment holds the secret');
  assert.equal(run.cli.output().includes(secret), false, 'the log does not hold the secret');
  const api = await (await fetch(`http://${http}/api/tunnels`)).text();
  assert.match(api, /"state":"up"/);
  assert.equal(api.includes(secret), false, 'the API does not hold the secret');
  const page = await (await fetch(`http://${http}/`)).text();
  assert.equal(page.includes(secret), false, 'the page does not hold the secret');
}

describe('a key with a passphrase, through autotunnel\'s own ssh-agent', () => {
  let server: TestSshd;
  before(async () => {
    server = await bed.sshd();
  });

  it('carries data; the passphrase is in no argv, environment, debug log, API or page; ssh uses the agent and that key only', async () => {
    const { key, passphrase, passphraseFile } = encryptedKey(server, tempDir());
    const port = await freePort();
    const http = `127.0.0.1:${await freePort()}`;
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_KEY_PASSPHRASE_FILE: passphraseFile, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echoPort()), AUTOTUNNEL_LOG_LEVEL: 'debug', AUTOTUNNEL_HTTP: http }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await roundTrip('127.0.0.1', port), true);
    assert.match(r.cli.output(), /"msg":"ssh: /, 'ssh\'s own lines are logged (debug)');
    await waitFor(async () => { try { await fetch(`http://${http}/api/tunnels`); return true; } catch { return false; } }, { timeoutMs: 5_000, what: 'the HTTP listener' });
    await assertNowhere(passphrase, r, http);

    const ssh = listProcesses((p) => p.pid === up.pid)[0];
    assert.ok(ssh, 'ssh is running');
    const agentOption = ssh.argv.find((a) => a.startsWith('IdentityAgent='));
    assert.ok(agentOption, `ssh is pointed at autotunnel's agent: ${ssh.argv.join(' ')}`);
    const socket = agentOption.slice('IdentityAgent='.length);
    assert.match(socket, new RegExp(`/autotunnel-${r.cli.pid}-[^/]+/agent\\.sock$`), 'the socket is in the private runtime directory');
    assert.ok(ssh.argv.includes('IdentitiesOnly=yes'));
    const identity = ssh.argv[ssh.argv.indexOf('-i') + 1]!;
    assert.match(identity, /\.pub$/, 'the identity is the public half');
    const listed = execFileSync('ssh-add', ['-L'], { env: { ...process.env, SSH_AUTH_SOCK: socket } }).toString().trim().split('\n');
    assert.equal(listed.length, 1, 'the agent holds that key only');
    assert.equal(listed[0]!.split(' ').slice(0, 2).join(' '), readFileSync(`${server.clientKeyPath}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' '));
    assert.equal(agentsOf(r.cli.pid).length, 1, 'one agent runs');
    assert.equal(readdirNoSecrets(socket), true, 'no copy of the key or the passphrase is left beside the agent');

    r.cli.signal('SIGTERM');
    assert.equal((await r.cli.exited(5_000)).code, 0);
    await waitForNoProcess((p) => agentsOf(r.cli.pid).some((a) => a.pid === p.pid), 2_000);
    assert.equal(existsSync(socket), false, 'the runtime directory is gone after exit');
  });

  it('SIGKILL → the agent does not outlive autotunnel', async () => {
    const { key, passphraseFile } = encryptedKey(server, tempDir());
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_KEY_PASSPHRASE_FILE: passphraseFile, SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(echoPort()) }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const agents = agentsOf(r.cli.pid);
    assert.equal(agents.length, 1);
    r.cli.signal('SIGKILL');
    await r.cli.exited(5_000);
    await waitForNoProcess((p) => p.pid === agents[0]!.pid, 2_000);
  });

  it('wrong passphrase → "the passphrase does not open KEY", waits the cap; the corrected file is read again', async () => {
    const { key, passphrase, passphraseFile } = encryptedKey(server, tempDir());
    writeFileSync(passphraseFile, 'not-the-passphrase\n');
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_KEY_PASSPHRASE_FILE: passphraseFile, SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(echoPort()) }));
    const wrong = await waitForLog(r.cli, { cause: 'key_passphrase_wrong' }, UP_TIMEOUT_MS);
    assert.equal(wrong.level, 'error');
    assert.equal(wrong.msg.startsWith(`down: the passphrase does not open ${key};`), true, wrong.msg);
    assert.match(wrong.fix!, /SSH_KEY_PASSPHRASE_FILE/);
    assert.ok(wrong.delay_ms! >= 20_000, `waits the cap (${wrong.delay_ms} ms)`);
    writeFileSync(passphraseFile, passphrase + '\n');
    const mark = r.cli.mark();
    r.cli.signal('SIGUSR1');
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
  });

  it('a key rotated in place (new key, new passphrase) is added again before the next connection', async () => {
    const own = await bed.sshd();
    const dir = tempDir();
    const { key, passphraseFile } = encryptedKey(own, dir);
    const port = await freePort();
    const r = bed.run(envFor(own, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_KEY_PASSPHRASE_FILE: passphraseFile, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echoPort()) }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const freshPub = rotateKey(own, key, passphraseFile);
    const mark = r.cli.mark();
    process.kill(up.pid!, 'SIGKILL');
    const again = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.notEqual(again.pid, up.pid);
    assert.equal(await roundTrip('127.0.0.1', port), true);
    assert.deepEqual(agentKeysOf(again.pid!), [freshPub], 'the agent holds the new key only');
  });

  it('tunnels file: a key rotated in place is added again on reload (SIGHUP), without touching the running ssh', async () => {
    const own = await bed.sshd();
    const dir = tempDir();
    const { key, passphraseFile } = encryptedKey(own, dir);
    const port = await freePort();
    const config = join(dir, 'tunnels.yaml');
    writeFileSync(config, `tunnels:
  - name: db
    server: { host: 127.0.0.1, port: ${own.port}, user: ${own.user}, key_file: ${key}, key_passphrase_file: ${passphraseFile}, known_hosts_file: ${own.knownHostsPath} }
    forwards:
      - local: 127.0.0.1:${port}
        to: 127.0.0.1:${echoPort()}
`);
    const r = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', config]);
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const freshPub = rotateKey(own, key, passphraseFile);
    const mark = r.cli.mark();
    r.cli.signal('SIGHUP');
    const added = await waitForLog(r.cli, { msg: /changed: added again to autotunnel's agent$/ }, UP_TIMEOUT_MS, mark);
    assert.equal(added.tunnel, 'db');
    assert.equal(logLines(r.cli, mark).some((l) => l.state === 'connecting'), false, 'the running ssh was left alone');
    assert.deepEqual(agentKeysOf(up.pid!), [freshPub], 'the agent holds the new key only');
    process.kill(up.pid!, 'SIGKILL');
    await waitForLog(r.cli, { state: 'up', attempt: 2 }, UP_TIMEOUT_MS, mark);
    assert.equal(await roundTrip('127.0.0.1', port), true);
  });

  it('SSH_KEY_PASSPHRASE works too, with a warning, and stays out of ssh\'s and the agent\'s environment; a 0444 key (a Docker secret) is fine', async () => {
    const { key, passphrase } = encryptedKey(server, tempDir());
    chmodSync(key, 0o444);
    const port = await freePort();
    const http = `127.0.0.1:${await freePort()}`;
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_KEY_PASSPHRASE: passphrase, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echoPort()), AUTOTUNNEL_LOG_LEVEL: 'debug', AUTOTUNNEL_HTTP: http }));
    const warning = await waitForLog(r.cli, { msg: /^SSH_KEY_PASSPHRASE holds the key passphrase in an environment variable/ }, UP_TIMEOUT_MS);
    assert.equal(warning.level, 'warn');
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await roundTrip('127.0.0.1', port), true);
    await waitFor(async () => { try { await fetch(`http://${http}/api/tunnels`); return true; } catch { return false; } }, { timeoutMs: 5_000, what: 'the HTTP listener' });
    // autotunnel's own environment holds it (the user put it there); nothing it starts does.
    await assertNowhere(passphrase, r, http, [r.cli.pid]);
  });
});

/** Whether the runtime directory beside the socket holds only the socket and the public key. */
function readdirNoSecrets(socket: string): boolean {
  const dir = socket.slice(0, socket.lastIndexOf('/'));
  const files = execFileSync('ls', ['-A', dir]).toString().trim().split('\n');
  // alive.sock: the socket that says the directory's maker still runs (ssh-files.ts); no secret.
  return files.every((f) => f === 'agent.sock' || f === 'alive.sock' || f.endsWith('.pub'));
}

describe('password authentication through the askpass helper', () => {
  const unavailable = testUserUnavailable();
  if (unavailable) console.log(`SKIPPED: password authentication tests: ${unavailable}`);
  let user: TestUser;
  let passwordServer: TestSshd;
  let kbdintServer: TestSshd;
  before(async () => {
    if (unavailable) return;
    user = createTestUser();
    // The harness's defaults come after these lines, and sshd keeps the first value.
    passwordServer = await bed.sshd({ extraConfig: ['PasswordAuthentication yes'] });
    kbdintServer = await bed.sshd({ extraConfig: ['UsePAM yes', 'KbdInteractiveAuthentication yes', 'PasswordAuthentication no'] });
  });
  const passwordEnv = (server: TestSshd, passwordFile: string, port: number, extra: Record<string, string> = {}) =>
    envFor(server, { SSH_MODE: '-L', SSH_REMOTE_USER: user.name, SSH_KEY_FILE: undefined, SSH_PASSWORD_FILE: passwordFile, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(echoPort()), ...extra });
  const passwordFile = (text: string) => {
    const file = join(tempDir(), 'password');
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };

  it('password method: carries data; the password is in no argv, environment, debug log, API or page', { skip: unavailable }, async () => {
    const port = await freePort();
    const http = `127.0.0.1:${await freePort()}`;
    const r = bed.run(passwordEnv(passwordServer, passwordFile(user.password + '\n'), port, { AUTOTUNNEL_LOG_LEVEL: 'debug', AUTOTUNNEL_HTTP: http }));
    const up = await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.ok(logLines(r.cli).some((l) => /Authenticated to .* using "password"/.test(l.msg)), 'authenticated by password');
    assert.equal(await roundTrip('127.0.0.1', port), true);
    await waitFor(async () => { try { await fetch(`http://${http}/api/tunnels`); return true; } catch { return false; } }, { timeoutMs: 5_000, what: 'the HTTP listener' });
    await assertNowhere(user.password, r, http);
    const ssh = listProcesses((p) => p.pid === up.pid)[0]!;
    assert.ok(ssh.argv.includes('BatchMode=no') && ssh.argv.includes('NumberOfPasswordPrompts=1'), ssh.argv.join(' '));
    const runtimeDirs = readdirSync('/dev/shm').filter((d) => d.startsWith(`autotunnel-${r.cli.pid}-`));
    assert.ok(runtimeDirs.length > 0, 'the runtime directory is in /dev/shm');
    for (const d of runtimeDirs) assert.deepEqual(readdirSync(join('/dev/shm', d)).filter((f) => f.endsWith('.password')), [], 'the password file is gone once ssh is in');
  });

  it('keyboard-interactive "Password:" (PAM): carries data', { skip: unavailable }, async () => {
    const port = await freePort();
    const r = bed.run(passwordEnv(kbdintServer, passwordFile(user.password), port, { AUTOTUNNEL_LOG_LEVEL: 'debug' }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.ok(logLines(r.cli).some((l) => /Authenticated to .* using "keyboard-interactive"/.test(l.msg)), 'authenticated by keyboard-interactive');
    assert.equal(await roundTrip('127.0.0.1', port), true);
  });

  it('wrong password → its own permanent cause, one try, then the full backoff', { skip: unavailable }, async () => {
    const r = bed.run(passwordEnv(passwordServer, passwordFile('wrong-password\n'), await freePort()));
    const denied = await waitForLog(r.cli, { cause: 'password_rejected' }, UP_TIMEOUT_MS);
    assert.equal(denied.level, 'error');
    assert.match(denied.msg, new RegExp(`refused the password for ${user.name}@127\\.0\\.0\\.1`));
    assert.match(denied.fix!, /SSH_PASSWORD_FILE/);
    assert.ok(denied.delay_ms! >= 20_000, `waits the cap (${denied.delay_ms} ms)`);
    const failures = (passwordServer.log().match(new RegExp(`Failed password for ${user.name}`, 'g')) ?? []).length;
    assert.equal(failures, 1, 'the password was tried once');
  });

  it('a prompt that is not a password (a host key to confirm) is refused, never answered', { skip: unavailable }, async () => {
    // ssh's own configuration decides host keys on an ssh-style command line: make it ask.
    const dir = tempDir();
    const config = join(dir, 'ssh_config');
    writeFileSync(config, `StrictHostKeyChecking ask\nUserKnownHostsFile ${join(dir, 'known_hosts')}\n`);
    const r = bed.run({ SSH_PASSWORD_FILE: passwordFile(user.password), AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined },
      ['-L', `${await freePort()}:127.0.0.1:${echoPort()}`, '-F', config, '-p', String(passwordServer.port), `${user.name}@127.0.0.1`]);
    const refused = await waitForLog(r.cli, { cause: 'prompt_refused' }, UP_TIMEOUT_MS);
    assert.match(refused.msg, /never confirms host keys/);
    assert.equal(existsSync(join(dir, 'known_hosts')), false, 'the key was not accepted');
  });

  after(() => {
    if (unavailable) return;
    user.remove();
    assert.throws(() => execFileSync('id', [user.name], { stdio: 'ignore' }), 'the throwaway user is removed');
  });
});

describe('bad secret settings → exit 78 naming the setting, nothing started', () => {
  const refused = async (env: Record<string, string | undefined>, args: string[] = []): Promise<string> => {
    const r = bed.run({ SSH_REMOTE_HOST: '127.0.0.1', SSH_TUNNEL_PORT: '1', SSH_MODE: '-L', SSH_KNOWN_HOSTS_FILE: undefined, ...env }, args);
    const exit = await r.cli.exited(10_000);
    assert.equal(exit.code, 78, r.cli.output());
    assert.doesNotMatch(r.cli.output(), /connecting/);
    return r.cli.output();
  };

  it('an unreadable passphrase file', async () => {
    const dir = tempDir();
    const key = join(dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'x-passphrase', '-f', key]);
    const out = await refused({ SSH_KEY_FILE: key, SSH_KEY_PASSPHRASE_FILE: join(dir, 'missing') });
    assert.match(out, /SSH_KEY_PASSPHRASE_FILE=".*missing": no file there/);
  });

  it('a password file with two lines, without echoing either line', async () => {
    const file = join(tempDir(), 'pw');
    writeFileSync(file, 'first-line-secret\nsecond-line-secret\n');
    const out = await refused({ SSH_PASSWORD_FILE: file });
    assert.match(out, /SSH_PASSWORD_FILE=".*pw": the file has 2 lines; expected the secret alone on one line/);
    assert.equal(/first-line-secret|second-line-secret/.test(out), false);
  });

  it('a key passphrase and no key', async () => {
    const file = join(tempDir(), 'pp');
    writeFileSync(file, 'some-passphrase\n');
    const out = await refused({ SSH_KEY_FILE: undefined, SSH_KEY_PASSPHRASE_FILE: file });
    assert.match(out, /SSH_KEY_PASSPHRASE_FILE: a key passphrase needs a key: set SSH_KEY_FILE/);
  });

  it('the same in a tunnels file, naming the field', async () => {
    const dir = tempDir();
    const pw = join(dir, 'pw');
    writeFileSync(pw, 'a\nb\n');
    const pp = join(dir, 'pp');
    writeFileSync(pp, 'passphrase\n');
    const file = join(dir, 'tunnels.yaml');
    writeFileSync(file, `tunnels:\n  - name: db\n    server: { host: 127.0.0.1, password_file: ${pw}, key_passphrase_file: ${pp} }\n    forwards:\n      - local: 1\n        to: db:5432\n`);
    const out = await refused({}, ['check', '-c', file]);
    assert.match(out, /tunnels\[0\] \(db\)\.server\.password_file=".*pw": the file has 2 lines/);
    assert.match(out, /tunnels\[0\] \(db\)\.server\.key_passphrase_file=".*pp": a key passphrase needs a key: set server\.key_file/);
  });
});
