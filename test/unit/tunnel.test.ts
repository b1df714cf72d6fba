/** The Tunnel's transitions on a virtual clock: no sleeping, no real processes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KILL_GRACE_MS } from '../../src/supervisor/terminate.js';
import { DEFAULT_BACKOFF } from '../../src/config/spec.js';
import { LINES, LOCAL, REMOTE, bringUpLocal, failRepeatedly, setup } from './tunnel-world.js';

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
