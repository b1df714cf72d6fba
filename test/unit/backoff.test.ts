/** retryDelayMs: the wait before the next attempt, for each kind of failure, as tables. */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKOFF, type BackoffSpec } from '../../src/config/spec.js';
import { makeCause, type CauseCode } from '../../src/ssh/causes.js';
import { DROP_MIN_MS, DROP_SPREAD_MS, PENALTY_RETRY_MS, retryDelayMs } from '../../src/supervisor/backoff.js';

// DEFAULT_BACKOFF: 200 ms doubling to a 30 s cap, ±20 % jitter. random 0.5 means no jitter
// (except for permanent causes, whose jitter only ever shortens the cap).
const rows: Array<{ why: string; code: CauseCode; failures: number; wasUp?: boolean; random?: number; policy?: Partial<BackoffSpec>; ms: number }> = [
  { why: 'first failure after being up: at once', code: 'killed', failures: 1, wasUp: true, ms: 0 },
  { why: 'first failure, never up: the initial delay', code: 'connection_refused', failures: 1, ms: 200 },
  { why: 'exponential', code: 'connection_refused', failures: 2, ms: 400 },
  { why: 'exponential, even after a brief up', code: 'killed', failures: 3, wasUp: true, ms: 800 },
  { why: 'capped at max', code: 'connection_refused', failures: 20, ms: 30_000 },
  { why: 'jitter low end (random 0 → -20 %)', code: 'connection_refused', failures: 2, random: 0, ms: 320 },
  { why: 'jitter high end (random → 1 → +20 %)', code: 'connection_refused', failures: 2, random: 0.999_999, ms: 480 },
  { why: 'a permanent cause waits the cap at once', code: 'permission_denied', failures: 1, random: 0, ms: 30_000 },
  { why: 'a permanent cause: jitter only shortens the cap', code: 'host_key_changed', failures: 1, random: 1, ms: 24_000 },
  { why: 'a stalled connect is restarted at once', code: 'connect_stalled', failures: 5, ms: 0 },
  { why: 'a requested retry happens at once', code: 'retry_requested', failures: 5, ms: 0 },
  { why: 'a taken -R port looks again within 1 s, whatever the count', code: 'remote_forward_failed', failures: 10, ms: 1_000 },
  { why: 'a taken -R port below its cap: exponential as usual', code: 'remote_forward_failed', failures: 2, ms: 400 },
  { why: 'the policy\'s own lower cap wins over the cause\'s', code: 'remote_forward_failed', failures: 10, policy: { maxMs: 500 }, ms: 500 },
];

describe('retryDelayMs', () => {
  for (const r of rows) {
    test(`${r.why}: ${r.code} × ${r.failures} → ${r.ms} ms`, () => {
      const delay = retryDelayMs({
        failures: r.failures,
        wasUp: r.wasUp ?? false,
        cause: makeCause(r.code, 'test'),
        policy: { ...DEFAULT_BACKOFF, ...r.policy },
        random: r.random ?? 0.5,
      });
      assert.equal(delay, r.ms);
    });
  }
});

const policy = { ...DEFAULT_BACKOFF };
const dropped = makeCause('connection_dropped', 'dropped before the banner');

describe('retryDelayMs: connections dropped before the banner', () => {
  it('a random wait from 0.1 s, its spread doubling with each drop in a row, capped at 8×', () => {
    const table: Array<[number, number, number]> = [
      [1, 0, DROP_MIN_MS], [1, 0.5, DROP_MIN_MS + DROP_SPREAD_MS / 2], [2, 0.5, DROP_MIN_MS + DROP_SPREAD_MS], [4, 0.5, DROP_MIN_MS + 4 * DROP_SPREAD_MS], [10, 0.5, DROP_MIN_MS + 4 * DROP_SPREAD_MS],
    ];
    for (const [drops, random, expected] of table) {
      assert.equal(retryDelayMs({ failures: 1, wasUp: false, cause: dropped, policy, random, drops }), expected, `${drops} drops, random ${random}`);
    }
  });
  it('the exponent of other failures plays no part', () => {
    assert.equal(retryDelayMs({ failures: 9, wasUp: false, cause: dropped, policy, random: 0, drops: 1 }), DROP_MIN_MS);
  });
});

describe('retryDelayMs: a penalised address', () => {
  it('looks every 5 s ± jitter, never past the policy cap', () => {
    const penalty = makeCause('server_penalty', 'penalised');
    assert.equal(retryDelayMs({ failures: 1, wasUp: false, cause: penalty, policy, random: 0.5 }), PENALTY_RETRY_MS);
    assert.equal(retryDelayMs({ failures: 1, wasUp: false, cause: penalty, policy: { ...policy, maxMs: 2_000 }, random: 0.5 }), 2_000);
  });
});
