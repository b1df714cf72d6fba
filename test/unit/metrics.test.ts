/** /metrics: the Prometheus text format, its naming conventions, and values from the state store. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeCause } from '../../src/ssh/causes.js';
import type { TunnelState } from '../../src/supervisor/events.js';
import { renderMetrics } from '../../src/observe/metrics.js';
import { StateStore } from '../../src/observe/state-store.js';
import { parseExposition } from './exposition.js';

const T0 = 1_800_000_000_000;

function storeWithHistory() {
  const clock = { t: T0 };
  const store = new StateStore({
    now: () => clock.t,
    initial: [
      { name: 'db', required: true, state: 'starting', since: T0 },
      { name: 'we"ird\\name', required: false, state: 'starting', since: T0 },
    ],
    lookup: () => undefined,
  });
  let from: TunnelState = 'starting';
  const go = (dt: number, to: TunnelState, extra = {}) => {
    clock.t += dt;
    store.apply({ type: 'state', tunnel: 'db', at: clock.t, from, to, attempt: 1, ...extra });
    from = to;
  };
  go(0, 'connecting');
  go(80, 'up', { connectMs: 80 });
  go(5_000, 'backoff', { cause: makeCause('killed', 'ssh was killed by SIGKILL'), delayMs: 0 });
  go(0, 'connecting');
  go(1_500, 'up', { connectMs: 1_500 });
  go(5_000, 'backoff', { cause: makeCause('connection_refused', 'refused'), delayMs: 400 });
  go(400, 'connecting');
  go(10, 'backoff', { cause: makeCause('connection_refused', 'refused'), delayMs: 800 });
  return { store, clock };
}

const BUILD = { version: '1.2.3', node: 'v20.19.0' };
const PROC = { startTimeSeconds: 1_799_999_000.5, residentMemoryBytes: 50_000_000 };

describe('renderMetrics', () => {
  const { store } = storeWithHistory();
  const text = renderMetrics(store.snapshot(), BUILD, PROC);
  const { samples, types } = parseExposition(text);
  const value = (name: string, labels: Record<string, string>) => {
    const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    assert.equal(hits.length, 1, `exactly one ${name}${JSON.stringify(labels)}`);
    return hits[0]!.value;
  };

  test('follows Prometheus naming: a prefix, _total counters, base units, no default process clutter', () => {
    for (const [name, type] of types) {
      assert.match(name, /^(autotunnel_|process_)/);
      if (type === 'counter') assert.match(name, /_total$/);
      if (type === 'histogram') assert.match(name, /_seconds$/);
    }
    assert.deepEqual([...types.keys()].filter((n) => n.startsWith('process_')).sort(), ['process_resident_memory_bytes', 'process_start_time_seconds']);
    assert.equal(types.get('autotunnel_tunnel_restarts_total'), 'counter');
    assert.equal(types.get('autotunnel_tunnel_connect_duration_seconds'), 'histogram');
  });

  test('build info, readiness, up, required', () => {
    assert.equal(value('autotunnel_build_info', { version: '1.2.3', node: 'v20.19.0' }), 1);
    assert.equal(value('autotunnel_ready', {}), 0);
    assert.equal(value('autotunnel_tunnel_up', { tunnel: 'db' }), 0);
    assert.equal(value('autotunnel_tunnel_required', { tunnel: 'db' }), 1);
    assert.equal(value('autotunnel_tunnel_required', { tunnel: 'we"ird\\name' }), 0, 'label values are escaped and read back');
  });

  test('state: 1 for the current state, 0 for every other', () => {
    const states = samples.filter((s) => s.name === 'autotunnel_tunnel_state' && s.labels.tunnel === 'db');
    assert.equal(states.length, 7);
    assert.deepEqual(states.filter((s) => s.value === 1).map((s) => s.labels.state), ['backoff']);
  });

  test('restarts by cause', () => {
    assert.equal(value('autotunnel_tunnel_restarts_total', { tunnel: 'db', cause: 'killed' }), 1);
    assert.equal(value('autotunnel_tunnel_restarts_total', { tunnel: 'db', cause: 'connection_refused' }), 2);
    assert.equal(samples.filter((s) => s.name === 'autotunnel_tunnel_restarts_total' && s.labels.tunnel === 'we"ird\\name').length, 0);
  });

  test('connect duration histogram: cumulative buckets, +Inf equals the count, sum in seconds', () => {
    const buckets = samples.filter((s) => s.name === 'autotunnel_tunnel_connect_duration_seconds_bucket' && s.labels.tunnel === 'db');
    const les = buckets.map((b) => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
    assert.deepEqual(les, [...les].sort((a, b) => a - b), 'le ascending');
    assert.equal(les.at(-1), Infinity);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative');
    assert.equal(value('autotunnel_tunnel_connect_duration_seconds_bucket', { tunnel: 'db', le: '0.1' }), 1);
    assert.equal(value('autotunnel_tunnel_connect_duration_seconds_bucket', { tunnel: 'db', le: '1' }), 1);
    assert.equal(value('autotunnel_tunnel_connect_duration_seconds_bucket', { tunnel: 'db', le: '2.5' }), 2);
    assert.equal(value('autotunnel_tunnel_connect_duration_seconds_bucket', { tunnel: 'db', le: '+Inf' }), 2);
    assert.equal(value('autotunnel_tunnel_connect_duration_seconds_count', { tunnel: 'db' }), 2);
    assert.equal(value('autotunnel_tunnel_connect_duration_seconds_sum', { tunnel: 'db' }), 1.58);
  });

  test('last state change (Unix seconds) and the current backoff', () => {
    assert.equal(value('autotunnel_tunnel_last_state_change_timestamp_seconds', { tunnel: 'db' }), (T0 + 80 + 5_000 + 1_500 + 5_000 + 400 + 10) / 1000);
    assert.equal(value('autotunnel_tunnel_backoff_seconds', { tunnel: 'db' }), 0.8);
    assert.equal(value('autotunnel_tunnel_backoff_seconds', { tunnel: 'we"ird\\name' }), 0, 'not waiting: 0');
  });

  test('process facts are passed through', () => {
    assert.equal(value('process_start_time_seconds', {}), 1_799_999_000.5);
    assert.equal(value('process_resident_memory_bytes', {}), 50_000_000);
  });

  test('up again: up 1, backoff 0, ready', () => {
    const { store: s, clock } = storeWithHistory();
    clock.t += 800;
    s.apply({ type: 'state', tunnel: 'db', at: clock.t, from: 'backoff', to: 'connecting', attempt: 4 });
    s.apply({ type: 'state', tunnel: 'db', at: clock.t + 100, from: 'connecting', to: 'up', attempt: 4, connectMs: 100 });
    const again = parseExposition(renderMetrics(s.snapshot(), BUILD, PROC)).samples;
    const get = (name: string) => again.find((x) => x.name === name && (x.labels.tunnel ?? 'db') === 'db')!.value;
    assert.equal(get('autotunnel_tunnel_up'), 1);
    assert.equal(get('autotunnel_tunnel_backoff_seconds'), 0);
    assert.equal(get('autotunnel_ready'), 1);
  });
});
