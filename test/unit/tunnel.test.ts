/** The supervisor state machine on a virtual clock: no sleeping, no real processes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tunnel } from '../../src/supervisor/tunnel.js';
import { KILL_GRACE_MS } from '../../src/supervisor/terminate.js';
import { FAST_PROBE_EVERY_MS, MAX_PROBES_IN_FLIGHT } from '../../src/supervisor/reachability.js';
import { DEFAULT_BACKOFF, type Forward } from '../../src/config/spec.js';
import type { StateChange, TunnelEvent } from '../../src/supervisor/events.js';
import { FakeClock, FakeProbe, FakeSpawner, NO_EXTRA_SSH, testCommand, testSpec } from './fakes.js';

const SERVER = { host: 'bastion.example', port: 22 };
const LOCAL: Forward = { kind: 'local', bindAddress: '127.0.0.1', bindPort: 8080, targetHost: 'db', targetPort: 5432 };
const REMOTE: Forward = { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 4000, targetHost: 'localhost', targetPort: 80 };

const LINES = {
  connecting: 'debug1: Connecting to bastion.example [192.0.2.1] port 22.',
  established: 'debug1: Connection established.',
  authenticated: 'Authenticated to bastion.example ([192.0.2.1]:22) using "publickey".',
  listening: (port: number) => `debug1: Local forwarding listening on 127.0.0.1 port ${port}.`,
  session: 'debug1: Entering interactive session.',
  remoteOk: (port: number) => `debug1: remote forward success for: listen 127.0.0.1:${port}, connect localhost:80`,
  allOk: 'debug1: forwarding_success: all expected forwarding replies received',
  refused: 'ssh: connect to host bastion.example port 22: Connection refused',
  denied: 'root@bastion.example: Permission denied (publickey).',
  keepalive: 'Timeout, server bastion.example not responding.',
};

function setup(forwards: Forward[] = [LOCAL], opts: { random?: number; addsRemoteForwards?: boolean; proxied?: boolean } = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const probe = new FakeProbe(clock);
  const spec = testSpec('t1', forwards, { user: 'root', ...SERVER }, {
    ssh: { ...NO_EXTRA_SSH, addsRemoteForwards: opts.addsRemoteForwards ?? false, proxied: opts.proxied ?? false },
  });
  const tunnel = new Tunnel(spec, testCommand(spec, ['-N', '--', SERVER.host]), {
    clock,
    spawnSsh: spawner.spawn,
    probeTcp: probe.probe,
    random: () => opts.random ?? 0.5,
  });
  const events: TunnelEvent[] = [];
  tunnel.events.on((e) => events.push(e));
  const states = () => events.filter((e): e is StateChange => e.type === 'state');
  const lastState = () => states().at(-1)!;
  return { clock, spawner, probe, tunnel, events, states, lastState };
}

/** ssh fails `times` times with `line`, each backoff waited out: builds up a long backoff. */
async function failRepeatedly(t: ReturnType<typeof setup>, line: string, times: number) {
  for (let i = 0; i < times; i++) {
    t.spawner.last.say(line);
    t.spawner.last.exit();
    await t.clock.advance(t.lastState().delayMs!);
  }
}

/** Brings a -L tunnel up through the lines real ssh prints. */
async function bringUpLocal(t: ReturnType<typeof setup>, port = 8080) {
  t.probe.set('127.0.0.1', port, 'open');
  t.spawner.last.say(LINES.established, LINES.authenticated, LINES.listening(port), LINES.session);
  await t.clock.advance(0);
}

describe('Tunnel: becoming up', () => {
  it('-L is up only after ssh reports the listener and the port accepts a connection', async () => {
    const t = setup();
    t.tunnel.start();
    assert.equal(t.tunnel.state, 'connecting');
    assert.equal(t.spawner.spawned.length, 1);
    t.probe.set('127.0.0.1', 8080, 'refused');
    t.spawner.last.say(LINES.established, LINES.authenticated);
    await t.clock.advance(50);
    assert.equal(t.tunnel.state, 'connecting', 'authenticated is not enough');
    t.spawner.last.say(LINES.listening(8080));
    t.probe.set('127.0.0.1', 8080, 'open');
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting', 'ssh says "listening" before bind(): not proof until setup is done');
    t.probe.set('127.0.0.1', 8080, 'refused');
    t.spawner.last.say(LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting', 'a port that refuses is not up');
    t.probe.set('127.0.0.1', 8080, 'open');
    await t.clock.advance(250);
    assert.equal(t.tunnel.state, 'up');
    const up = t.lastState();
    assert.equal(up.to, 'up');
    assert.equal(up.attempt, 1);
    assert.equal(up.connectMs, 250);
    assert.equal(up.pid, t.spawner.last.pid);
  });

  it('-L on 0.0.0.0 is probed on 127.0.0.1', async () => {
    const t = setup([{ ...LOCAL, bindAddress: '0.0.0.0' }]);
    t.tunnel.start();
    await bringUpLocal(t);
    assert.equal(t.tunnel.state, 'up');
    assert.ok(t.probe.callsTo('127.0.0.1', 8080) >= 1);
  });

  it('a listener line for another port does not count', async () => {
    const t = setup();
    t.tunnel.start();
    t.probe.set('127.0.0.1', 9999, 'open');
    t.spawner.last.say(LINES.listening(9999), LINES.session);
    await t.clock.advance(100);
    assert.equal(t.tunnel.state, 'connecting');
  });

  it('-R is up when the server confirms the forward', async () => {
    const t = setup([REMOTE]);
    t.tunnel.start();
    t.spawner.last.say(LINES.established, LINES.authenticated);
    await t.clock.advance(10);
    assert.equal(t.tunnel.state, 'connecting');
    t.spawner.last.say(LINES.remoteOk(4000));
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
  });

  it('-R with port 0 waits for the allocated port and reports it', async () => {
    const t = setup([{ ...REMOTE, bindPort: 0 }]);
    t.tunnel.start();
    t.spawner.last.say(LINES.remoteOk(0));
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting', 'no use without knowing the port');
    t.spawner.last.say('Allocated port 41234 for remote forward to localhost:80', LINES.allOk);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
    assert.deepEqual(t.lastState().allocatedPorts, [41234]);
    assert.deepEqual(t.lastState().allocatedPorts, [41234]);
  });

  it('extra -R forwards in SSH_OPTIONS: waits for forwarding_success', async () => {
    const t = setup([REMOTE], { addsRemoteForwards: true });
    t.tunnel.start();
    t.spawner.last.say(LINES.remoteOk(4000));
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting');
    t.spawner.last.say(LINES.remoteOk(4001), LINES.allOk);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
  });

  it('gives up on an attempt that never comes up (ConnectTimeout + grace) and retries', async () => {
    const t = setup([REMOTE]);
    t.tunnel.start();
    t.spawner.last.say(LINES.established, LINES.authenticated);
    await t.clock.advance(29_999);
    assert.equal(t.spawner.last.kills.length, 0);
    await t.clock.advance(1);
    assert.deepEqual(t.spawner.spawned[0]!.kills, ['SIGTERM']);
    const down = t.states().find((s) => s.to === 'backoff')!;
    assert.equal(down.cause?.code, 'handshake_timeout');
  });
});

describe('Tunnel: restarting', () => {
  it('a killed ssh after a stable up is restarted at once', async () => {
    const t = setup();
    t.tunnel.start();
    await bringUpLocal(t);
    await t.clock.advance(60_000);
    t.spawner.last.exit({ code: null, signal: 'SIGKILL' });
    await t.clock.advance(0);
    assert.equal(t.spawner.spawned.length, 2, 'respawned without waiting');
    const backoff = t.states().find((s) => s.to === 'backoff')!;
    assert.equal(backoff.cause?.code, 'killed');
    assert.equal(backoff.delayMs, 0);
    assert.equal(backoff.upForMs, 60_000);
    assert.equal(t.tunnel.state, 'connecting');
    assert.equal(t.spawner.spawned.length - 1, 1, 'one restart');
  });

  it('backs off exponentially on repeated failures, capped at 30 s, never giving up', async () => {
    const t = setup();
    t.tunnel.start();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      t.spawner.last.say('ssh: connect to host bastion.example port 22: Connection timed out');
      t.spawner.last.exit();
      await t.clock.advance(0);
      const b = t.lastState();
      assert.equal(b.to, 'backoff');
      delays.push(b.delayMs!);
      const before = t.spawner.spawned.length;
      await t.clock.advance(b.delayMs! - 1);
      assert.equal(t.spawner.spawned.length, before, 'no attempt before the delay is over');
      await t.clock.advance(1);
      assert.equal(t.spawner.spawned.length, before + 1, 'an attempt once it is over');
    }
    assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000, 30000]);
  });

  it('jitter spreads delays within ±20 %', async () => {
    for (const [random, expected] of [[0, 160], [0.999999, 240]] as const) {
      const t = setup([LOCAL], { random });
      t.tunnel.start();
      t.spawner.last.say(LINES.refused);
      t.spawner.last.exit();
      await t.clock.advance(0);
      assert.equal(t.lastState().delayMs, expected);
    }
  });

  it('a tunnel that flaps (up briefly, then down) does not restart in a tight loop', async () => {
    const t = setup();
    t.tunnel.start();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await bringUpLocal(t);
      await t.clock.advance(1_000); // up, but not for the stable period
      t.spawner.last.exit({ code: null, signal: 'SIGKILL' });
      await t.clock.advance(0);
      delays.push(t.states().filter((s) => s.to === 'backoff').at(-1)!.delayMs!);
      await t.clock.advance(delays.at(-1)!);
    }
    assert.deepEqual(delays, [0, 400, 800, 1600]);
  });

  it('a stable period resets the failure count', async () => {
    const t = setup();
    t.tunnel.start();
    await failRepeatedly(t, LINES.refused, 3);
    assert.equal(t.states().filter((s) => s.to === 'backoff').length, 3, 'three failures in a row');
    await bringUpLocal(t);
    await t.clock.advance(DEFAULT_BACKOFF.stableAfterMs);
    t.spawner.last.exit({ code: null, signal: 'SIGKILL' });
    await t.clock.advance(0);
    assert.equal(t.states().at(-2)!.delayMs, 0);
  });

  it('permanent causes (permission denied) wait the full cap, with the fix in the cause', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(LINES.denied);
    t.spawner.last.exit();
    await t.clock.advance(0);
    const b = t.lastState();
    assert.equal(b.cause?.code, 'permission_denied');
    assert.equal(b.cause?.kind, 'permanent');
    assert.equal(b.delayMs, 27_000, '30 s less at most 20 % jitter (random 0.5 → 10 %)');
    assert.match(b.cause!.hint!, /authorized_keys/);
    await t.clock.advance(26_999);
    assert.equal(t.spawner.spawned.length, 1);
    assert.equal(t.probe.calls.length, 0, 'no reachability probing for a refused login');
    await t.clock.advance(1);
    assert.equal(t.spawner.spawned.length, 2);
  });

  it('a changed host key is reported as such, not as the generic verification failure', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(
      '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
      '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
      'Host key for bastion.example has changed and you have requested strict checking.',
      'Host key verification failed.',
    );
    t.spawner.last.exit();
    await t.clock.advance(0);
    const cause = t.lastState().cause!;
    assert.equal(cause.code, 'host_key_changed');
    assert.match(cause.hint!, /ssh-keygen -R 'bastion\.example' -f \/state\/known_hosts/);
  });

  it('a spawn failure (ssh missing) is permanent', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.exit({ code: null, signal: null, error: 'spawn ssh ENOENT' });
    await t.clock.advance(0);
    assert.equal(t.lastState().cause?.code, 'spawn_failed');
    assert.match(t.lastState().cause!.hint!, /openssh-client/);
  });
});

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

describe('Tunnel: signals and stopping', () => {
  it('retryNow skips the backoff wait', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(LINES.denied);
    t.spawner.last.exit();
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'backoff');
    t.tunnel.retryNow('SIGUSR1 received');
    assert.equal(t.spawner.spawned.length, 2);
    assert.equal(t.tunnel.state, 'connecting');
    await bringUpLocal(t);
    // The old wait must not fire a second attempt later.
    await t.clock.advance(60_000);
    assert.equal(t.spawner.spawned.length, 2);
  });

  it('retryNow while up restarts ssh at once, as autossh does on SIGUSR1', async () => {
    const t = setup();
    t.tunnel.start();
    await bringUpLocal(t);
    t.tunnel.retryNow('SIGUSR1 received');
    await t.clock.advance(0);
    assert.deepEqual(t.spawner.spawned[0]!.kills, ['SIGTERM']);
    assert.equal(t.spawner.spawned.length, 2);
    assert.equal(t.states().find((s) => s.to === 'backoff')!.cause?.code, 'retry_requested');
  });

  it('stop() terminates ssh, escalates to SIGKILL, and never restarts it', async () => {
    const t = setup();
    t.tunnel.start();
    await bringUpLocal(t);
    t.spawner.last.diesOnTerm = false;
    let stopped = false;
    void t.tunnel.stop().then(() => (stopped = true));
    await t.clock.advance(KILL_GRACE_MS - 1);
    assert.deepEqual(t.spawner.last.kills, ['SIGTERM']);
    assert.equal(stopped, false);
    await t.clock.advance(1);
    assert.deepEqual(t.spawner.last.kills, ['SIGTERM', 'SIGKILL']);
    assert.equal(stopped, true);
    assert.equal(t.tunnel.state, 'stopped');
    await t.clock.advance(120_000);
    assert.equal(t.spawner.spawned.length, 1);
    assert.equal(t.clock.pending(), 0, 'no timer left behind');
  });

  it('stop() during backoff cancels the wait and the probes', async () => {
    const t = setup();
    t.tunnel.start();
    t.spawner.last.say(LINES.refused);
    t.spawner.last.exit();
    await t.clock.advance(0);
    await t.tunnel.stop();
    await t.clock.advance(120_000);
    assert.equal(t.spawner.spawned.length, 1);
    assert.deepEqual(t.states().slice(-2).map((s) => s.to), ['stopping', 'stopped']);
  });

  it('emits the full state sequence for a down/up cycle', async () => {
    const t = setup();
    t.tunnel.start();
    await bringUpLocal(t);
    t.spawner.last.say('Connection to bastion.example closed by remote host.');
    t.spawner.last.exit();
    await t.clock.advance(0);
    await bringUpLocal(t);
    assert.deepEqual(
      t.states().map((s) => `${s.from}>${s.to}`),
      ['starting>connecting', 'connecting>up', 'up>backoff', 'backoff>connecting', 'connecting>up'],
    );
    assert.equal(t.states()[2]!.cause?.code, 'connection_closed');
    assert.equal(t.tunnel.state, 'up');
    assert.equal(t.lastState().attempt, 2);
    assert.equal(t.lastState().cause, undefined, 'a tunnel that is up has no current cause');
  });
});
