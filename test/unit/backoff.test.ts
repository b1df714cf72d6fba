/** retryDelayMs: the pure delay table. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DROP_MIN_MS, DROP_SPREAD_MS, PENALTY_RETRY_MS, retryDelayMs } from '../../src/supervisor/backoff.js';
import { DEFAULT_BACKOFF } from '../../src/config/spec.js';
import { makeCause } from '../../src/ssh/causes.js';

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
