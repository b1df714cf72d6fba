/**
 * The Supervisor (reconcile on reload, stopAll) and the Tunnel features it relies on with many
 * tunnels: the per-server handshake gate, the liveness check, Unix-socket local forwards.
 * Everything runs on the fakes: virtual clock, scripted ssh, scripted probes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Supervisor, type Supervised } from '../../src/supervisor/supervisor.js';
import { Tunnel, type TunnelDeps } from '../../src/supervisor/tunnel.js';
import { KILL_GRACE_MS } from '../../src/supervisor/terminate.js';
import { LOCAL_PROBE_RETRY_MS } from '../../src/supervisor/local-listeners.js';
import { PROBE_TIMEOUT_MS } from '../../src/supervisor/local-listeners.js';
import { HandshakeGate } from '../../src/supervisor/handshake-gate.js';
import { DEFAULT_BACKOFF, type Forward, type TunnelSpec } from '../../src/config/spec.js';
import { ENV_SETTING_NAMES } from '../../src/config/env.js';
import type { StateChange, TunnelEvent, TunnelState } from '../../src/supervisor/events.js';
import { FakeClock, FakeProbe, FakeSpawner, NO_EXTRA_SSH, PROXIED, testCommand, type FakeSsh } from './fakes.js';

const HOST = 'bastion.example';
const REMOTE: Forward = { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 4000, targetHost: 'localhost', targetPort: 80 };

const LINES = {
  remoteOk: 'debug1: remote forward success for: listen 127.0.0.1:4000, connect localhost:80',
  refused: `ssh: connect to host ${HOST} port 22: Connection refused`,
  session: 'debug1: Entering interactive session.',
  listeningPath: (path: string) => `debug1: Local forwarding listening on path ${path}.`,
  listening: (port: number) => `debug1: Local forwarding listening on 127.0.0.1 port ${port}.`,
};

function spec(name: string, over: Partial<TunnelSpec> = {}, server: Partial<TunnelSpec['server']> = {}): TunnelSpec {
  return {
    name,
    server: { user: 'root', host: HOST, port: 22, hostKey: { mode: 'trust-on-first-use', checkHostIp: true }, ...server },
    forwards: [REMOTE],
    keepalive: { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } },
    connectTimeoutSec: 10,
    ssh: NO_EXTRA_SSH,
    settingNames: ENV_SETTING_NAMES,
    backoff: { ...DEFAULT_BACKOFF },
    ...over,
  };
}

type Extra = Partial<Pick<TunnelDeps, 'gate' | 'probeUnix'>>;

/**
 * Tunnels built on shared fakes. Each ssh's last argument names its tunnel, so a test can find
 * the processes of one tunnel; each cleanup records the tunnel's state when it was called.
 */
function world(extra: Extra = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const probe = new FakeProbe(clock);
  const cleanups: string[] = [];
  const builds: string[] = [];
  const build = (s: TunnelSpec): Supervised => {
    builds.push(s.name);
    const tunnel = new Tunnel(s, testCommand(s, ['-N', '--', s.server.host, `#${s.name}`]), {
      clock,
      spawnSsh: spawner.spawn,
      probeTcp: probe.probe,
      random: () => 0.5,
      ...extra,
    });
    return { tunnel, cleanup: () => cleanups.push(`${s.name}:${tunnel.state}`) };
  };
  const supervisor = new Supervisor(() => clock.now());
  const events: TunnelEvent[] = [];
  supervisor.events.on((e) => events.push(e));
  const sshOf = (name: string): FakeSsh[] => spawner.spawned.filter((p) => p.args.at(-1) === `#${name}`);
  const lastSsh = (name: string): FakeSsh => {
    const p = sshOf(name).at(-1);
    assert.ok(p, `no ssh for ${name}`);
    return p;
  };
  /** Which tunnel each spawned ssh belongs to, in spawn order. */
  const spawnOrder = () => spawner.spawned.map((p) => String(p.args.at(-1)).slice(1));
  const state = (name: string): TunnelState | undefined => supervisor.get(name)?.state;
  const statesOf = (name: string) => events.filter((e): e is StateChange => e.type === 'state' && e.tunnel === name);
  return { clock, spawner, probe, cleanups, builds, build, supervisor, events, sshOf, lastSsh, spawnOrder, state, statesOf };
}

describe('Supervisor.reconcile', () => {
  test('first load: every tunnel is added; none starts before startAll', async () => {
    const w = world();
    const r = await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    assert.deepEqual(r, { added: ['a', 'b'], removed: [], changed: [], unchanged: [] });
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
    assert.deepEqual(r, { added: [], removed: [], changed: [], unchanged: ['a', 'b'] });
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
    assert.deepEqual(r, { added: [], removed: ['a'], changed: [], unchanged: ['b'] });
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
    assert.deepEqual(await reconciling, { added: [], removed: ['a'], changed: [], unchanged: [] });
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
    assert.deepEqual(r, { added: [], removed: [], changed: ['a'], unchanged: ['b'] });
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

  test('every kind of change at once, in the order of the new file', async () => {
    const w = world();
    await w.supervisor.reconcile([spec('keep'), spec('drop'), spec('edit')], w.build);
    w.supervisor.startAll();
    const r = await w.supervisor.reconcile([spec('new'), spec('edit', { connectTimeoutSec: 20 }), spec('keep')], w.build);
    assert.deepEqual(r, { added: ['new'], removed: ['drop'], changed: ['edit'], unchanged: ['keep'] });
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

describe('Tunnel with a handshake gate', () => {
  const KEY = `${HOST}:22`;

  test('limit 2, five tunnels to one server: two handshakes at a time, the rest wait their turn', async () => {
    const gate = new HandshakeGate(2);
    const w = world({ gate });
    const names = ['t1', 't2', 't3', 't4', 't5'];
    await w.supervisor.reconcile(names.map((n) => spec(n)), w.build);
    w.supervisor.startAll();
    assert.deepEqual(w.spawnOrder(), ['t1', 't2']);
    assert.deepEqual(names.map(w.state), ['connecting', 'connecting', 'connecting', 'connecting', 'connecting'], 'queued tunnels count as connecting');
    assert.equal(w.supervisor.get('t3')!.pid, undefined, 'a queued tunnel has no ssh');
    assert.equal(gate.inFlight(KEY), 2);
    assert.equal(gate.queued(KEY), 3);

    await w.clock.advance(10_000);
    assert.equal(w.spawner.spawned.length, 2, 'time alone frees no slot');

    // t1 up: its slot goes to t3.
    w.lastSsh('t1').say(LINES.remoteOk);
    await w.clock.advance(0);
    assert.equal(w.state('t1'), 'up');
    assert.deepEqual(w.spawnOrder(), ['t1', 't2', 't3']);
    assert.ok(w.events.some((e) => e.type === 'notice' && e.tunnel === 't3' && e.message === `handshake slot granted: ssh started (pid ${w.lastSsh('t3').pid})`));

    // t2 fails: its slot goes to t4.
    w.lastSsh('t2').say(LINES.refused);
    w.lastSsh('t2').exit();
    await w.clock.advance(0);
    assert.equal(w.state('t2'), 'backoff');
    assert.deepEqual(w.spawnOrder(), ['t1', 't2', 't3', 't4']);
    assert.equal(gate.inFlight(KEY), 2);
    assert.equal(gate.queued(KEY), 1);

    // t1, up, dies: its slot was given back when it came up, so nothing more is freed;
    // it reconnects at once and queues behind t5.
    w.lastSsh('t1').exit({ code: null, signal: 'SIGKILL' });
    await w.clock.advance(0);
    assert.deepEqual(w.spawnOrder(), ['t1', 't2', 't3', 't4']);
    assert.equal(gate.inFlight(KEY), 2);
    assert.equal(gate.queued(KEY), 2);
    assert.equal(w.state('t1'), 'connecting');

    // t2's backoff (200 ms) ends: it queues too.
    await w.clock.advance(200);
    assert.equal(gate.queued(KEY), 3);
    assert.equal(w.spawner.spawned.length, 4);

    // Slots free up: waiters go in arrival order t5, t1, t2.
    w.lastSsh('t3').say(LINES.remoteOk);
    await w.clock.advance(0);
    assert.deepEqual(w.spawnOrder(), ['t1', 't2', 't3', 't4', 't5']);
    w.lastSsh('t4').exit();
    await w.clock.advance(0);
    assert.deepEqual(w.spawnOrder(), ['t1', 't2', 't3', 't4', 't5', 't1']);
    w.lastSsh('t5').say(LINES.remoteOk);
    await w.clock.advance(0);
    assert.deepEqual(w.spawnOrder(), ['t1', 't2', 't3', 't4', 't5', 't1', 't2']);
    assert.equal(gate.inFlight(KEY), 2);
    assert.equal(gate.queued(KEY), 0);
    assert.equal(w.state('t4'), 'backoff', 't4 first waits out its own backoff…');
    await w.clock.advance(200);
    assert.equal(gate.queued(KEY), 1, '…then queues');
    assert.equal(w.spawner.spawned.length, 7);
  });

  test('a handshake that times out gives its slot back', async () => {
    const gate = new HandshakeGate(1);
    const w = world({ gate });
    await w.supervisor.reconcile([spec('a', { ssh: PROXIED }), spec('b', { ssh: PROXIED })], w.build);
    w.supervisor.startAll();
    assert.deepEqual(w.spawnOrder(), ['a']);
    await w.clock.advance(30_000); // ConnectTimeout 10 s + 20 s grace
    assert.deepEqual(w.sshOf('a')[0]!.kills, ['SIGTERM']);
    assert.deepEqual(w.spawnOrder(), ['a', 'b']);
  });

  test('tunnels stopped while queued never spawn, and leave the queue', async () => {
    const gate = new HandshakeGate(1);
    const w = world({ gate });
    await w.supervisor.reconcile([spec('a'), spec('b'), spec('c')], w.build);
    w.supervisor.startAll();
    assert.deepEqual(w.spawnOrder(), ['a']);
    assert.equal(gate.queued(KEY), 2);

    const r = await w.supervisor.reconcile([spec('a')], w.build);
    assert.deepEqual(r.removed, ['b', 'c']);
    assert.equal(gate.queued(KEY), 0);
    assert.deepEqual(w.cleanups, ['b:stopped', 'c:stopped']);
    assert.deepEqual(w.statesOf('b').map((s) => `${s.from}>${s.to}`), ['starting>connecting', 'connecting>stopping', 'stopping>stopped']);

    w.lastSsh('a').say(LINES.remoteOk);
    await w.clock.advance(0);
    w.lastSsh('a').exit();
    await w.clock.advance(60_000);
    assert.deepEqual([...new Set(w.spawnOrder())], ['a'], 'b and c never ran ssh');
    assert.equal(gate.queued(KEY), 0);
    assert.ok(gate.inFlight(KEY) <= 1);
  });

  test('stop() of a queued tunnel resolves at once; the slot holder is unaffected', async () => {
    const gate = new HandshakeGate(1);
    const w = world({ gate });
    await w.supervisor.reconcile([spec('a'), spec('b')], w.build);
    w.supervisor.startAll();
    await w.supervisor.get('b')!.stop();
    assert.equal(w.state('b'), 'stopped');
    assert.deepEqual(w.lastSsh('a').kills, []);
    assert.equal(gate.inFlight(KEY), 1);
    assert.equal(gate.queued(KEY), 0);
  });

  test('different servers (host or port) do not share the limit', async () => {
    const gate = new HandshakeGate(1);
    const w = world({ gate });
    await w.supervisor.reconcile(
      [
        spec('a1', {}, { host: 'a.example' }),
        spec('a2', {}, { host: 'a.example' }),
        spec('b1', {}, { host: 'b.example' }),
        spec('a-other-port', {}, { host: 'a.example', port: 2222 }),
      ],
      w.build,
    );
    w.supervisor.startAll();
    assert.deepEqual(w.spawnOrder(), ['a1', 'b1', 'a-other-port']);
    assert.equal(gate.queued('a.example:22'), 1);
    assert.equal(gate.inFlight('b.example:22'), 1);
    assert.equal(gate.inFlight('a.example:2222'), 1);
    w.lastSsh('b1').say(LINES.remoteOk);
    await w.clock.advance(0);
    assert.deepEqual(w.spawnOrder(), ['a1', 'b1', 'a-other-port'], 'b1 coming up frees nothing for a.example');
    w.lastSsh('a1').say(LINES.remoteOk);
    await w.clock.advance(0);
    assert.deepEqual(w.spawnOrder(), ['a1', 'b1', 'a-other-port', 'a2']);
  });
});

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

describe('Tunnel: Unix-socket local forward', () => {
  const SOCKET = '/run/autotunnel/db.sock';
  const SOCKET_FORWARD: Forward = { kind: 'local', bindPort: 0, bindSocket: SOCKET, targetHost: 'db.internal', targetPort: 5432 };

  function setup(withProbe = true) {
    const clock = new FakeClock();
    const spawner = new FakeSpawner();
    const probe = new FakeProbe(clock);
    const unixCalls: Array<{ path: string; timeoutMs: number; at: number }> = [];
    let unixOpen = false;
    const probeUnix = (path: string, timeoutMs: number) => {
      unixCalls.push({ path, timeoutMs, at: clock.now() });
      return Promise.resolve(unixOpen);
    };
    // Proxied: no reachability probes of the server, so only the forward's probes are counted.
    const s = spec('sock', { forwards: [SOCKET_FORWARD], ssh: PROXIED });
    const tunnel = new Tunnel(s, testCommand(s, ['-N', '--', HOST]), {
      clock,
      spawnSsh: spawner.spawn,
      probeTcp: probe.probe,
      random: () => 0.5,
      ...(withProbe ? { probeUnix } : {}),
    });
    return { clock, spawner, probe, tunnel, unixCalls, setOpen: (v: boolean) => (unixOpen = v) };
  }

  test('up after "listening on path", "Entering interactive session" and a successful probe of the socket', async () => {
    const t = setup();
    t.tunnel.start();
    t.setOpen(true);
    t.spawner.last.say(LINES.listeningPath(SOCKET));
    await t.clock.advance(50);
    assert.equal(t.tunnel.state, 'connecting', 'listening is announced before bind(): not proof');
    assert.deepEqual(t.unixCalls, []);
    t.spawner.last.say(LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
    assert.deepEqual(t.unixCalls, [{ path: SOCKET, timeoutMs: PROBE_TIMEOUT_MS, at: t.clock.now() }]);
    assert.equal(t.probe.calls.length, 0, 'no TCP probe for a socket forward');
  });

  test('a socket that refuses is probed again until it accepts', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(LINES.listeningPath(SOCKET), LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting');
    assert.equal(t.unixCalls.length, 1);
    await t.clock.advance(LOCAL_PROBE_RETRY_MS);
    assert.equal(t.unixCalls.length, 2);
    t.setOpen(true);
    await t.clock.advance(LOCAL_PROBE_RETRY_MS);
    assert.equal(t.tunnel.state, 'up');
    assert.equal(t.unixCalls.length, 3);
  });

  test('a listener line for another path does not count', async () => {
    const t = setup();
    t.tunnel.start();
    t.setOpen(true);
    t.spawner.last.say(LINES.listeningPath('/run/autotunnel/other.sock'), LINES.session);
    await t.clock.advance(1_000);
    assert.equal(t.tunnel.state, 'connecting');
    assert.deepEqual(t.unixCalls, []);
  });

  test('without probeUnix, ssh\'s word (after the session starts) is enough', async () => {
    const t = setup(false);
    t.tunnel.start();
    t.spawner.last.say(LINES.listeningPath(SOCKET), LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
  });

  test('a socket and a TCP port together: both must be confirmed', async () => {
    const clock = new FakeClock();
    const spawner = new FakeSpawner();
    const probe = new FakeProbe(clock);
    let unixOpen = true;
    const s = spec('both', { forwards: [SOCKET_FORWARD, { kind: 'local', bindAddress: '127.0.0.1', bindPort: 8080, targetHost: 'web', targetPort: 80 }], ssh: PROXIED });
    const tunnel = new Tunnel(s, testCommand(s), {
      clock,
      spawnSsh: spawner.spawn,
      probeTcp: probe.probe,
      random: () => 0.5,
      probeUnix: () => Promise.resolve(unixOpen),
    });
    tunnel.start();
    probe.set('127.0.0.1', 8080, 'open');
    spawner.last.say(LINES.listeningPath(SOCKET), LINES.session);
    await clock.advance(1_000);
    assert.equal(tunnel.state, 'connecting', 'the TCP listener was not announced');
    spawner.last.exit();
    await clock.advance(0);
    unixOpen = false;
    await clock.advance(1_000);
    spawner.last.say(LINES.listeningPath(SOCKET), LINES.listening(8080), LINES.session);
    await clock.advance(0);
    assert.equal(tunnel.state, 'connecting', 'the socket refuses');
    unixOpen = true;
    await clock.advance(LOCAL_PROBE_RETRY_MS);
    assert.equal(tunnel.state, 'up');
  });
});
