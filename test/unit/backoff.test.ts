/** retryDelayMs: the wait before the next attempt, for each kind of failure, as a table. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKOFF, type BackoffSpec } from '../../src/config/spec.js';
import { makeCause, type CauseCode } from '../../src/ssh/causes.js';
import { retryDelayMs } from '../../src/supervisor/backoff.js';

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
