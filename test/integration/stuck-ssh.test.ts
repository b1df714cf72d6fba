/**
 * A stopped ssh (kill -STOP, a debugger, a frozen cgroup) sends nothing and notices nothing: the
 * tunnel must not be reported up while nothing flows (issue 11, item 9). Against a real sshd.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { roundTrip, waitFor } from '../harness/echo.js';
import { freePort } from '../harness/sshd.js';
import { envFor, testBed, waitForLog } from './helpers.js';

const bed = testBed();

describe('a stopped ssh', () => {
  it('is replaced within the keepalive budget, and the tunnel carries data again', async () => {
    const server = await bed.sshd();
    const port = await freePort();
    // A 1 s × (1 + 1) budget keeps the test short; the defaults give 8 s.
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(bed.echo().port), SSH_SERVER_ALIVE_INTERVAL: '1', SSH_SERVER_ALIVE_COUNT_MAX: '1' }));
    const up = await waitForLog(r.cli, { state: 'up' }, 15_000);
    const pid = up.pid!;
    assert.equal(await roundTrip('127.0.0.1', port), true);
    const mark = r.cli.mark();
    process.kill(pid, 'SIGSTOP');
    try {
      const down = await waitForLog(r.cli, { state: 'backoff', cause: 'ssh_stuck' }, 15_000, mark);
      assert.match(down.msg, /stopped/);
      const back = await waitForLog(r.cli, { state: 'up' }, 15_000, mark);
      assert.notEqual(back.pid, pid);
      await waitFor(() => roundTrip('127.0.0.1', port, { timeoutMs: 1000 }), { timeoutMs: 15_000, what: 'a round trip through the new ssh' });
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the stopped ssh is gone');
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone, as it should be
      }
    }
  });
});
