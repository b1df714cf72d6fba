/** Local listeners must accept before a tunnel is up (local-listeners.ts): Unix sockets, through a Tunnel on the fakes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Tunnel } from '../../src/supervisor/tunnel.js';
import { LOCAL_PROBE_RETRY_MS, PROBE_TIMEOUT_MS } from '../../src/supervisor/local-listeners.js';
import type { Forward } from '../../src/config/spec.js';
import { FakeClock, FakeProbe, FakeSpawner, PROXIED, testCommand } from './fakes.js';
import { FLEET_LINES as LINES, HOST, spec } from './tunnel-world.js';

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
