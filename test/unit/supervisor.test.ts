/**
 * The Supervisor: reconcile on reload, stopAll, retryAll, over many tunnels on the fakes
 * (virtual clock, scripted ssh, scripted probes).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KILL_GRACE_MS } from '../../src/supervisor/terminate.js';
import { FLEET_LINES as LINES, REMOTE, spec, world } from './tunnel-world.js';
import type { TunnelSpec } from '../../src/config/spec.js';
import type { Supervised } from '../../src/supervisor/supervisor.js';

describe('Supervisor.reconcile', () => {
  test('first load: every tunnel is added; none starts before startAll', async () => {
    const w = world();
    const r = await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    assert.deepEqual(r, { added: ['a', 'b'], removed: [], changed: [], unchanged: [], failed: [] });
    assert.equal(w.spawner.spawned.length, 0);
    assert.deepEqual(w.supervisor.list().map((t) => t.name), ['a', 'b']);
    assert.equal(w.state('a'), 'starting');
    w.supervisor.startAll();
    assert.deepEqual(w.spawnOrder(), ['a', 'b']);
    assert.equal(w.state('a'), 'connecting');
  });

  test('unchanged specs keep the same Tunnel and its ssh: nothing is killed, built or restarted', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    w.supervisor.startAll();
    w.lastSsh('a').say(LINES.remoteOk);
    await w.clock.advance(0);
    assert.equal(w.state('a'), 'up');
    const a = w.supervisor.get('a');
    const b = w.supervisor.get('b');
    const eventsBefore = w.events.length;

    // A reload produces new (deep-equal) spec objects.
    const r = await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    await w.clock.advance(5_000);
    assert.deepEqual(r, { added: [], removed: [], changed: [], unchanged: ['a', 'b'], failed: [] });
    assert.equal(w.supervisor.get('a'), a, 'the very same Tunnel object');
    assert.equal(w.supervisor.get('b'), b);
    assert.deepEqual(w.builds, ['a', 'b'], 'build not called again');
    assert.equal(w.spawner.spawned.length, 2);
    assert.deepEqual(w.sshOf('a')[0]!.kills, []);
    assert.deepEqual(w.sshOf('b')[0]!.kills, []);
    assert.equal(w.state('a'), 'up');
    assert.deepEqual(w.cleanups, []);
    assert.equal(w.events.slice(eventsBefore).filter((e) => e.type === 'state' || e.type === 'removed').length, 0);
  });

  test('removed: ssh gets SIGTERM, then cleanup runs (tunnel stopped), then a "removed" event', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    w.supervisor.startAll();
    w.lastSsh('a').say(LINES.remoteOk);
    await w.clock.advance(1_000);
    const a = w.supervisor.get('a')!;
    const sshA = w.lastSsh('a');
    const sshB = w.lastSsh('b');

    const r = await w.supervisor.reconcile([spec('b')], w.build);
    assert.deepEqual(r, { added: [], removed: ['a'], changed: [], unchanged: ['b'], failed: [] });
    assert.deepEqual(sshA.kills, ['SIGTERM']);
    assert.equal(sshA.exited, true);
    assert.deepEqual(sshB.kills, []);
    assert.equal(a.state, 'stopped');
    assert.deepEqual(w.cleanups, ['a:stopped'], 'cleanup once, after ssh is gone');
    assert.equal(w.supervisor.get('a'), undefined);
    assert.deepEqual(w.supervisor.list().map((t) => t.name), ['b']);

    const tail = w.events.filter((e) => e.tunnel === 'a' && (e.type === 'state' || e.type === 'removed')).slice(-3);
    assert.deepEqual(tail.map((e) => (e.type === 'state' ? `${e.from}>${e.to}` : e.type)), ['up>stopping', 'stopping>stopped', 'removed']);
    assert.deepEqual(tail.at(-1), { type: 'removed', tunnel: 'a', at: w.clock.now() });

    // Nothing of "a" restarts or is heard of afterwards.
    const count = w.events.length;
    await w.clock.advance(60_000);
    assert.equal(w.sshOf('a').length, 1);
    assert.equal(w.events.slice(count).filter((e) => e.tunnel === 'a').length, 0);
  });

  test('a removed ssh that ignores SIGTERM is killed after the grace period, and reconcile waits for it', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a')], w.build);
    w.supervisor.startAll();
    const ssh = w.lastSsh('a');
    ssh.diesOnTerm = false;
    let done = false;
    const reconciling = w.supervisor.reconcile([], w.build).then((r) => {
      done = true;
      return r;
    });
    await w.clock.advance(KILL_GRACE_MS - 1);
    assert.equal(done, false);
    assert.deepEqual(w.cleanups, [], 'no cleanup while ssh may still use the key');
    await w.clock.advance(1);
    assert.deepEqual(ssh.kills, ['SIGTERM', 'SIGKILL']);
    assert.deepEqual(await reconciling, { added: [], removed: ['a'], changed: [], unchanged: [], failed: [] });
    assert.deepEqual(w.cleanups, ['a:stopped']);
  });

  test('changed: the old tunnel is stopped and cleaned up, a new one is built and started', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    w.supervisor.startAll();
    const oldA = w.supervisor.get('a')!;
    const oldSsh = w.lastSsh('a');
    const changed = spec('a', { forwards: [{ ...REMOTE, bindPort: 4001 }] });

    const r = await w.supervisor.reconcile([changed, spec('b')], w.build);
    assert.deepEqual(r, { added: [], removed: [], changed: ['a'], unchanged: ['b'], failed: [] });
    assert.deepEqual(oldSsh.kills, ['SIGTERM']);
    assert.equal(oldA.state, 'stopped');
    assert.deepEqual(w.cleanups, ['a:stopped']);
    const newA = w.supervisor.get('a')!;
    assert.notEqual(newA, oldA);
    assert.equal(newA.spec, changed);
    assert.equal(newA.state, 'connecting', 'started at once: the supervisor is running');
    assert.equal(w.sshOf('a').length, 2);
    assert.deepEqual(w.builds, ['a', 'b', 'a']);
    // Observers see the old one go and the new one come.
    const seq = w.events.filter((e) => e.tunnel === 'a' && (e.type === 'state' || e.type === 'removed')).map((e) => (e.type === 'state' ? `${e.from}>${e.to}` : e.type));
    assert.deepEqual(seq, ['starting>connecting', 'connecting>stopping', 'stopping>stopped', 'removed', 'starting>connecting']);
  });

  test('a changed tunnel whose new version cannot be built keeps its old one running; the tunnels after it are still reconciled', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    w.supervisor.startAll();
    w.lastSsh('a').say(LINES.remoteOk);
    await w.clock.advance(0);
    const oldA = w.supervisor.get('a')!;
    const full = new Error('ENOSPC: no space left on device');
    const build = (s: TunnelSpec): Supervised => {
      if (s.name === 'a') throw full;
      return w.build(s);
    };

    const r = await w.supervisor.reconcile([spec('a', { connectTimeoutSec: 20 }), spec('b', { connectTimeoutSec: 20 }), spec('c')], build);
    assert.deepEqual(r, { added: ['c'], removed: [], changed: ['b'], unchanged: [], failed: [{ name: 'a', error: full, kept: true }] });
    assert.equal(w.supervisor.get('a'), oldA, 'the old version of a is still there');
    assert.equal(oldA.state, 'up');
    assert.deepEqual(w.sshOf('a')[0]!.kills, [], "a's ssh was never stopped");
    assert.equal(w.cleanups.some((c) => c.startsWith('a:')), false, "a's files were not cleaned up");
    assert.equal(w.events.some((e) => e.type === 'removed' && e.tunnel === 'a'), false);
    assert.deepEqual(w.supervisor.list().map((t) => t.name).sort(), ['a', 'b', 'c']);

    // The same reload again once a can be built: now it is changed.
    const again = await w.supervisor.reconcile([spec('a', { connectTimeoutSec: 20 }), spec('b', { connectTimeoutSec: 20 }), spec('c')], w.build);
    assert.deepEqual(again.changed, ['a']);
    assert.deepEqual(again.failed, []);
  });

  test('a new tunnel that cannot be built is reported and not added', async () => {
    const w = world();
    const r = await w.supervisor.reconcile([spec('x'), spec('y')], (s) => {
      if (s.name === 'x') throw new Error('no private directory');
      return w.build(s);
    });
    assert.deepEqual(r.added, ['y']);
    assert.deepEqual(r.failed.map((f) => [f.name, f.kept]), [['x', false]]);
    assert.equal(w.supervisor.get('x'), undefined);
  });

  test('changed tunnels whose ssh ignores SIGTERM are stopped together: one grace period, not one each', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    w.supervisor.startAll();
    const [oldA, oldB] = [w.lastSsh('a'), w.lastSsh('b')];
    oldA.diesOnTerm = false;
    oldB.diesOnTerm = false;
    let done = false;
    const reconciling = w.supervisor.reconcile([spec('a', { connectTimeoutSec: 5 }), spec('b', { connectTimeoutSec: 5 })], w.build).then(() => (done = true));
    await w.clock.advance(0);
    assert.deepEqual([oldA.kills, oldB.kills], [['SIGTERM'], ['SIGTERM']], 'both asked to stop at once');
    await w.clock.advance(KILL_GRACE_MS);
    await reconciling;
    assert.equal(done, true);
    assert.deepEqual([oldA.kills, oldB.kills], [['SIGTERM', 'SIGKILL'], ['SIGTERM', 'SIGKILL']]);
    assert.deepEqual(w.spawnOrder(), ['a', 'b', 'a', 'b']);
  });

  test('every kind of change at once, in the order of the new file', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('keep'), spec('drop'), spec('edit')], w.build);
    w.supervisor.startAll();
    const r = await w.supervisor.reconcile([spec('new'), spec('edit', { connectTimeoutSec: 20 }), spec('keep')], w.build);
    assert.deepEqual(r, { added: ['new'], removed: ['drop'], changed: ['edit'], unchanged: ['keep'], failed: [] });
    assert.deepEqual(w.supervisor.list().map((t) => t.name).sort(), ['edit', 'keep', 'new']);
    assert.deepEqual(w.spawnOrder(), ['keep', 'drop', 'edit', 'new', 'edit']);
    assert.deepEqual(w.cleanups, ['drop:stopped', 'edit:stopped']);
  });

  test('new tunnels start only once the supervisor is started', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a')], w.build);
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    assert.equal(w.spawner.spawned.length, 0, 'not started yet');
    w.supervisor.startAll();
    assert.deepEqual(w.spawnOrder(), ['a', 'b']);
    const r = await w.supervisor.reconcile([spec('a'), spec('b'), spec('c')], w.build);
    assert.deepEqual(r.added, ['c']);
    assert.deepEqual(w.spawnOrder(), ['a', 'b', 'c']);
    assert.equal(w.state('c'), 'connecting');
  });

  test('add refuses a second tunnel of the same name', () => {
    const w = world();
    w.supervisor.add(w.build(spec('a')).tunnel);
    assert.throws(() => w.supervisor.add(w.build(spec('a')).tunnel), { message: 'a tunnel named "a" already exists' });
  });

  test('stopAll stops every ssh and calls every cleanup', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a'), spec('b'), spec('c')], w.build);
    w.supervisor.startAll();
    w.lastSsh('a').say(LINES.remoteOk);
    w.lastSsh('b').say(LINES.refused);
    w.lastSsh('b').exit();
    await w.clock.advance(0);
    assert.deepEqual(['a', 'b', 'c'].map(w.state), ['up', 'backoff', 'connecting']);
    await w.supervisor.stopAll();
    assert.deepEqual(['a', 'b', 'c'].map(w.state), ['stopped', 'stopped', 'stopped']);
    assert.deepEqual(w.sshOf('a')[0]!.kills, ['SIGTERM']);
    assert.deepEqual(w.sshOf('b')[0]!.kills, [], 'b had no ssh running');
    assert.deepEqual(w.sshOf('c')[0]!.kills, ['SIGTERM']);
    assert.deepEqual(w.cleanups.sort(), ['a:stopped', 'b:stopped', 'c:stopped']);
    await w.clock.advance(120_000);
    assert.equal(w.spawner.spawned.length, 3, 'nothing restarts after stopAll');
  });

  test('statuses and retryAll reach every tunnel', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    w.supervisor.startAll();
    w.lastSsh('a').say(LINES.remoteOk);
    await w.clock.advance(0);
    assert.deepEqual(w.supervisor.list().map((t) => [t.name, t.state]), [['a', 'up'], ['b', 'connecting']]);
    w.supervisor.retryAll('SIGUSR1 received');
    await w.clock.advance(0);
    assert.deepEqual(w.sshOf('a')[0]!.kills, ['SIGTERM']);
    assert.deepEqual(w.sshOf('b')[0]!.kills, ['SIGTERM']);
    assert.equal(w.spawner.spawned.length, 4);
  });
});
