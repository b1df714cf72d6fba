/**
 * When a tunnel counts as up, decided from what real ssh printed alone: each capture in
 * test/fixtures/ssh-stderr is fed to ForwardReadiness with the forwards its ssh was given.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSshForward } from '../../src/config/forward.js';
import type { Forward } from '../../src/config/spec.js';
import { parseSshLine } from '../../src/ssh/stderr.js';
import { ForwardReadiness, type ReadinessStep } from '../../src/supervisor/readiness.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'ssh-stderr');
const INDEX = JSON.parse(readFileSync(join(FIXTURES, 'index.json'), 'utf8')) as { captures: Record<string, { argv: string[] }> };

/** The -L/-R/-D forwards of a capture's ssh command line. */
function forwardsOf(name: string): Forward[] {
  const argv = INDEX.captures[name]!.argv;
  const out: Forward[] = [];
  argv.forEach((word, i) => {
    const kind = word === '-L' ? 'local' : word === '-R' ? 'remote' : word === '-D' ? 'dynamic' : undefined;
    if (!kind) return;
    const f = parseSshForward(kind, argv[i + 1]!);
    assert.ok(typeof f !== 'string', f as string);
    out.push(f);
  });
  return out;
}

/** Every step readiness asked for, in order, while reading the capture. */
function replay(name: string, readiness = new ForwardReadiness(forwardsOf(name), false)): { steps: ReadinessStep[]; readiness: ForwardReadiness } {
  const steps: ReadinessStep[] = [];
  for (const raw of readFileSync(join(FIXTURES, `${name}.txt`), 'utf8').split(/\r?\n/)) {
    const progress = parseSshLine(raw).progress;
    if (progress) steps.push(readiness.observe(progress));
  }
  return { steps, readiness };
}

describe('ForwardReadiness on real ssh output', () => {
  it('-L: asks once for the local probe after setup ends; ready once the probe confirms', () => {
    const { steps, readiness } = replay('local-forward-up');
    assert.equal(steps.filter((s) => s === 'probe-local').length, 1);
    assert.ok(!steps.includes('ready'), 'ssh\'s word alone is not enough for a local listener');
    assert.equal(readiness.confirmLocal(), 'ready');
  });

  it('-R with port 0: ready once the server confirmed it and allocated the port', () => {
    const { steps, readiness } = replay('remote-forward-up-port0');
    assert.equal(steps.at(-1), 'ready');
    assert.ok(!steps.includes('probe-local'), 'nothing to probe here');
    assert.deepEqual(readiness.allocated, [39945]);
  });

  it('-R with port 0: without the allocated port it is not up, even when confirmed', () => {
    const forwards = forwardsOf('remote-forward-up-port0');
    const readiness = new ForwardReadiness(forwards, false);
    assert.equal(readiness.observe({ type: 'remote_forward_ok', listen: '127.0.0.1:0' }), 'waiting');
    assert.equal(readiness.observe({ type: 'all_forwards_ok' }), 'waiting');
    assert.equal(readiness.observe({ type: 'remote_port_allocated', port: 39945, target: '127.0.0.1:42251' }), 'ready');
  });

  it('-L on a port in use: never asks to probe, never ready', () => {
    const { steps } = replay('local-port-in-use');
    assert.deepEqual([...new Set(steps)], ['waiting']);
  });

  it('-R the server refused: never ready', () => {
    const { steps } = replay('remote-forward-failed');
    assert.ok(!steps.includes('ready'));
  });

  it('extra -R forwards in the user\'s options: only "all forwards confirmed" counts', () => {
    const forwards = forwardsOf('remote-forward-up-port0');
    const counted = new ForwardReadiness(forwards, true);
    assert.equal(counted.observe({ type: 'remote_port_allocated', port: 39945, target: '127.0.0.1:42251' }), 'waiting');
    assert.equal(counted.observe({ type: 'remote_forward_ok', listen: '127.0.0.1:0' }), 'waiting', 'one confirmation may be for the user\'s forward');
    assert.equal(counted.observe({ type: 'all_forwards_ok' }), 'ready');
  });
});
