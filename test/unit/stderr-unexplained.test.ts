/** Lines no rule explains are kept (the last few), and a Unix socket path in use is named as such. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CauseTracker, LAST_WORDS_KEPT, parseSshLine } from '../../src/ssh/stderr.js';

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
