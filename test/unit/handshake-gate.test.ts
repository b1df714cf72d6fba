/** HandshakeGate: at most `limit` handshakes at once per server, the rest wait in order. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HandshakeGate, type Release } from '../../src/supervisor/handshake-gate.js';

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
