/** ssh's stderr, as real OpenSSH 9.2 printed it (test/fixtures/ssh-stderr), read into causes and progress. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CauseTracker, LAST_WORDS_KEPT, parseSshLine, type SshProgress } from '../../src/ssh/stderr.js';
import type { CauseCode } from '../../src/ssh/causes.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'ssh-stderr');

function read(name: string) {
  // Real captures end lines with \r\n and may hold bare \n inside a message: split as readline does.
  const lines = readFileSync(join(FIXTURES, `${name}.txt`), 'utf8').split(/\r?\n/).filter((l) => l !== '');
  const tracker = new CauseTracker();
  const progress: SshProgress[] = [];
  for (const raw of lines) {
    const line = parseSshLine(raw);
    tracker.observe(line);
    if (line.progress) progress.push(line.progress);
  }
  return { cause: tracker.cause, progress, types: progress.map((p) => p.type) };
}

describe('causes from real ssh output', () => {
  const cases: Array<[string, CauseCode, RegExp]> = [
    ['connection-refused', 'connection_refused', /refused the connection on port \d+/],
    ['permission-denied', 'permission_denied', /refused to log us in \(permission denied, tried: publickey\)/],
    ['host-key-changed', 'host_key_changed', /host key has changed/],
    ['host-key-unknown-strict', 'host_key_unknown', /ED25519 host key is not in the known_hosts file/],
    ['remote-forward-failed', 'remote_forward_failed', /could not listen on port \d+ for the -R forward/],
    ['local-port-in-use', 'local_port_in_use', /local port \d+ is already in use/],
    ['keepalive-timeout', 'keepalive_timeout', /stopped answering keepalives/],
    ['connect-timeout', 'connect_timeout', /no answer from the server/],
    ['could-not-resolve', 'dns_failure', /nonexistent\.invalid could not be resolved/],
    ['unprotected-private-key', 'key_file_rejected', /could not load the private key .*bad permissions|permissions are too open/],
  ];
  for (const [fixture, code, summary] of cases) {
    it(`${fixture} → ${code}`, () => {
      const { cause } = read(fixture);
      assert.ok(cause, 'a cause is found');
      assert.equal(cause.code, code);
      assert.match(cause.summary, summary);
      assert.ok(cause.line && !cause.line.startsWith('debug'), 'the cause quotes an error line, not a debug line');
    });
  }

  it('successful runs yield no cause', () => {
    for (const fixture of ['local-forward-up', 'remote-forward-up-port0', 'accept-new-first-connection']) {
      assert.equal(read(fixture).cause, undefined, fixture);
    }
  });
});

describe('progress from real ssh output', () => {
  it('-L: connected, host key, authenticated, listening, then setup done — in that order', () => {
    const { types, progress } = read('local-forward-up');
    const order = ['tcp_connected', 'host_key', 'authenticated', 'local_listening', 'session_started'];
    assert.deepEqual(types.filter((t) => order.includes(t)), order);
    const listening = progress.find((p) => p.type === 'local_listening');
    assert.ok(listening && listening.type === 'local_listening' && listening.port > 0 && listening.address === '127.0.0.1');
    const key = progress.find((p) => p.type === 'host_key');
    assert.ok(key && key.type === 'host_key' && /^SHA256:/.test(key.fingerprint));
  });

  it('-R with port 0: forward confirmed, then the allocated port', () => {
    const { progress, types } = read('remote-forward-up-port0');
    assert.ok(types.includes('remote_forward_ok'));
    const allocated = progress.find((p) => p.type === 'remote_port_allocated');
    assert.ok(allocated && allocated.type === 'remote_port_allocated' && allocated.port > 0);
    assert.ok(types.includes('all_forwards_ok'));
  });

  it('first connection with accept-new: the key added, with the fingerprint seen before it', () => {
    const { progress } = read('accept-new-first-connection');
    const i = progress.findIndex((p) => p.type === 'host_key');
    const j = progress.findIndex((p) => p.type === 'host_key_added');
    assert.ok(i >= 0 && j > i, 'fingerprint first, then "Permanently added"');
    const added = progress[j]!;
    assert.ok(added.type === 'host_key_added' && /^\[127\.0\.0\.1\]:\d+$/.test(added.hostPattern) && added.keyType === 'ED25519');
  });

  it('a failed local bind still prints "listening" (before bind) but never "Entering interactive session"', () => {
    const { types } = read('local-port-in-use');
    assert.ok(types.includes('local_listening'));
    assert.ok(!types.includes('session_started'));
  });
});

describe('single lines', () => {
  it('debug lines never carry a cause (ssh mentions refusals on the way to a fallback)', () => {
    assert.equal(parseSshLine('debug1: connect to address ::1 port 22: Connection refused').cause, undefined);
  });
  it('strips \\r and the debug prefix', () => {
    const l = parseSshLine('debug1: Connection established.\r');
    assert.equal(l.text, 'Connection established.');
    assert.equal(l.debug, true);
    assert.deepEqual(l.progress, { type: 'tcp_connected' });
  });
  it('a specific cause wins over the generic line that follows it', () => {
    const t = new CauseTracker();
    for (const raw of ['No ED25519 host key is known for x and you have requested strict checking.', 'Host key verification failed.']) t.observe(parseSshLine(raw));
    assert.equal(t.cause?.code, 'host_key_unknown');
  });
  it('sshd dropping a connection (MaxStartups, penalty) reads as dropped before the handshake', () => {
    const l = parseSshLine('kex_exchange_identification: read: Connection reset by peer');
    assert.equal(l.cause?.code, 'connection_dropped');
    assert.match(l.cause!.summary, /MaxStartups/);
  });
  it('a unix-socket listener is progress too', () => {
    assert.deepEqual(parseSshLine('debug1: Local forwarding listening on path /tmp/a b.sock.').progress, { type: 'local_listening_path', path: '/tmp/a b.sock' });
  });
});

// Lines no rule explains are kept (the last few), and a Unix socket path in use is named as such.
function track(lines: string[]): CauseTracker {
  const t = new CauseTracker();
  for (const l of lines) t.observe(parseSshLine(l));
  return t;
}

describe('what ssh said that no rule explains', () => {
  it('keeps the last few such lines, never -v chatter or progress', () => {
    const t = track(['debug1: Reading configuration data /etc/ssh/ssh_config', 'first', 'Warning: Permanently added \'[h]:22\' (ED25519) to the list of known hosts.', 'second', 'third', 'Invalid -J argument', '']);
    assert.equal(t.cause, undefined);
    assert.equal(t.unexplained.length, LAST_WORDS_KEPT);
    assert.deepEqual(t.unexplained, ['second', 'third', 'Invalid -J argument']);
  });

  it('control characters are replaced and long lines cut: the peer may have written them', () => {
    const [line] = track(['evil \u001b[2Jbanner\u0007', 'x'.repeat(1000)]).unexplained;
    assert.equal(line, 'evil ?[2Jbanner?');
    assert.ok(track(['x'.repeat(1000)]).unexplained[0]!.length <= 301);
  });

  it('setpriv failing to run ssh is kept too', () => {
    assert.deepEqual(track(['setpriv: failed to execute /nowhere/ssh: No such file or directory']).unexplained, ['setpriv: failed to execute /nowhere/ssh: No such file or directory']);
  });
});

describe('a Unix socket path in use', () => {
  it('is its own cause, naming the path (OpenSSH 9.2 text)', () => {
    const t = track(['unix_listener: cannot bind to path /run/app.sock: Address already in use', 'Could not request local forwarding.']);
    assert.equal(t.cause?.code, 'local_socket_in_use');
    assert.match(t.cause!.summary, /socket path \/run\/app\.sock .*Address already in use/);
    assert.doesNotMatch(t.cause!.summary, /port/);
  });
});
