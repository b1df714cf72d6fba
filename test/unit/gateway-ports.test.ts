/** GatewayPorts seen from the client, and the spawn that runs a step before ssh: pure logic with fakes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { watchGatewayPorts } from '../../src/supervisor/gateway-ports.js';
import { Emitter, type TunnelEvent } from '../../src/supervisor/events.js';
import { spawnAfter } from '../../src/adapters/prepared-spawn.js';
import type { Forward, TunnelSpec } from '../../src/config/spec.js';
import { flush, testSpec } from './fakes.js';
import type { SshExit, SshProcess } from '../../src/supervisor/world.js';

const spec = (forwards: Forward[]): TunnelSpec => testSpec('t', forwards, { user: 'u', host: 'vps', port: 22 });
const up = (allocatedPorts?: number[]): TunnelEvent => ({ type: 'state', tunnel: 't', at: 0, from: 'connecting', to: 'up', attempt: 1, ...(allocatedPorts ? { allocatedPorts } : {}) });

describe('GatewayPorts seen from the client', () => {
  test('a -R on 0.0.0.0 that does not answer from here is warned about once, with the fix', async () => {
    const events = new Emitter<TunnelEvent>();
    const probed: string[] = [];
    const warnings: string[] = [];
    watchGatewayPorts({ events }, spec([{ kind: 'remote', bindAddress: '0.0.0.0', bindPort: 8080, targetHost: 'localhost', targetPort: 80 }]),
      async (host, port) => (probed.push(`${host}:${port}`), false), (m) => warnings.push(m));
    events.emit(up());
    events.emit(up());
    await flush();
    assert.deepEqual(probed, ['vps:8080'], 'checked once');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /vps:8080 does not answer from here: .*GatewayPorts clientspecified/);
  });
  test('no warning when it answers; loopback and default binds are not checked; port 0 uses the allocated port', async () => {
    const events = new Emitter<TunnelEvent>();
    const probed: string[] = [];
    const warnings: string[] = [];
    watchGatewayPorts({ events }, spec([
      { kind: 'remote', bindPort: 9000, targetHost: 'localhost', targetPort: 80 },
      { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 9001, targetHost: 'localhost', targetPort: 80 },
      { kind: 'remote', bindAddress: '*', bindPort: 0, targetHost: 'localhost', targetPort: 80 },
    ]), async (host, port) => (probed.push(`${host}:${port}`), true), (m) => warnings.push(m));
    events.emit(up([41234]));
    await flush();
    assert.deepEqual(probed, ['vps:41234']);
    assert.deepEqual(warnings, []);
  });
  test('nothing to check: no listener at all', () => {
    const events = new Emitter<TunnelEvent>();
    watchGatewayPorts({ events }, spec([{ kind: 'remote', bindAddress: 'localhost', bindPort: 1, targetHost: 'x', targetPort: 2 }]), async () => assert.fail('probed'), () => assert.fail('warned'));
    events.emit(up());
  });
});

function fakeSsh(): SshProcess & { exit(e: SshExit): void; killed: string[] } {
  const exits: Array<(e: SshExit) => void> = [];
  const killed: string[] = [];
  return { pid: 42, onLine: () => {}, onExit: (l) => exits.push(l), kill: (s) => killed.push(s), exit: (e) => exits.forEach((l) => l(e)), killed };
}

describe('a step before ssh starts', () => {
  test('a failed step is a line and an exit, and ssh never starts', async () => {
    let spawned = 0;
    const p = spawnAfter(async () => 'autotunnel: the passphrase does not open /k', () => (spawned++, fakeSsh()))([]);
    const lines: string[] = [];
    const exit = new Promise<SshExit>((r) => p.onExit(r));
    p.onLine((l) => lines.push(l));
    assert.deepEqual(await exit, { code: 1, signal: null });
    assert.deepEqual(lines, ['autotunnel: the passphrase does not open /k']);
    assert.equal(spawned, 0);
  });
  test('a stop during the step ends the attempt at once; ssh is not started afterwards', async () => {
    let release!: () => void;
    let spawned = 0;
    const p = spawnAfter(() => new Promise((r) => (release = () => r(undefined))), () => (spawned++, fakeSsh()))([]);
    const exit = new Promise<SshExit>((r) => p.onExit(r));
    p.kill('SIGTERM');
    assert.deepEqual(await exit, { code: null, signal: 'SIGTERM' });
    release();
    await flush();
    assert.equal(spawned, 0);
  });
  test('after the step, ssh runs: its pid, lines and exit are the process\'s', async () => {
    const ssh = fakeSsh();
    const p = spawnAfter(async () => undefined, () => ssh)(['-N']);
    assert.equal(p.pid, undefined, 'no pid before ssh runs');
    await flush();
    assert.equal(p.pid, 42);
    const exit = new Promise<SshExit>((r) => p.onExit(r));
    p.kill('SIGTERM');
    assert.deepEqual(ssh.killed, ['SIGTERM']);
    ssh.exit({ code: 255, signal: null });
    assert.deepEqual(await exit, { code: 255, signal: null });
  });
});
