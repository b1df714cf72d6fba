/**
 * Key passphrases and passwords: where they come from, what makes a secret file usable, which
 * prompts the askpass helper answers, how ssh is told, and the causes a wrong one gives. Pure
 * logic; the end-to-end behaviour against a real sshd is in test/integration/secrets.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { envServerAuth, fileServerAuth, readSecret, secretFromText, withoutSecrets } from '../../src/config/secrets.js';
import { parseEnv, ENV_SETTING_NAMES } from '../../src/config/env.js';
import { ConfigError } from '../../src/config/errors.js';
import { decidePrompt } from '../../src/ssh/prompts.js';
import { runAskpass } from '../../src/adapters/askpass.js';
import { buildSshArgs } from '../../src/ssh/argv.js';
import { makeCause, withHint, type HintContext } from '../../src/ssh/causes.js';
import { parseSshLine } from '../../src/ssh/stderr.js';
import type { TunnelSpec } from '../../src/config/spec.js';
import { testSpec } from './fakes.js';

const files = (map: Record<string, string>) => (path: string): string => {
  if (!(path in map)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return map[path]!;
};

describe('a secret file holds the secret alone on one line', () => {
  test('one trailing newline is dropped, spaces inside are kept', () => {
    assert.deepEqual(secretFromText('s3cret with spaces \n'), { value: 's3cret with spaces ' });
    assert.deepEqual(secretFromText('s3cret\r\n'), { value: 's3cret' });
    assert.deepEqual(secretFromText('s3cret'), { value: 's3cret' });
  });
  test('two lines, or nothing, is refused without quoting the content', () => {
    const two = secretFromText('first\nsecond\n');
    assert.ok('problem' in two && /the file has 2 lines/.test(two.problem));
    assert.equal(JSON.stringify(two).includes('first'), false);
    assert.ok('problem' in secretFromText('\n'));
    assert.ok('problem' in secretFromText('a\n\n'), 'an empty second line is a second line');
  });
});

describe('SSH_KEY_PASSPHRASE(_FILE) and SSH_PASSWORD(_FILE)', () => {
  const run = (env: Record<string, string>, hasKey = true, read = files({ '/pp': 'pass\n', '/pw': 'pw\n', '/two': 'a\nb\n' })) => {
    const problems: string[] = [];
    const warnings: string[] = [];
    const out = envServerAuth(env, read, hasKey, (w, v, e) => problems.push(`${w}${v === undefined ? '' : `=${v}`}: ${e}`), warnings);
    return { ...out, problems, warnings };
  };
  test('files: the source, never the value, goes into the spec', () => {
    const r = run({ SSH_KEY_PASSPHRASE_FILE: '/pp', SSH_PASSWORD_FILE: '/pw' });
    assert.deepEqual(r.auth, { keyPassphrase: { file: '/pp' }, password: { file: '/pw' } });
    assert.deepEqual(r.names, { keyPassphrase: 'SSH_KEY_PASSPHRASE_FILE', password: 'SSH_PASSWORD_FILE' });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.warnings, []);
  });
  test('variables: accepted with a warning that names the safer file variable', () => {
    const r = run({ SSH_KEY_PASSPHRASE: 'pass', SSH_PASSWORD: 'pw' });
    assert.deepEqual(r.auth, { keyPassphrase: { env: 'SSH_KEY_PASSPHRASE' }, password: { env: 'SSH_PASSWORD' } });
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings[0]!, /^SSH_KEY_PASSPHRASE holds the key passphrase in an environment variable: .*prefer SSH_KEY_PASSPHRASE_FILE/);
    assert.equal(r.warnings.join().includes('pass,'), false);
  });
  test('bad input is refused naming the setting: unreadable, two lines, no key, both forms', () => {
    assert.deepEqual(run({ SSH_KEY_PASSPHRASE_FILE: '/missing' }).problems, ['SSH_KEY_PASSPHRASE_FILE=/missing: no file there; mount the secret at that path (e.g. a Docker secret at /run/secrets/NAME)']);
    assert.match(run({ SSH_PASSWORD_FILE: '/two' }).problems[0]!, /^SSH_PASSWORD_FILE=\/two: the file has 2 lines/);
    assert.deepEqual(run({ SSH_KEY_PASSPHRASE_FILE: '/pp' }, false).problems, ['SSH_KEY_PASSPHRASE_FILE: a key passphrase needs a key: set SSH_KEY_FILE to the encrypted private key (or mount it at /id_rsa)']);
    assert.deepEqual(run({ SSH_PASSWORD: 'x', SSH_PASSWORD_FILE: '/pw' }).problems, ['SSH_PASSWORD: give either SSH_PASSWORD or SSH_PASSWORD_FILE, not both']);
  });
  test('parseEnv: exit-78 error names the setting, the spec carries the sources and setting names', () => {
    const facts = { fileInfo: (p: string) => (p === '/key' ? { isFile: true, readable: true } : undefined), inContainer: false, random: () => 0, readText: files({ '/pp': 'pass\n' }) };
    const ok = parseEnv({ SSH_KEY_FILE: '/key', SSH_KEY_PASSPHRASE_FILE: '/pp', SSH_TUNNEL_PORT: '1' }, facts);
    assert.deepEqual(ok.spec.server.auth, { keyPassphrase: { file: '/pp' } });
    assert.equal(ok.spec.settingNames.keyPassphrase, 'SSH_KEY_PASSPHRASE_FILE');
    assert.throws(() => parseEnv({ SSH_KEY_PASSPHRASE_FILE: '/pp', SSH_TUNNEL_PORT: '1' }, facts), (e: unknown) => e instanceof ConfigError && e.exitCode === 78 && /SSH_KEY_PASSPHRASE_FILE: a key passphrase needs a key/.test(e.message));
  });
  test('tunnels file: the field is named, the value path too', () => {
    const fails: string[] = [];
    const field = (value: string, setting: string) => ({ value, setting, fail: (why: string) => fails.push(`${setting}=${value}: ${why}`) });
    const r = fileServerAuth({ keyPassphraseFile: field('/pp', 'tunnels[0].server.key_passphrase_file'), passwordFile: field('/two', 'tunnels[0].server.password_file') }, files({ '/pp': 'x\n', '/two': 'a\nb' }), undefined);
    assert.equal(r.auth, undefined);
    assert.deepEqual(fails, [
      'tunnels[0].server.key_passphrase_file=/pp: a key passphrase needs a key: set server.key_file to the encrypted private key',
      'tunnels[0].server.password_file=/two: the file has 2 lines; expected the secret alone on one line (one trailing newline is fine)',
    ]);
  });
  test('a secret is read again at use; a vanished file is a message naming the setting', () => {
    assert.deepEqual(readSecret({ file: '/pw' }, 'SSH_PASSWORD_FILE', files({ '/pw': 'new\n' }), {}), { value: 'new' });
    assert.deepEqual(readSecret({ file: '/pw' }, 'SSH_PASSWORD_FILE', files({}), {}), { problem: 'SSH_PASSWORD_FILE="/pw": no file there; mount the secret at that path (e.g. a Docker secret at /run/secrets/NAME)' });
    assert.deepEqual(readSecret({ env: 'SSH_PASSWORD' }, 'SSH_PASSWORD', files({}), { SSH_PASSWORD: 'v' }), { value: 'v' });
  });
  test('children never inherit the secret variables', () => {
    assert.deepEqual(withoutSecrets({ PATH: '/bin', SSH_PASSWORD: 'x', SSH_KEY_PASSPHRASE: 'y', SSH_PASSWORD_FILE: '/f' }), { PATH: '/bin', SSH_PASSWORD_FILE: '/f' });
  });
});

describe('the askpass helper answers only the prompts it was given a secret for', () => {
  test('password mode: ssh\'s password prompt and keyboard-interactive "Password:"', () => {
    assert.equal(decidePrompt("tunnel@vps.example.com's password: ", 'password').answer, true);
    assert.equal(decidePrompt('(tunnel@10.0.0.5) Password: ', 'password').answer, true);
    assert.equal(decidePrompt('Password: ', 'password').answer, true);
  });
  test('password mode refuses host-key confirmations, one-time codes, password changes, key passphrases', () => {
    for (const prompt of [
      "The authenticity of host 'vps (10.0.0.5)' can't be established.\nED25519 key fingerprint is SHA256:x.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? ",
      '(tunnel@vps) Verification code: ',
      'One-time password (OATH) for `tunnel\': ',
      '(current) UNIX password: ',
      'New password: ',
      "Enter passphrase for key '/id_rsa': ",
    ]) assert.equal(decidePrompt(prompt, 'password').answer, false, prompt);
    const d = decidePrompt('Are you sure you want to continue connecting (yes/no/[fingerprint])? ', 'password');
    assert.ok(!d.answer && /never confirms host keys/.test(d.reason));
  });
  test('passphrase mode: ssh-add and ssh-keygen prompts; a retry means a wrong passphrase', () => {
    assert.equal(decidePrompt('Enter passphrase for /dev/shm/autotunnel-1-x/t.key: ', 'passphrase').answer, true);
    assert.equal(decidePrompt('Enter passphrase: ', 'passphrase').answer, true);
    const retry = decidePrompt('Bad passphrase, try again for /k: ', 'passphrase');
    assert.ok(!retry.answer && retry.wrongSecret);
    assert.equal(decidePrompt("tunnel@vps's password: ", 'passphrase').answer, false);
  });
  test('the helper prints the secret only for an answered prompt, and says why it refused on stderr', () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = (env: Record<string, string>) => ({ env, readText: files({ '/s': 'hunter2\n' }), stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) });
    const env = { AUTOTUNNEL_ASKPASS_FILE: '/s', AUTOTUNNEL_ASKPASS_FOR: 'password' };
    assert.equal(runAskpass("me@host's password: ", io(env)), 0);
    assert.deepEqual(out, ['hunter2\n']);
    assert.equal(runAskpass('Verification code: ', io(env)), 1);
    assert.deepEqual(out, ['hunter2\n'], 'nothing more printed');
    assert.match(err[0]!, /^autotunnel-askpass: refused to answer "Verification code:": autotunnel only answers password prompts/);
    assert.equal(runAskpass("me@host's password: ", io({})), 1, 'not started by autotunnel');
  });
});

const spec = (): TunnelSpec => testSpec('t', [{ kind: 'local', bindAddress: '127.0.0.1', bindPort: 1, targetHost: 'db', targetPort: 2 }], { user: 'u', host: 'h', port: 22 });

describe('ssh\'s options for a secret', () => {
  test('without a secret: BatchMode=yes, nothing else changes', () => {
    const args = buildSshArgs(spec(), { knownHostsFile: '/kh' });
    assert.ok(args.includes('BatchMode=yes'));
    assert.equal(args.some((a) => /NumberOfPasswordPrompts|IdentityAgent|PreferredAuthentications/.test(a)), false);
  });
  test('password: BatchMode=no (yes turns password authentication off), one try, password methods only when there is no key', () => {
    const args = buildSshArgs(spec(), { knownHostsFile: '/kh', password: true });
    assert.deepEqual(args.slice(2, 8), ['-o', 'BatchMode=no', '-o', 'NumberOfPasswordPrompts=1', '-o', 'PreferredAuthentications=keyboard-interactive,password']);
    const withKey = buildSshArgs(spec(), { knownHostsFile: '/kh', password: true, identityFile: '/k' });
    assert.equal(withKey.some((a) => a.startsWith('PreferredAuthentications')), false);
  });
  test('a key in autotunnel\'s agent: that agent and that key only', () => {
    const args = buildSshArgs(spec(), { knownHostsFile: '/kh', identityFile: '/run/a/t.pub', identityAgent: '/run/a/agent.sock' });
    const i = args.indexOf('-i');
    assert.deepEqual(args.slice(i, i + 6), ['-i', '/run/a/t.pub', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=/run/a/agent.sock']);
    assert.ok(args.includes('BatchMode=yes'), 'no prompt is ever needed');
  });
});

describe('causes of a wrong secret', () => {
  const ctx = (over: Partial<HintContext> = {}): HintContext => ({
    host: 'h', port: 22, user: 'u', hostKeyMode: 'known-hosts', knownHostsFile: '/kh', identityFile: '/k', remotePorts: [],
    settings: { ...ENV_SETTING_NAMES, keyPassphrase: 'SSH_KEY_PASSPHRASE_FILE', password: 'SSH_PASSWORD_FILE' }, ...over,
  });
  test('"Permission denied" after a password try is password_rejected, permanent, with the setting in the fix', () => {
    const line = parseSshLine('u@h: Permission denied (publickey,password).');
    const c = withHint(line.cause!, ctx({ passwordAuth: true }));
    assert.equal(c.code, 'password_rejected');
    assert.equal(c.kind, 'permanent');
    assert.equal(c.summary, 'the server refused the password for u@h (tried: publickey,password)');
    assert.match(c.hint!, /SSH_PASSWORD_FILE.*PerSourcePenalties/);
  });
  test('a server that offers no password method is told apart', () => {
    const c = withHint(parseSshLine('u@h: Permission denied (publickey).').cause!, ctx({ passwordAuth: true }));
    assert.equal(c.code, 'permission_denied');
    assert.match(c.hint!, /did not offer password authentication/);
  });
  test('the key agent\'s and the helper\'s own lines become their causes', () => {
    const wrong = withHint(parseSshLine('autotunnel: the passphrase does not open /id_rsa').cause!, ctx());
    assert.equal(wrong.code, 'key_passphrase_wrong');
    assert.equal(wrong.summary, 'the passphrase does not open /id_rsa');
    assert.match(wrong.hint!, /SSH_KEY_PASSPHRASE_FILE \(check it with: ssh-keygen -y -f \/k\)/);
    const refused = parseSshLine('autotunnel-askpass: refused to answer "Verification code:": autotunnel only answers password prompts').cause!;
    assert.equal(refused.code, 'prompt_refused');
    assert.equal(refused.kind, 'permanent');
    assert.equal(makeCause('secret_unreadable', 'x').kind, 'permanent');
  });
});
