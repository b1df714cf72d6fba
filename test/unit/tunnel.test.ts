/** The supervisor state machine on a virtual clock: no sleeping, no real processes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tunnel } from '../../src/supervisor/tunnel.js';
import { KILL_GRACE_MS } from '../../src/supervisor/terminate.js';
import { ServerWatch, STALL_DEFAULT_MS } from '../../src/supervisor/reachability.js';
import { PENALTY_AFTER_MS } from '../../src/supervisor/tunnel.js';
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
  dropped: 'kex_exchange_identification: Connection closed by remote host',
  /** A failure after the server answered: the ordinary exponential backoff applies. */
  closed: 'Connection closed by 192.0.2.1 port 22',
};

interface SetupOptions {
  random?: number;
  addsRemoteForwards?: boolean;
  proxied?: boolean;
  clock?: FakeClock;
  watch?: ServerWatch;
  name?: string;
  abortOrphans?: (address: string, port: number) => void;
  readyMarker?: string;
  processState?: (pid: number) => string | undefined;
}

function setup(forwards: Forward[] = [LOCAL], opts: SetupOptions = {}) {
  const clock = opts.clock ?? new FakeClock();
  const spawner = new FakeSpawner();
  const probe = new FakeProbe(clock);
  const spec = testSpec(opts.name ?? 't1', forwards, { user: 'root', ...SERVER }, {
    ssh: { ...NO_EXTRA_SSH, addsRemoteForwards: opts.addsRemoteForwards ?? false, proxied: opts.proxied ?? false },
  });
  const command = testCommand(spec, ['-N', '--', SERVER.host]);
  const tunnel = new Tunnel(spec, opts.readyMarker ? { ...command, readyMarker: opts.readyMarker } : command, {
    clock,
    spawnSsh: spawner.spawn,
    probeTcp: probe.probe,
    random: () => opts.random ?? 0.5,
    ...(opts.watch ? { watch: opts.watch } : {}),
    ...(opts.abortOrphans ? { abortOrphans: opts.abortOrphans } : {}),
    ...(opts.processState ? { processState: opts.processState } : {}),
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
      t.spawner.last.say(LINES.closed);
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
      t.spawner.last.say(LINES.closed);
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
    await failRepeatedly(t, LINES.closed, 3);
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

describe('Tunnel: lines the peer could forge before the host key is verified', () => {
  const MARKER = '/dev/shm/autotunnel-1-x/ready-0123456789abcdef.sock';
  const marker = `debug1: Local forwarding listening on path ${MARKER}.`;

  it('-R: forward confirmations before the ready marker do not count; after it they do', async () => {
    const t = setup([REMOTE], { readyMarker: MARKER });
    t.tunnel.start();
    t.spawner.last.say(LINES.connecting, LINES.established, LINES.authenticated, LINES.remoteOk(4000), LINES.allOk, 'forwarding_success: all expected forwarding replies received', LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting', 'forged progress is ignored');
    t.spawner.last.say(marker, LINES.remoteOk(4000), LINES.allOk);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
  });

  it('-L: a listener named before the marker does not count, and the marker itself is no forward', async () => {
    const t = setup([LOCAL], { readyMarker: MARKER });
    t.tunnel.start();
    t.probe.set('127.0.0.1', 8080, 'open');
    t.spawner.last.say(LINES.listening(8080), LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting');
    t.spawner.last.say(marker, LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting', 'the -L listener itself is still to be named');
    t.spawner.last.say(LINES.listening(8080), LINES.session);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
  });

  it('the same lines with another path are no marker', async () => {
    const t = setup([REMOTE], { readyMarker: MARKER });
    t.tunnel.start();
    t.spawner.last.say('debug1: Local forwarding listening on path /tmp/guess.sock.', LINES.remoteOk(4000), LINES.allOk);
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'connecting');
  });
});

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
    await t.clock.advance(2_000);
    assert.deepEqual(ssh.kills, ['SIGKILL']);
    await t.clock.advance(0);
    const down = t.states().find((e) => e.to === 'backoff')!;
    assert.equal(down.cause?.code, 'ssh_stuck');
    assert.match(down.cause!.summary, /stopped/);
    assert.equal(t.spawner.spawned.length, 2, 'replaced at once (it had been up)');
  });
});

describe('Tunnel: a stale -R port after an outage', () => {
  it("aborts the dead session's orphaned connection once a new connect gets through, never before a failure", async () => {
    const aborted: Array<[string, number]> = [];
    const t = setup([REMOTE], { abortOrphans: (a, p) => aborted.push([a, p]) });
    t.tunnel.start();
    t.spawner.last.say(LINES.connecting, LINES.established, LINES.remoteOk(4000));
    await t.clock.advance(0);
    assert.equal(t.tunnel.state, 'up');
    assert.deepEqual(aborted, [], 'nothing to abort on a first connect');
    t.spawner.last.say(LINES.keepalive);
    t.spawner.last.exit();
    await t.clock.advance(0);
    t.spawner.last.say(LINES.connecting);
    await t.clock.advance(300);
    assert.deepEqual(aborted, [], 'not while the link is still down');
    t.spawner.last.say(LINES.established);
    assert.deepEqual(aborted, [['192.0.2.1', 22]]);
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

  it('stop() during backoff cancels the wait', async () => {
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
