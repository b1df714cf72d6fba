/**
 * runUntilSignal: what each signal does to a running supervisor, with signals sent to an
 * injected process (an EventEmitter) and tunnels on the fake clock and ssh.
 */
import { EventEmitter } from 'node:events';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runUntilSignal, type LifecycleProcess } from '../../src/cli/lifecycle.js';
import { createLogger } from '../../src/observe/logger.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { FakeClock, FakeSpawner, fakeTunnel, flush } from './fakes.js';

class FakeProcess extends EventEmitter implements LifecycleProcess {
  readonly exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
}

function setup(hooks: Parameters<typeof runUntilSignal>[3] = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const supervisor = new Supervisor(clock);
  const tunnel = fakeTunnel('t', clock, spawner);
  supervisor.add(tunnel);
  const lines: string[] = [];
  const logger = createLogger({ format: 'text', level: 'debug', write: (l) => lines.push(l) });
  const proc = new FakeProcess();
  let cleanups = 0;
  const done = runUntilSignal(supervisor, logger, () => cleanups++, hooks, proc);
  return { clock, spawner, tunnel, lines, proc, done, cleanups: () => cleanups };
}

describe('runUntilSignal', () => {
  test('starts every tunnel and listens for the four signals', () => {
    const w = setup();
    assert.equal(w.tunnel.state, 'connecting');
    for (const s of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP']) assert.equal(w.proc.listenerCount(s), 1, s);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal}: stops every tunnel, cleans up once, resolves 0 and lets go of the signals`, async () => {
      const w = setup();
      w.proc.emit(signal);
      assert.equal(await w.done, 0);
      assert.equal(w.tunnel.state, 'stopped');
      assert.deepEqual(w.spawner.last.kills, ['SIGTERM']);
      assert.equal(w.cleanups(), 1);
      assert.deepEqual(w.proc.exits, []);
      for (const s of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP']) assert.equal(w.proc.listenerCount(s), 0, s);
      assert.ok(w.lines.some((l) => l.includes(`${signal} received: stopping every tunnel`)));
    });
  }

  test('a second SIGTERM while ssh is still stopping exits at once, after cleaning up', async () => {
    const w = setup();
    w.spawner.last.diesOnTerm = false;
    w.proc.emit('SIGTERM');
    await flush();
    assert.equal(w.tunnel.state, 'stopping');
    w.proc.emit('SIGTERM');
    assert.deepEqual(w.proc.exits, [0]);
    assert.equal(w.cleanups(), 1);
    assert.ok(w.lines.some((l) => l.includes('SIGTERM received again: exiting now')));
  });

  test('SIGUSR1 retries every tunnel now, and keeps running', async () => {
    const w = setup();
    w.spawner.last.exit();
    await w.clock.advance(0);
    assert.equal(w.tunnel.state, 'backoff');
    w.proc.emit('SIGUSR1');
    assert.equal(w.tunnel.state, 'connecting');
    assert.equal(w.spawner.spawned.length, 2);
    assert.ok(w.lines.some((l) => l.includes('SIGUSR1 received: retrying every tunnel now')));
    assert.equal(w.proc.listenerCount('SIGTERM'), 1, 'still running');
  });

  test('SIGHUP reloads through the hook; without one it is logged and ignored', () => {
    let reloads = 0;
    const w = setup({ onHangup: () => reloads++ });
    w.proc.emit('SIGHUP');
    assert.equal(reloads, 1);
    const plain = setup();
    plain.proc.emit('SIGHUP');
    assert.ok(plain.lines.some((l) => l.includes('SIGHUP received: nothing to reload')));
    assert.equal(plain.tunnel.state, 'connecting');
  });

  test('a caller stops with its own reason and exit code (autossh\'s AUTOSSH_MAXSTART)', async () => {
    let stop: ((reason: string, code: number) => void) | undefined;
    const w = setup({ onRunning: (s) => (stop = s) });
    stop!('limit reached', 1);
    assert.equal(await w.done, 1);
    assert.equal(w.tunnel.state, 'stopped');
  });

  test('cleans up on any other way out of the process', () => {
    const w = setup();
    w.proc.emit('exit');
    assert.equal(w.cleanups(), 1);
  });
});
