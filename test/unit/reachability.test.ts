/**
 * The server's reachability (reachability.ts) as a Tunnel uses it: the watch for the server's
 * return during a backoff wait, and the stall detector while ssh connects. Virtual clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FAST_PROBE_EVERY_MS, MAX_PROBES_IN_FLIGHT } from '../../src/supervisor/reachability.js';
import { LINES, LOCAL, SERVER, failRepeatedly, setup } from './tunnel-world.js';

describe('Tunnel: watching for the server to come back', () => {
  it('server down: retries at once when its port answers again, long before the backoff ends', async () => {
    const t = setup();
    t.tunnel.start();
    // Build up a long backoff first.
    await failRepeatedly(t, LINES.refused, 8);
    t.spawner.last.say(LINES.refused);
    t.spawner.last.exit();
    await t.clock.advance(0);
    const delay = t.lastState().delayMs!;
    assert.ok(delay >= 25_000, `long backoff (${delay})`);
    const spawnedBefore = t.spawner.spawned.length;
    const probesBefore = t.probe.callsTo(SERVER.host, SERVER.port);
    await t.clock.advance(5_000);
    assert.equal(t.spawner.spawned.length, spawnedBefore, 'still waiting while the server refuses');
    const probesWhileDown = t.probe.callsTo(SERVER.host, SERVER.port) - probesBefore;
    assert.ok(probesWhileDown >= 24 && probesWhileDown <= 26, `a probe every ${FAST_PROBE_EVERY_MS} ms while it refuses (${probesWhileDown})`);
    t.probe.set(SERVER.host, SERVER.port, 'open');
    await t.clock.advance(FAST_PROBE_EVERY_MS);
    assert.equal(t.spawner.spawned.length, spawnedBefore + 1, `reconnected within ${FAST_PROBE_EVERY_MS} ms of the port answering`);
    assert.ok(t.events.some((e) => e.type === 'notice' && /answers again/.test(e.message)));
  });

  it('black-holed server (probes time out): probes overlap, but never more than a few at once', async () => {
    const t = setup();
    t.tunnel.start();
    t.probe.set(SERVER.host, SERVER.port, 'dropped');
    await failRepeatedly(t, LINES.keepalive, 8);
    t.spawner.last.say(LINES.keepalive);
    t.spawner.last.exit();
    await t.clock.advance(0);
    assert.equal(t.lastState().cause?.code, 'keepalive_timeout');
    assert.equal(t.lastState().cause?.kind, 'network');
    const before = t.probe.callsTo(SERVER.host, SERVER.port);
    await t.clock.advance(5_000);
    const probes = t.probe.callsTo(SERVER.host, SERVER.port) - before;
    assert.ok(probes >= 20 && probes <= 26, `${probes} probes in 5 s`);
    assert.equal(t.probe.maxInFlight, MAX_PROBES_IN_FLIGHT);
    t.probe.set(SERVER.host, SERVER.port, 'open');
    const spawned = t.spawner.spawned.length;
    await t.clock.advance(FAST_PROBE_EVERY_MS);
    assert.equal(t.spawner.spawned.length, spawned + 1, 'back at once when the path returns');
  });

  it("ssh's own refused connect counts as unreachable: a server back by the first probe is retried at once", async () => {
    const t = setup();
    t.tunnel.start();
    await failRepeatedly(t, LINES.refused, 6);
    t.spawner.last.say(LINES.refused);
    t.probe.set(SERVER.host, SERVER.port, 'open');
    const spawned = t.spawner.spawned.length;
    t.spawner.last.exit();
    await t.clock.advance(0);
    const wait = t.states().filter((e) => e.to === 'backoff').at(-1)!;
    assert.ok(wait.delayMs! > 5_000, `a long backoff (${wait.delayMs} ms) was cut short`);
    assert.equal(t.spawner.spawned.length, spawned + 1, 'retried without waiting out the backoff');
  });

  it('once the server answers (but ssh fails for another reason), probing slows to one a second', async () => {
    const t = setup();
    t.tunnel.start();
    t.probe.set(SERVER.host, SERVER.port, 'open');
    t.spawner.last.say(LINES.keepalive);
    t.spawner.last.exit();
    await t.clock.advance(0);
    await failRepeatedly(t, LINES.keepalive, 6);
    t.spawner.last.say(LINES.keepalive);
    t.spawner.last.exit();
    await t.clock.advance(0);
    const before = t.probe.callsTo(SERVER.host, SERVER.port);
    await t.clock.advance(5_000);
    const probes = t.probe.callsTo(SERVER.host, SERVER.port) - before;
    assert.ok(probes >= 5 && probes <= 6, `about one a second (${probes})`);
  });

  it('a server that was reachable all along does not cut the backoff short', async () => {
    const t = setup();
    t.tunnel.start();
    t.probe.set(SERVER.host, SERVER.port, 'open');
    for (let i = 0; i < 4; i++) {
      t.spawner.last.say(LINES.keepalive);
      t.spawner.last.exit();
      await t.clock.advance(0);
      const delay = t.lastState().delayMs!;
      const before = t.spawner.spawned.length;
      await t.clock.advance(delay - 1);
      assert.equal(t.spawner.spawned.length, before, 'backoff respected');
      await t.clock.advance(1);
    }
  });

  it('an ssh whose connect is stuck after an outage is restarted once the server answers', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(LINES.connecting);
    t.probe.set(SERVER.host, SERVER.port, 'dropped');
    await t.clock.advance(4_000);
    assert.equal(t.spawner.spawned.length, 1);
    t.probe.set(SERVER.host, SERVER.port, 'open');
    await t.clock.advance(1_000);
    assert.deepEqual(t.spawner.spawned[0]!.kills, ['SIGTERM']);
    assert.equal(t.spawner.spawned.length, 2, 'respawned at once');
    assert.equal(t.states().find((s) => s.to === 'backoff')!.cause?.code, 'connect_stalled');
  });

  it('an ssh that has not even begun to connect (a CPU-starved machine) is not taken for stalled', async () => {
    const t = setup();
    t.tunnel.start();
    t.probe.set(SERVER.host, SERVER.port, 'open');
    await t.clock.advance(5_000);
    assert.deepEqual(t.spawner.spawned[0]!.kills, [], 'no "Connecting to" yet: left alone');
    t.spawner.last.say(LINES.connecting);
    await t.clock.advance(1_000);
    assert.deepEqual(t.spawner.spawned[0]!.kills, [], 'connecting for only 1 s: left alone');
    await t.clock.advance(2_000);
    assert.deepEqual(t.spawner.spawned[0]!.kills, ['SIGTERM'], 'connecting for 2 s while the server answers at once: stalled');
  });

  it('a connect that is merely slow is left alone', async () => {
    const t = setup();
    t.tunnel.start();
    t.probe.set(SERVER.host, SERVER.port, 'open');
    t.probe.delayMs = 1_500; // the path is slow, not broken: probes are as slow as ssh
    await t.clock.advance(5_000);
    assert.deepEqual(t.spawner.spawned[0]!.kills, []);
  });

  it('no stall detection through a jump host (ssh does not connect to the server itself)', async () => {
    const t = setup([LOCAL], { proxied: true });
    t.tunnel.start();
    t.probe.set(SERVER.host, SERVER.port, 'open');
    await t.clock.advance(5_000);
    assert.equal(t.probe.calls.length, 0);
  });
});
