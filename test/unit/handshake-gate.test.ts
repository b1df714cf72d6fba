/** HandshakeGate: at most `limit` handshakes at once per server, the rest wait in order; alone, and as tunnels use it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HandshakeGate, type Release } from '../../src/supervisor/handshake-gate.js';
import { FLEET_LINES as LINES, HOST, spec, world } from './tunnel-world.js';
import { PROXIED } from './fakes.js';

/** Records which waiters were granted, in order, and keeps their release functions. */
function recorder() {
  const granted: string[] = [];
  const releases = new Map<string, Release>();
  const waiter = (id: string) => (release: Release) => {
    granted.push(id);
    releases.set(id, release);
  };
  const release = (id: string) => {
    const r = releases.get(id);
    assert.ok(r, `${id} was never granted`);
    r();
  };
  return { granted, waiter, release };
}

describe('HandshakeGate', () => {
  test('grants up to the limit at once (synchronously), then queues', () => {
    const gate = new HandshakeGate(2);
    const r = recorder();
    gate.acquire('srv:22', r.waiter('a'));
    assert.deepEqual(r.granted, ['a'], 'granted before acquire returns');
    gate.acquire('srv:22', r.waiter('b'));
    gate.acquire('srv:22', r.waiter('c'));
    gate.acquire('srv:22', r.waiter('d'));
    assert.deepEqual(r.granted, ['a', 'b']);
    assert.equal(gate.inFlight('srv:22'), 2);
    assert.equal(gate.queued('srv:22'), 2);
    assert.equal(gate.limit, 2);
  });

  test('a release lets the first waiter in (FIFO), and only one', () => {
    const gate = new HandshakeGate(1);
    const r = recorder();
    for (const id of ['a', 'b', 'c', 'd']) gate.acquire('srv:22', r.waiter(id));
    assert.deepEqual(r.granted, ['a']);
    r.release('a');
    assert.deepEqual(r.granted, ['a', 'b']);
    assert.equal(gate.inFlight('srv:22'), 1);
    assert.equal(gate.queued('srv:22'), 2);
    r.release('b');
    r.release('c');
    assert.deepEqual(r.granted, ['a', 'b', 'c', 'd']);
    r.release('d');
    assert.equal(gate.inFlight('srv:22'), 0);
    assert.equal(gate.queued('srv:22'), 0);
  });

  test('releases in any order still grant waiters in arrival order', () => {
    const gate = new HandshakeGate(3);
    const r = recorder();
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) gate.acquire('k', r.waiter(id));
    r.release('c');
    r.release('a');
    assert.deepEqual(r.granted, ['a', 'b', 'c', 'd', 'e']);
    r.release('b');
    assert.deepEqual(r.granted, ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.equal(gate.inFlight('k'), 3);
  });

  test('keys are independent: one full server does not hold up another', () => {
    const gate = new HandshakeGate(1);
    const r = recorder();
    gate.acquire('one:22', r.waiter('one-a'));
    gate.acquire('one:22', r.waiter('one-b'));
    gate.acquire('two:22', r.waiter('two-a'));
    gate.acquire('one:2222', r.waiter('port-a'));
    assert.deepEqual(r.granted, ['one-a', 'two-a', 'port-a']);
    assert.equal(gate.inFlight('one:22'), 1);
    assert.equal(gate.queued('one:22'), 1);
    assert.equal(gate.queued('two:22'), 0);
    r.release('two-a');
    assert.deepEqual(r.granted, ['one-a', 'two-a', 'port-a'], 'a slot freed on another server does not grant this one');
    r.release('one-a');
    assert.deepEqual(r.granted, ['one-a', 'two-a', 'port-a', 'one-b']);
  });

  test('release is idempotent: a second call frees nothing more', () => {
    const gate = new HandshakeGate(1);
    const r = recorder();
    for (const id of ['a', 'b', 'c']) gate.acquire('k', r.waiter(id));
    r.release('a');
    r.release('a');
    r.release('a');
    assert.deepEqual(r.granted, ['a', 'b'], 'c still waits for b');
    assert.equal(gate.inFlight('k'), 1);
    assert.equal(gate.queued('k'), 1);
  });

  test('release never drives the count below zero or past the limit', () => {
    const gate = new HandshakeGate(2);
    const r = recorder();
    gate.acquire('k', r.waiter('a'));
    r.release('a');
    r.release('a');
    assert.equal(gate.inFlight('k'), 0);
    gate.acquire('k', r.waiter('b'));
    gate.acquire('k', r.waiter('c'));
    gate.acquire('k', r.waiter('d'));
    assert.deepEqual(r.granted, ['a', 'b', 'c'], 'the double release did not make room for a third');
  });

  test('cancel while queued: the waiter is never granted and keeps no place', () => {
    const gate = new HandshakeGate(1);
    const r = recorder();
    gate.acquire('k', r.waiter('a'));
    const cancelB = gate.acquire('k', r.waiter('b'));
    gate.acquire('k', r.waiter('c'));
    cancelB();
    assert.equal(gate.queued('k'), 1);
    r.release('a');
    assert.deepEqual(r.granted, ['a', 'c']);
    cancelB();
    assert.equal(gate.queued('k'), 0);
    r.release('c');
    assert.deepEqual(r.granted, ['a', 'c']);
    assert.equal(gate.inFlight('k'), 0);
  });

  test('cancel after the grant does nothing (the slot is released with release())', () => {
    const gate = new HandshakeGate(1);
    const r = recorder();
    const cancelA = gate.acquire('k', r.waiter('a'));
    const cancelB = gate.acquire('k', r.waiter('b'));
    gate.acquire('k', r.waiter('c'));
    cancelA();
    assert.equal(gate.inFlight('k'), 1);
    r.release('a');
    assert.deepEqual(r.granted, ['a', 'b']);
    cancelB();
    assert.equal(gate.inFlight('k'), 1, 'b still holds its slot');
    assert.equal(gate.queued('k'), 1, 'c still waits');
  });

  test('a waiter that gives its slot straight back passes it on at once', () => {
    const gate = new HandshakeGate(1);
    const granted: string[] = [];
    let releaseA: Release | undefined;
    gate.acquire('k', (rel) => {
      granted.push('a');
      releaseA = rel;
    });
    // b is stopped by the time its turn comes: it releases inside its grant.
    gate.acquire('k', (rel) => {
      granted.push('b');
      rel();
    });
    gate.acquire('k', () => granted.push('c'));
    releaseA!();
    assert.deepEqual(granted, ['a', 'b', 'c']);
    assert.equal(gate.inFlight('k'), 1);
    assert.equal(gate.queued('k'), 0);
  });

  test('unknown keys report nothing in flight and nothing queued', () => {
    const gate = new HandshakeGate(8);
    assert.equal(gate.inFlight('nowhere:22'), 0);
    assert.equal(gate.queued('nowhere:22'), 0);
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
