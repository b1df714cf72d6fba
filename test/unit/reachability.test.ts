/**
 * The shared watch of a server that does not answer (reachability.ts): cadence, scout election,
 * stall limit; and as tunnels use it, on a virtual clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scoutDelayMs, ServerWatch, STALL_DEFAULT_MS, STALL_MAX_MS, STALL_MIN_MS, tcpLevelFailure } from '../../src/supervisor/reachability.js';
import { makeCause } from '../../src/ssh/causes.js';
import { PENALTY_AFTER_MS } from '../../src/supervisor/drops.js';
import { FakeClock } from './fakes.js';
import { DEFAULT_BACKOFF } from '../../src/config/spec.js';
import { LINES, LOCAL, SERVER, bringUpLocal, failRepeatedly, setup } from './tunnel-world.js';

describe('scoutDelayMs', () => {
  it('50 ms in the first second, 100 ms up to 3 s, then 250 ms; ±20 %', () => {
    const table: Array<[number, number, number]> = [
      [0, 0.5, 50], [999, 0.5, 50], [1_000, 0.5, 100], [2_999, 0.5, 100], [3_000, 0.5, 250], [3_600_000, 0.5, 250],
      [0, 0, 40], [0, 0.999999, 60], [10_000, 0, 200], [10_000, 0.999999, 300],
    ];
    for (const [outage, random, expected] of table) assert.equal(scoutDelayMs(outage, random), expected, `${outage} ms, random ${random}`);
  });
});

describe('ServerWatch', () => {
  it('the first tunnel to find the server down looks; the others wait and are all woken when it answers', () => {
    let now = 0;
    const w = new ServerWatch({ now: () => now });
    const [a, b, c] = [{}, {}, {}];
    const woken: string[] = [];
    assert.equal(w.unreachable(a, () => woken.push('a'), 0.5), 50);
    assert.equal(w.unreachable(b, (why) => woken.push(`b:${why}`), 0.5), 'wait');
    assert.equal(w.unreachable(c, (why) => woken.push(`c:${why}`), 0.5), 'wait');
    now = 5_000;
    assert.equal(w.unreachable(a, () => woken.push('a'), 0.5), 250, 'the cadence follows the outage, not the attempts');
    assert.equal(w.outageMs(), 5_000);
    w.answered(10);
    assert.deepEqual(woken, ['b:answered', 'c:answered']);
    assert.equal(w.outageMs(), 0);
  });

  it("a scout that leaves hands its role to the first waiting tunnel; one that stops waiting is not woken", () => {
    const w = new ServerWatch({ now: () => 0 });
    const [a, b, c] = [{}, {}, {}];
    const woken: string[] = [];
    w.unreachable(a, () => woken.push('a'), 0.5);
    w.unreachable(b, (why) => woken.push(`b:${why}`), 0.5);
    w.unreachable(c, (why) => woken.push(`c:${why}`), 0.5);
    w.stopWaiting(b);
    w.leave(a);
    assert.deepEqual(woken, ['c:scout']);
    assert.equal(typeof w.unreachable(c, () => {}, 0.5), 'number', 'c is the scout now');
  });

  it('the stall limit is 4 connect times, within 0.5–3 s, and 1 s before any', () => {
    const w = new ServerWatch({ now: () => 0 });
    assert.equal(w.stallAfterMs(), STALL_DEFAULT_MS);
    w.answered(1);
    assert.equal(w.stallAfterMs(), STALL_MIN_MS);
    w.answered(2_000);
    w.answered(2_000);
    w.answered(2_000);
    assert.equal(w.stallAfterMs(), STALL_MAX_MS);
  });
});

describe('tcpLevelFailure', () => {
  it('refused, unreachable, stalled and connect timeouts; not a timeout in the banner exchange', () => {
    assert.equal(tcpLevelFailure(makeCause('connection_refused', '')), true);
    assert.equal(tcpLevelFailure(makeCause('no_route', '')), true);
    assert.equal(tcpLevelFailure(makeCause('connect_stalled', '')), true);
    assert.equal(tcpLevelFailure(makeCause('connect_timeout', '', { line: 'ssh: connect to host h port 22: Connection timed out' })), true);
    assert.equal(tcpLevelFailure(makeCause('connect_timeout', '', { line: 'Connection timed out during banner exchange' })), false);
    assert.equal(tcpLevelFailure(makeCause('connection_dropped', '')), false);
  });
});

describe('Tunnel: a server that does not answer (never probed: ssh itself looks)', () => {
  it('a refused server is retried by ssh on a short cadence, and never probed with a bare connect', async () => {
    const t = setup();
    t.tunnel.start();
    const spawnsIn = async (ms: number) => {
      const before = t.spawner.spawned.length;
      const end = t.clock.now() + ms;
      while (t.clock.now() < end) {
        t.spawner.last.say(LINES.connecting, LINES.refused);
        t.spawner.last.exit();
        await t.clock.advance(t.lastState().delayMs!);
      }
      return t.spawner.spawned.length - before;
    };
    const first = await spawnsIn(1_000);
    assert.ok(first >= 18 && first <= 21, `about every 50 ms in the first second (${first})`);
    await spawnsIn(4_000);
    const late = await spawnsIn(5_000);
    assert.ok(late >= 19 && late <= 21, `about every 250 ms after a few seconds (${late})`);
    assert.equal(t.probe.callsTo(SERVER.host, SERVER.port), 0, 'no connection but ssh\'s own ever reaches the server');
    const wait = t.states().filter((e) => e.to === 'backoff').at(-1)!;
    assert.equal(wait.cause?.code, 'connection_refused');
    assert.match(wait.cause!.hint!, /sshd runs/);
  });

  it('refusals during an outage do not lengthen the wait once the server answers', async () => {
    const t = setup();
    t.tunnel.start();
    await failRepeatedly(t, LINES.refused, 40);
    // The server is back but closes this connection after the TCP connect.
    t.spawner.last.say(LINES.connecting, LINES.established, 'Connection closed by 192.0.2.1 port 22');
    t.spawner.last.exit();
    await t.clock.advance(0);
    const wait = t.lastState();
    assert.equal(wait.cause?.code, 'connection_closed');
    assert.equal(wait.delayMs, DEFAULT_BACKOFF.initialMs, 'the first failure after the outage waits the initial delay');
  });

  it('tunnels to one server share one scout: the others wait, and go the moment its ssh connects', async () => {
    const clock = new FakeClock();
    const watch = new ServerWatch(clock);
    const a = setup([LOCAL], { clock, watch, name: 'a' });
    const b = setup([{ ...LOCAL, bindPort: 8081 }], { clock, watch, name: 'b' });
    const c = setup([{ ...LOCAL, bindPort: 8082 }], { clock, watch, name: 'c' });
    for (const t of [a, b, c]) {
      t.tunnel.start();
      t.spawner.last.say(LINES.connecting, LINES.refused);
      t.spawner.last.exit();
    }
    await clock.advance(0);
    for (let i = 0; i < 30; i++) {
      a.spawner.last.say(LINES.connecting, LINES.refused);
      a.spawner.last.exit();
      await clock.advance(a.lastState().delayMs!);
    }
    assert.equal(a.spawner.spawned.length, 31, 'the scout (the first to fail) keeps looking');
    assert.equal(b.spawner.spawned.length, 1, 'the others wait');
    assert.equal(c.spawner.spawned.length, 1);
    assert.equal(b.lastState().to, 'backoff');
    a.spawner.last.say(LINES.connecting, LINES.established);
    await clock.advance(0);
    assert.equal(b.spawner.spawned.length, 2, "released by the scout's connect");
    assert.equal(c.spawner.spawned.length, 2);
    assert.ok(b.events.some((e) => e.type === 'notice' && /answers again/.test(e.message)));
  });

  it('a stopped scout hands its role to a waiting tunnel', async () => {
    const clock = new FakeClock();
    const watch = new ServerWatch(clock);
    const a = setup([LOCAL], { clock, watch, name: 'a' });
    const b = setup([{ ...LOCAL, bindPort: 8081 }], { clock, watch, name: 'b' });
    for (const t of [a, b]) {
      t.tunnel.start();
      t.spawner.last.say(LINES.refused);
      t.spawner.last.exit();
    }
    await clock.advance(0);
    assert.equal(b.spawner.spawned.length, 1);
    await a.tunnel.stop();
    await clock.advance(0);
    assert.equal(b.spawner.spawned.length, 2, 'b looks now');
    b.spawner.last.say(LINES.refused);
    b.spawner.last.exit();
    await clock.advance(0);
    assert.ok(b.lastState().delayMs! < 1_000, 'and keeps looking on the scout cadence');
  });

  it('a waiting tunnel still tries on its own after the longest backoff, should no scout report', async () => {
    const clock = new FakeClock();
    const watch = new ServerWatch(clock);
    watch.unreachable({}, () => {}, 0.5); // a scout that never reports
    const t = setup([LOCAL], { clock, watch });
    t.tunnel.start();
    t.spawner.last.say(LINES.refused);
    t.spawner.last.exit();
    await clock.advance(DEFAULT_BACKOFF.maxMs - 1);
    assert.equal(t.spawner.spawned.length, 1);
    await clock.advance(1);
    assert.equal(t.spawner.spawned.length, 2);
  });

  it('a connect pending past the stall limit (its SYN lost) is restarted at once, without probing', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(LINES.connecting);
    await t.clock.advance(STALL_DEFAULT_MS - 1);
    assert.deepEqual(t.spawner.spawned[0]!.kills, []);
    await t.clock.advance(1);
    assert.deepEqual(t.spawner.spawned[0]!.kills, ['SIGTERM']);
    await t.clock.advance(0);
    assert.equal(t.spawner.spawned.length, 2, 'respawned at once');
    assert.equal(t.states().find((s) => s.to === 'backoff')!.cause?.code, 'connect_stalled');
    assert.equal(t.probe.calls.length, 0);
  });

  it('an ssh that has not even begun to connect (a CPU-starved machine) is not taken for stalled', async () => {
    const t = setup();
    t.tunnel.start();
    await t.clock.advance(5_000);
    assert.deepEqual(t.spawner.spawned[0]!.kills, [], 'no "Connecting to" yet: left alone');
  });

  it('the stall limit follows the connect times seen to the server', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(LINES.connecting);
    await t.clock.advance(600); // a slow path: 600 ms to connect
    await bringUpLocal(t);
    t.spawner.last.say(LINES.keepalive);
    t.spawner.last.exit();
    await t.clock.advance(0);
    const second = t.spawner.last;
    second.say(LINES.connecting);
    await t.clock.advance(2_000);
    assert.deepEqual(second.kills, [], 'not restarted before 4 connect times');
    await t.clock.advance(400);
    assert.deepEqual(second.kills, ['SIGTERM']);
  });

  it('no stall detection through a jump host (ssh does not connect to the server itself)', async () => {
    const t = setup([LOCAL], { proxied: true });
    t.tunnel.start();
    t.spawner.last.say(LINES.connecting);
    await t.clock.advance(5_000);
    assert.deepEqual(t.spawner.last.kills, []);
    assert.equal(t.probe.calls.length, 0);
  });

  it('connections dropped before the banner are retried after short random waits, without growing the backoff', async () => {
    const delays: number[] = [];
    for (const random of [0, 0.99]) {
      const t = setup([LOCAL], { random });
      t.tunnel.start();
      t.spawner.last.say(LINES.connecting, LINES.established, LINES.dropped);
      t.spawner.last.exit();
      await t.clock.advance(0);
      assert.equal(t.lastState().cause?.code, 'connection_dropped');
      delays.push(t.lastState().delayMs!);
    }
    assert.ok(delays[0]! >= 100 && delays[1]! <= 500 && delays[0]! < delays[1]!, `spread over 0.1–0.5 s (${delays})`);
  });

  it('a server that drops every connection for seconds is taken to penalise this address, with the fix', async () => {
    const t = setup();
    t.tunnel.start();
    const start = t.clock.now();
    const lastWait = () => t.states().filter((e) => e.to === 'backoff').at(-1)!;
    for (;;) {
      t.spawner.last.say(LINES.connecting, LINES.established, LINES.dropped);
      t.spawner.last.exit();
      await t.clock.advance(0);
      if (lastWait().cause!.code === 'server_penalty') break;
      assert.equal(lastWait().cause!.code, 'connection_dropped');
      assert.ok(t.clock.now() - start < PENALTY_AFTER_MS + 5_000, 'recognised within seconds');
      await t.clock.advance(lastWait().delayMs!);
    }
    assert.ok(t.clock.now() - start >= PENALTY_AFTER_MS, 'not before the drops have lasted a while');
    const cause = lastWait().cause!;
    assert.match(cause.hint!, /PerSourcePenaltyExemptList/);
    assert.match(cause.line!, /kex_exchange_identification/);
    assert.ok(lastWait().delayMs! >= 4_000, 'and waits a few seconds between looks');
  });
});
