/** autossh's -M monitor while a tunnel is up (monitor.ts), through a Tunnel on the fakes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Tunnel } from '../../src/supervisor/tunnel.js';
import type { StateChange } from '../../src/supervisor/events.js';
import { FakeClock, FakeProbe, FakeSpawner, testCommand } from './fakes.js';
import { FLEET_LINES as LINES, HOST, spec } from './tunnel-world.js';

describe('Tunnel liveness check', () => {
  /** A scripted check: each call waits until the test answers it (or answers at once with `auto`). */
  function livenessCheck(clock: FakeClock) {
    const calls: number[] = [];
    let auto: boolean | undefined = true;
    let pending: ((ok: boolean) => void) | undefined;
    const check = () => {
      calls.push(clock.now());
      if (auto !== undefined) return Promise.resolve(auto);
      return new Promise<boolean>((resolve) => (pending = resolve));
    };
    return {
      calls,
      check,
      answerAtOnce: (ok: boolean | undefined) => (auto = ok),
      answer: (ok: boolean) => {
        assert.ok(pending, 'no check waiting');
        const p = pending;
        pending = undefined;
        p(ok);
      },
    };
  }

  function setup() {
    const clock = new FakeClock();
    const live = livenessCheck(clock);
    const spawner = new FakeSpawner();
    const probe = new FakeProbe(clock);
    const s = spec('mon', { monitor: { firstAfterMs: 5_000, everyMs: 10_000, what: 'autossh monitor message' } });
    const tunnel = new Tunnel(s, testCommand(s, ['-N', '--', HOST]), {
      clock,
      spawnSsh: spawner.spawn,
      probeTcp: probe.probe,
      probeMonitor: live.check,
      random: () => 0.5,
    });
    const states: StateChange[] = [];
    tunnel.events.on((e) => e.type === 'state' && states.push(e));
    const bringUp = async () => {
      spawner.last.say(LINES.remoteOk);
      await clock.advance(0);
      assert.equal(tunnel.state, 'up');
    };
    return { clock, live, spawner, probe, tunnel, states, bringUp };
  }

  test('runs first after firstAfterMs, then every everyMs while up', async () => {
    const t = setup();
    t.tunnel.start();
    await t.bringUp();
    const upAt = t.clock.now();
    await t.clock.advance(4_999);
    assert.deepEqual(t.live.calls, []);
    await t.clock.advance(1);
    assert.deepEqual(t.live.calls, [upAt + 5_000]);
    await t.clock.advance(9_999);
    assert.equal(t.live.calls.length, 1);
    await t.clock.advance(1);
    await t.clock.advance(20_000);
    assert.deepEqual(t.live.calls, [upAt + 5_000, upAt + 15_000, upAt + 25_000, upAt + 35_000]);
    assert.deepEqual(t.spawner.last.kills, []);
    assert.equal(t.tunnel.state, 'up');
  });

  test('the next check is scheduled from when the previous one answered', async () => {
    const t = setup();
    t.tunnel.start();
    await t.bringUp();
    const upAt = t.clock.now();
    t.live.answerAtOnce(undefined);
    await t.clock.advance(5_000);
    assert.deepEqual(t.live.calls, [upAt + 5_000]);
    await t.clock.advance(3_000);
    t.live.answerAtOnce(true);
    t.live.answer(true);
    await t.clock.advance(9_999);
    assert.equal(t.live.calls.length, 1);
    await t.clock.advance(1);
    assert.deepEqual(t.live.calls, [upAt + 5_000, upAt + 18_000]);
  });

  test('a failed check kills ssh with cause monitor_failed (a network cause), and ssh is restarted', async () => {
    const t = setup();
    t.tunnel.start();
    await t.bringUp();
    await t.clock.advance(5_000);
    assert.equal(t.live.calls.length, 1);
    t.live.answerAtOnce(false);
    await t.clock.advance(10_000);
    assert.equal(t.live.calls.length, 2);
    assert.deepEqual(t.spawner.spawned[0]!.kills, ['SIGTERM']);
    const down = t.states.find((s) => s.to === 'backoff')!;
    assert.equal(down.from, 'up');
    assert.equal(down.cause?.code, 'monitor_failed');
    assert.equal(down.cause?.kind, 'network');
    assert.equal(down.cause?.summary, 'the autossh monitor message got no answer through the tunnel: the connection is dead');
    assert.equal(down.upForMs, 15_000);
    assert.equal(down.delayMs, 0, 'first failure after being up: at once');
    assert.equal(t.spawner.spawned.length, 2);
    assert.equal(t.tunnel.state, 'connecting');
  });

  test('never runs while connecting or in backoff', async () => {
    const t = setup();
    t.tunnel.start();
    await t.clock.advance(29_000);
    assert.equal(t.tunnel.state, 'connecting');
    t.spawner.last.say('Connection closed by 192.0.2.1 port 22'); // after connecting: ordinary backoff
    t.spawner.last.exit();
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'backoff');
    await t.clock.advance(100);
    assert.equal(t.tunnel.state, 'backoff');
    assert.deepEqual(t.live.calls, []);

    // Up, then down before the first check is due: the pending check is dropped with the attempt.
    await t.clock.advance(100);
    await t.bringUp();
    await t.clock.advance(4_000);
    t.spawner.last.say('Connection closed by 192.0.2.1 port 22'); // after connecting: ordinary backoff
    t.spawner.last.exit();
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'backoff', 'second failure in a row (up only 4 s): a real wait');
    await t.clock.advance(25_000);
    assert.notEqual(t.tunnel.state, 'up');
    assert.deepEqual(t.live.calls, []);
  });

  test('an answer that arrives after ssh died does not touch the next attempt', async () => {
    const t = setup();
    t.tunnel.start();
    await t.bringUp();
    t.live.answerAtOnce(undefined);
    await t.clock.advance(5_000);
    assert.equal(t.live.calls.length, 1);
    t.spawner.last.exit({ code: null, signal: 'SIGKILL' });
    await t.clock.advance(0);
    assert.equal(t.spawner.spawned.length, 2);
    t.spawner.last.say(LINES.remoteOk);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
    t.live.answer(false);
    await t.clock.advance(0);
    assert.deepEqual(t.spawner.last.kills, [], 'the stale "no answer" is ignored');
    assert.equal(t.tunnel.state, 'up');
  });

  test('stop() ends the checks', async () => {
    const t = setup();
    t.tunnel.start();
    await t.bringUp();
    await t.clock.advance(5_000);
    await t.tunnel.stop();
    await t.clock.advance(60_000);
    assert.equal(t.live.calls.length, 1);
    assert.equal(t.clock.pending(), 0);
  });
});
