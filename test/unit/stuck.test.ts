/** A stopped ssh is killed and replaced (stuck.ts), through a Tunnel on the virtual clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL, bringUpLocal, setup } from './tunnel-world.js';

describe('Tunnel: a stopped ssh', () => {
  it('is killed (SIGKILL) and replaced once stopped for the keepalive budget; briefly stopped is left alone', async () => {
    const states = new Map<number, string>();
    const t = setup([LOCAL], { processState: (pid) => states.get(pid) ?? 'S' });
    t.tunnel.start();
    await bringUpLocal(t);
    const ssh = t.spawner.last;
    const budget = 2 * (3 + 1) * 1000; // the test spec's keepalive: 2 s × (3 + 1)
    states.set(ssh.pid, 'T');
    await t.clock.advance(3_000);
    states.set(ssh.pid, 'S'); // continued: not stuck
    await t.clock.advance(3_000);
    states.set(ssh.pid, 'T');
    await t.clock.advance(budget - 1_000);
    assert.deepEqual(ssh.kills, [], 'not yet stopped for the whole budget');
    assert.equal(t.tunnel.state, 'up');
    // Looked at every quarter of the budget (2 s): replaced at most one look past the budget.
    await t.clock.advance(1_000 + budget / 4);
    assert.deepEqual(ssh.kills, ['SIGKILL']);
    await t.clock.advance(0);
    const down = t.states().find((e) => e.to === 'backoff')!;
    assert.equal(down.cause?.code, 'ssh_stuck');
    assert.match(down.cause!.summary, /stopped/);
    assert.equal(t.spawner.spawned.length, 2, 'replaced at once (it had been up)');
  });
});
