/** The state store: per-tunnel state, restarts, timeline, readiness and liveness, from state events alone. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeCause, type CauseCode } from '../../src/ssh/causes.js';
import type { StateChange, TunnelState } from '../../src/supervisor/events.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import {
  STOPPING_LIMIT_MS,
  STUCK_GRACE_MS,
  StateStore,
  TIMELINE_BUCKETS,
  TIMELINE_BUCKET_MS,
  addSpan,
  type TunnelInfo,
} from '../../src/observe/state-store.js';
import { FakeClock, FakeSpawner, REMOTE_4000_OK, fakeTunnel } from './fakes.js';

/** On a minute boundary, so timeline arithmetic in the tests is easy to follow. */
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % TIMELINE_BUCKET_MS);

function setup(tunnels: TunnelInfo[] = [{ name: 'db', required: true }], lookup: (name: string) => TunnelInfo | undefined = () => undefined) {
  const clock = { t: T0 };
  const store = new StateStore({ now: () => clock.t, initial: tunnels.map((t) => ({ ...t, state: 'starting', since: T0 })), lookup });
  const attempts = new Map<string, number>();
  let last = new Map<string, TunnelState>(tunnels.map((t) => [t.name, 'starting']));
  /** Moves the clock to `at` (ms after T0) and applies one state change. */
  const go = (at: number, to: TunnelState, extra: Partial<StateChange> = {}, tunnel = tunnels[0]!.name) => {
    clock.t = T0 + at;
    const from = last.get(tunnel) ?? 'starting';
    if (to === 'connecting') attempts.set(tunnel, (attempts.get(tunnel) ?? 0) + 1);
    store.apply({ type: 'state', tunnel, at: clock.t, from, to, attempt: attempts.get(tunnel) ?? 0, ...extra });
    last = new Map(last).set(tunnel, to);
  };
  const down = (at: number, code: CauseCode, delayMs = 0, tunnel?: string) =>
    go(at, 'backoff', { cause: makeCause(code, `because ${code}`, { hint: `fix ${code}` }), delayMs }, tunnel);
  const tunnel = (name = tunnels[0]!.name) => store.snapshot().tunnels.find((t) => t.info.name === name)!;
  return { clock, store, go, down, tunnel, at: (ms: number) => (clock.t = T0 + ms) };
}

describe('StateStore: state, restarts, causes', () => {
  test('a new tunnel is starting and not ready; the readiness line says which and since when', () => {
    const s = setup();
    s.at(1500);
    const snap = s.store.snapshot();
    assert.equal(snap.tunnels[0]!.state, 'starting');
    assert.equal(snap.readiness.ready, false);
    assert.equal(snap.readiness.message, 'not ready: 0 of 1 required tunnel up; db starting for 1.5s');
    assert.equal(snap.liveness.live, true);
  });

  test('up: ready, the connect time is recorded, pid and ports are known', () => {
    const s = setup();
    s.go(0, 'connecting', { pid: 41 });
    s.go(300, 'up', { pid: 41, connectMs: 300, allocatedPorts: [4321] });
    const t = s.tunnel();
    assert.equal(t.state, 'up');
    assert.equal(t.pid, 41);
    assert.equal(t.lastConnectMs, 300);
    assert.deepEqual(t.allocatedPorts, [4321]);
    assert.equal(t.connect.count, 1);
    assert.equal(t.connect.sumSeconds, 0.3);
    assert.equal(t.connect.counts[2], 1, '0.3 s falls in the 0.5 s bucket (after 0.1 and 0.25)');
    assert.deepEqual(s.store.snapshot().readiness, { ready: true, message: 'ready: 1 required tunnel up' });
  });

  test('each time ssh ends counts as a restart by its cause; the last cause stays visible once up again', () => {
    const s = setup();
    s.go(0, 'connecting');
    s.go(100, 'up', { connectMs: 100 });
    s.down(5_000, 'killed');
    s.go(5_000, 'connecting');
    s.go(5_200, 'up', { connectMs: 200 });
    s.down(9_000, 'connection_refused', 400);
    s.go(9_400, 'connecting');
    s.down(9_410, 'connection_refused', 800);
    const down = s.tunnel();
    assert.equal(down.restarts, 3);
    assert.deepEqual(down.restartsByCause, { killed: 1, connection_refused: 2 });
    assert.equal(down.backoffMs, 800);
    assert.equal(down.nextAttemptAt, T0 + 9_410 + 800);
    assert.equal(down.lastCause?.code, 'connection_refused');
    assert.equal(down.since, T0 + 9_410, 'the state began at the last attempt');
    assert.equal(down.statusSince, T0 + 9_000, 'but it has been down since it left "up"');
    s.at(12_000);
    assert.equal(s.store.snapshot().readiness.message, 'not ready: 0 of 1 required tunnel up; db down for 3.0s (because connection_refused)');
    s.go(12_000, 'connecting');
    s.go(12_100, 'up', { connectMs: 100 });
    const up = s.tunnel();
    assert.equal(up.lastCause?.code, 'connection_refused', 'kept while up: a person wants to know what happened');
    assert.equal(up.lastCause?.at, T0 + 9_410);
    assert.equal(up.backoffMs, undefined);
    assert.equal(up.statusSince, T0 + 12_100);
    assert.equal(up.connect.count, 3);
  });

  test('readiness waits for required tunnels only; none required is ready', () => {
    const s = setup([
      { name: 'web', required: true },
      { name: 'batch', required: false },
    ]);
    s.go(0, 'connecting', {}, 'web');
    s.go(100, 'up', {}, 'web');
    s.go(0, 'connecting', {}, 'batch');
    s.down(50, 'permission_denied', 30_000, 'batch');
    assert.deepEqual(s.store.snapshot().readiness, { ready: true, message: 'ready: 1 required tunnel up' });
    const none = setup([{ name: 'batch', required: false }]);
    assert.deepEqual(none.store.snapshot().readiness, { ready: true, message: 'ready: no tunnel is required' });
  });

  test('a removed tunnel disappears; one added later is described by the lookup', () => {
    const s = setup([{ name: 'db', required: true }], (name) => (name === 'late' ? { name, required: false, description: '-D 1080 via a@b:22' } : undefined));
    s.go(10, 'connecting', {}, 'late');
    const late = s.tunnel('late');
    assert.equal(late.info.required, false);
    assert.equal(late.info.description, '-D 1080 via a@b:22');
    s.store.apply({ type: 'removed', tunnel: 'db', at: T0 + 20 });
    assert.deepEqual(s.store.snapshot().tunnels.map((t) => t.info.name), ['late']);
  });
});

describe('StateStore: the timeline of the last hour', () => {
  test('per-minute totals by phase, the current minute counted up to now', () => {
    const s = setup();
    s.go(0, 'connecting');
    s.go(1_000, 'up');
    s.down(90_000, 'keepalive_timeout', 1_000);
    s.go(91_000, 'connecting');
    s.go(92_000, 'up');
    s.at(150_000);
    const t = s.tunnel();
    assert.equal(t.timeline.length, TIMELINE_BUCKETS);
    assert.equal(t.timelineStart, T0 + (3 - TIMELINE_BUCKETS) * TIMELINE_BUCKET_MS, 'the window ends with the current (third) minute');
    const [m0, m1, m2] = t.timeline.slice(-3);
    assert.deepEqual(m0, { up: 59_000, connecting: 1_000, down: 0, stopped: 0 });
    assert.deepEqual(m1, { up: 58_000, connecting: 1_000, down: 1_000, stopped: 0 });
    assert.deepEqual(m2, { up: 30_000, connecting: 0, down: 0, stopped: 0 }, 'the open "up" span counts up to now');
    assert.ok(t.timeline.slice(0, -3).every((b) => b === null), 'nothing observed before the start');
    assert.equal(t.uptimeRatio, 147_000 / 150_000);
  });

  test('only the last hour is kept: older minutes fall off and the ratio follows', () => {
    const s = setup();
    s.go(0, 'connecting');
    s.down(1_000, 'connection_refused', 1_000);
    s.go(30 * 60_000, 'connecting');
    s.go(30 * 60_000 + 500, 'up');
    s.at(100 * 60_000 + 30_000);
    const t = s.tunnel();
    assert.equal(t.timeline.length, TIMELINE_BUCKETS);
    assert.ok(t.timeline.slice(0, -1).every((b) => b?.up === TIMELINE_BUCKET_MS), 'the 59 minutes before this one were all up');
    assert.deepEqual(t.timeline.at(-1), { up: 30_000, connecting: 0, down: 0, stopped: 0 });
    assert.equal(t.uptimeRatio, 1);
  });

  test('memory stays fixed however often a tunnel flaps', () => {
    const slots: Parameters<typeof addSpan>[0] = new Array(TIMELINE_BUCKETS).fill(undefined);
    const spans = 50_000;
    for (let i = 0; i < spans; i++) addSpan(slots, T0 + i * 700, T0 + (i + 1) * 700, i % 2 ? 'up' : 'down');
    assert.equal(slots.length, TIMELINE_BUCKETS);
    const total = slots.reduce((sum, s) => sum + (s ? s.ms.up + s.ms.down : 0), 0);
    const intoCurrentMinute = (spans * 700) % TIMELINE_BUCKET_MS;
    assert.equal(total, (TIMELINE_BUCKETS - 1) * TIMELINE_BUCKET_MS + intoCurrentMinute, 'the 59 whole minutes before, and this one so far');
  });

  test('a clock that steps back adds nothing', () => {
    const slots: Parameters<typeof addSpan>[0] = new Array(TIMELINE_BUCKETS).fill(undefined);
    addSpan(slots, T0 + 5_000, T0 + 1_000, 'up');
    assert.ok(slots.every((s) => s === undefined));
  });
});

describe('StateStore: liveness', () => {
  test('a server that stays down never makes autotunnel unhealthy: it keeps cycling', () => {
    const s = setup();
    let t = 0;
    for (let i = 0; i < 200; i++) {
      s.go(t, 'connecting');
      s.down(t + 10, 'connection_refused', 30_000);
      t += 30_010;
    }
    s.at(t);
    assert.equal(s.store.snapshot().liveness.live, true);
  });

  test('a long connect is not stuck (it may be queued behind other handshakes)', () => {
    const s = setup();
    s.go(0, 'connecting');
    s.at(30 * 60_000);
    assert.equal(s.store.snapshot().liveness.live, true);
  });

  test('a backoff long past its end is stuck, and the message says which tunnel', () => {
    const s = setup();
    s.go(0, 'connecting');
    s.down(10, 'connection_refused', 5_000);
    s.at(10 + 5_000 + STUCK_GRACE_MS);
    assert.equal(s.store.snapshot().liveness.live, true, 'within the grace');
    s.at(10 + 5_000 + STUCK_GRACE_MS + 1);
    const l = s.store.snapshot().liveness;
    assert.equal(l.live, false);
    assert.deepEqual(l.stuck, [{ tunnel: 'db', state: 'backoff', forMs: 5_000 + STUCK_GRACE_MS + 1 }]);
    assert.equal(l.message, 'supervision is stuck: db down for 1m 5s');
  });

  test('a stop that never finishes is stuck', () => {
    const s = setup();
    s.go(0, 'stopping');
    s.at(STOPPING_LIMIT_MS + 1);
    assert.equal(s.store.snapshot().liveness.live, false);
  });
});

describe('StateStore fed by a real Tunnel (fake clock and ssh)', () => {
  test('follows the tunnel through up, a killed ssh and back, agreeing with its own status', async () => {
    const clock = new FakeClock();
    const spawner = new FakeSpawner();
    const tunnel = fakeTunnel('r1', clock, spawner);
    const supervisor = new Supervisor(clock);
    supervisor.add(tunnel);
    const store = new StateStore({ now: () => clock.now(), initial: [{ name: 'r1', required: true, state: 'starting', since: clock.now() }], lookup: () => undefined });
    supervisor.events.on((e) => store.apply(e));
    const confirm = () => spawner.last.say(REMOTE_4000_OK);

    supervisor.startAll();
    await clock.advance(120);
    confirm();
    await clock.advance(0);
    assert.equal(store.snapshot().tunnels[0]!.state, 'up');
    assert.equal(store.snapshot().tunnels[0]!.lastConnectMs, 120);
    await clock.advance(20_000);
    spawner.last.exit({ code: null, signal: 'SIGKILL' });
    await clock.advance(0);
    confirm();
    await clock.advance(0);
    const t = store.snapshot().tunnels[0]!;
    assert.equal(t.state, 'up');
    assert.deepEqual(t.restartsByCause, { killed: 1 });
    assert.equal(t.restarts, spawner.spawned.length - 1, 'one restart per ssh started again');
    assert.equal(t.pid, spawner.last.pid);
    await supervisor.stopAll();
    assert.equal(store.snapshot().tunnels[0]!.state, 'stopped');
  });
});

describe('StateStore: held tunnels and the target', () => {
  test('disabled or stopped on request: readiness does not wait for it; stopped at exit it does', () => {
    const s = setup([{ name: 'db', required: true }, { name: 'web', required: true }]);
    s.go(0, 'connecting', {}, 'db');
    s.go(100, 'up', {}, 'db');
    s.go(100, 'disabled', {}, 'web');
    assert.equal(s.store.snapshot().readiness.message, 'ready: 1 required tunnel up');
    assert.equal(s.tunnel('web').held, true);
    s.go(200, 'stopping', {}, 'db');
    s.go(300, 'stopped', {}, 'db');
    assert.equal(s.store.snapshot().readiness.ready, false, 'a plain stop (at exit) is not a choice to have it down');
    s.go(400, 'connecting', {}, 'db');
    s.go(500, 'stopping', { cause: makeCause('stopped_by_request', 'stopped on request') }, 'db');
    s.go(600, 'stopped', { cause: makeCause('stopped_by_request', 'stopped on request') }, 'db');
    assert.equal(s.tunnel('db').held, true);
    assert.equal(s.store.snapshot().readiness.message, 'ready: no tunnel is required');
  });

  test('target reports: counted, the last one decides; ready_requires_target waits for a reached target', () => {
    const s = setup([{ name: 'db', required: true, requiresTarget: true }]);
    s.go(0, 'connecting');
    s.go(100, 'up');
    assert.equal(s.store.snapshot().readiness.message, 'not ready: 0 of 1 required tunnel up; db up, target not reached yet');
    s.store.apply({ type: 'target', tunnel: 'db', at: T0 + 200, ok: false, changed: true, summary: 'the server could not reach the target (connection refused)', line: 'channel 1: open failed: connect failed: Connection refused' });
    s.store.apply({ type: 'target', tunnel: 'db', at: T0 + 300, ok: false, changed: false, summary: 'the server could not reach the target (connection refused)' });
    assert.deepEqual(s.tunnel().target, { errors: 2, reachable: false, lastError: { summary: 'the server could not reach the target (connection refused)', at: T0 + 300 } });
    assert.equal(s.store.snapshot().readiness.message, 'not ready: 0 of 1 required tunnel up; db up, target unreachable: the server could not reach the target (connection refused)');
    s.store.apply({ type: 'target', tunnel: 'db', at: T0 + 400, ok: true, changed: true });
    assert.equal(s.tunnel().target.reachable, true);
    assert.equal(s.tunnel().target.errors, 2);
    assert.equal(s.store.snapshot().readiness.ready, true);
  });

  test('without ready_requires_target, an unreachable target does not make the tunnel unready', () => {
    const s = setup();
    s.go(0, 'connecting');
    s.go(100, 'up');
    s.store.apply({ type: 'target', tunnel: 'db', at: T0 + 200, ok: false, changed: true, summary: 'x' });
    assert.equal(s.store.snapshot().readiness.ready, true);
  });
});
