/**
 * Per-tunnel control: the HTTP endpoint's refusals (no token, wrong token, unknown action) and
 * TunnelControl's stop/start/restart with reloads, on the fakes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { controlReply, type ControlEndpoint } from '../../src/observe/control-api.js';
import { tokenMatches } from '../../src/config/control-settings.js';
import { TunnelControl, type ControlAction } from '../../src/supervisor/control.js';
import { Supervisor, type Supervised } from '../../src/supervisor/supervisor.js';
import type { TunnelSpec } from '../../src/config/spec.js';
import { FakeClock, FakeSpawner, REMOTE_4000_OK, fakeTunnel, testSpec, REMOTE_4000 } from './fakes.js';

describe('controlReply', () => {
  const calls: Array<[string, ControlAction]> = [];
  const endpoint: ControlEndpoint = {
    token: 's3cret',
    act: async (name, action) => {
      calls.push([name, action]);
      return name === 'db' ? { status: 200, message: `${name} ${action}`, state: 'up' } : { status: 404, message: `no tunnel named "${name}"` };
    },
  };

  test('not a control path: left to the read-only routes', async () => {
    assert.equal(await controlReply('/api/tunnels', 'Bearer s3cret', endpoint), undefined);
  });

  test('control off: 403 saying how to turn it on', async () => {
    const r = await controlReply('/api/tunnels/db/stop', 'Bearer s3cret', undefined);
    assert.equal(r?.status, 403);
    assert.match(String(r?.body.error), /control is turned off: set AUTOTUNNEL_CONTROL_TOKEN_FILE/);
  });

  test('no token 401 (with a Bearer challenge), wrong token 403, and nothing is done', async () => {
    calls.length = 0;
    const none = await controlReply('/api/tunnels/db/stop', undefined, endpoint);
    assert.equal(none?.status, 401);
    assert.equal(none?.headers?.['www-authenticate'], 'Bearer realm="autotunnel"');
    assert.equal((await controlReply('/api/tunnels/db/stop', 'Basic czNjcmV0', endpoint))?.status, 401);
    assert.equal((await controlReply('/api/tunnels/db/stop', 'Bearer s3cre', endpoint))?.status, 403);
    assert.equal((await controlReply('/api/tunnels/db/stop', 'Bearer s3cret-and-more', endpoint))?.status, 403);
    assert.deepEqual(calls, []);
  });

  test('the right token acts; an unknown action or tunnel is 404', async () => {
    calls.length = 0;
    assert.deepEqual(await controlReply('/api/tunnels/db/restart', 'Bearer s3cret', endpoint), { status: 200, body: { ok: true, tunnel: 'db', action: 'restart', message: 'db restart', state: 'up' } });
    assert.equal((await controlReply('/api/tunnels/db/explode', 'Bearer s3cret', endpoint))?.status, 404);
    assert.deepEqual(await controlReply('/api/tunnels/nope/stop', 'bearer s3cret', endpoint), { status: 404, body: { error: 'no tunnel named "nope"' } });
    assert.deepEqual(calls, [['db', 'restart'], ['nope', 'stop']]);
  });

  test('tokenMatches: equal strings only, whatever their lengths', () => {
    assert.equal(tokenMatches('abc', 'abc'), true);
    assert.equal(tokenMatches('abc', 'abd'), false);
    assert.equal(tokenMatches('', 'abc'), false);
    assert.equal(tokenMatches('abc'.repeat(100), 'abc'), false);
  });
});

describe('TunnelControl', () => {
  function world() {
    const clock = new FakeClock();
    const spawner = new FakeSpawner();
    const build = (s: TunnelSpec): Supervised => ({ tunnel: fakeTunnel(s.name, clock, spawner, s), cleanup: () => undefined });
    const supervisor = new Supervisor(clock);
    const control = new TunnelControl(supervisor, build);
    const specA = (over: Partial<TunnelSpec> = {}) => testSpec('a', [REMOTE_4000], { user: 'deploy', host: 'bastion', port: 22 }, over);
    const up = async (name: string) => {
      spawner.spawned.filter((p) => !p.exited).forEach((p) => p.say(REMOTE_4000_OK));
      await clock.advance(0);
      assert.equal(supervisor.get(name)?.state, 'up');
    };
    return { clock, spawner, build, supervisor, control, specA, up };
  }

  test('stop keeps it stopped through a reload that does not change it; start brings it back with a new ssh', async () => {
    const w = world();
    await w.supervisor.reconcile([w.specA()], w.build);
    w.supervisor.startAll();
    await w.up('a');
    const stop = await w.control.act('a', 'stop');
    assert.equal(stop.status, 200);
    assert.equal(w.supervisor.get('a')?.state, 'stopped');
    assert.deepEqual(w.spawner.last.kills, ['SIGTERM']);
    assert.equal((await w.control.act('a', 'stop')).message, 'a is already stopped');

    const r = await w.supervisor.reconcile([w.specA()], w.build);
    assert.deepEqual(r.unchanged, ['a']);
    await w.clock.advance(60_000);
    assert.equal(w.supervisor.get('a')?.state, 'stopped', 'still stopped after an unchanged reload');
    assert.equal(w.spawner.spawned.length, 1);

    assert.equal((await w.control.act('a', 'start')).status, 200);
    assert.equal(w.spawner.spawned.length, 2);
    await w.up('a');
    assert.equal((await w.control.act('a', 'start')).message, 'a is already running (up)');
  });

  test('a reload that changes a stopped tunnel runs the new definition', async () => {
    const w = world();
    await w.supervisor.reconcile([w.specA()], w.build);
    w.supervisor.startAll();
    await w.control.act('a', 'stop');
    const r = await w.supervisor.reconcile([w.specA({ connectTimeoutSec: 20 })], w.build);
    assert.deepEqual(r.changed, ['a']);
    assert.equal(w.supervisor.get('a')?.state, 'connecting');
  });

  test('enabled: false is "disabled" and never spawns; start runs it (still defined as disabled), restart restarts a running ssh', async () => {
    const w = world();
    await w.supervisor.reconcile([w.specA({ enabled: false })], w.build);
    w.supervisor.startAll();
    assert.equal(w.supervisor.get('a')?.state, 'disabled');
    assert.equal(w.spawner.spawned.length, 0);
    await w.control.act('a', 'start');
    await w.up('a');
    assert.equal(w.supervisor.get('a')?.spec.enabled, false, 'the running tunnel keeps its configured spec, so an unchanged reload leaves it');
    assert.deepEqual((await w.supervisor.reconcile([w.specA({ enabled: false })], w.build)).unchanged, ['a']);
    const first = w.spawner.last;
    assert.equal((await w.control.act('a', 'restart')).status, 200);
    assert.deepEqual(first.kills, ['SIGTERM']);
    await w.clock.advance(1_000);
    assert.equal(w.spawner.spawned.length, 2, 'a new ssh');
  });

  test('an unknown name is 404 with the names there are', async () => {
    const w = world();
    await w.supervisor.reconcile([w.specA()], w.build);
    assert.deepEqual(await w.control.act('b', 'restart'), { status: 404, message: 'no tunnel named "b"; the tunnels are: a' });
  });
});
