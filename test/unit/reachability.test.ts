/** The shared watch of a server that does not answer: cadence, scout election, stall limit. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scoutDelayMs, ServerWatch, STALL_DEFAULT_MS, STALL_MAX_MS, STALL_MIN_MS, tcpLevelFailure } from '../../src/supervisor/reachability.js';
import { makeCause } from '../../src/ssh/causes.js';

describe('scoutDelayMs', () => {
  it('50 ms in the first second, 100 ms up to 3 s, then 250 ms; ±20 %', () => {
    const table: Array<[number, number, number]> = [
      [0, 0.5, 50], [999, 0.5, 50], [1_000, 0.5, 100], [2_999, 0.5, 100], [3_000, 0.5, 250], [3_600_000, 0.5, 250],
      [0, 0, 40], [0, 0.999999, 60], [10_000, 0, 200], [10_000, 0.999999, 300],
    ];
    for (const [outage, random, expected] of table) assert.equal(scoutDelayMs(outage, random), expected, `${outage} ms, random ${random}`);
  });
});

describe('ServerWatch', () => {
  it('the first tunnel to find the server down looks; the others wait and are all woken when it answers', () => {
    let now = 0;
    const w = new ServerWatch({ now: () => now });
    const [a, b, c] = [{}, {}, {}];
    const woken: string[] = [];
    assert.equal(w.unreachable(a, () => woken.push('a'), 0.5), 50);
    assert.equal(w.unreachable(b, (why) => woken.push(`b:${why}`), 0.5), 'wait');
    assert.equal(w.unreachable(c, (why) => woken.push(`c:${why}`), 0.5), 'wait');
    now = 5_000;
    assert.equal(w.unreachable(a, () => woken.push('a'), 0.5), 250, 'the cadence follows the outage, not the attempts');
    assert.equal(w.outageMs(), 5_000);
    w.answered(10);
    assert.deepEqual(woken, ['b:answered', 'c:answered']);
    assert.equal(w.outageMs(), 0);
  });

  it("a scout that leaves hands its role to the first waiting tunnel; one that stops waiting is not woken", () => {
    const w = new ServerWatch({ now: () => 0 });
    const [a, b, c] = [{}, {}, {}];
    const woken: string[] = [];
    w.unreachable(a, () => woken.push('a'), 0.5);
    w.unreachable(b, (why) => woken.push(`b:${why}`), 0.5);
    w.unreachable(c, (why) => woken.push(`c:${why}`), 0.5);
    w.stopWaiting(b);
    w.leave(a);
    assert.deepEqual(woken, ['c:scout']);
    assert.equal(typeof w.unreachable(c, () => {}, 0.5), 'number', 'c is the scout now');
  });

  it('the stall limit is 4 connect times, within 0.5–3 s, and 1 s before any', () => {
    const w = new ServerWatch({ now: () => 0 });
    assert.equal(w.stallAfterMs(), STALL_DEFAULT_MS);
    w.answered(1);
    assert.equal(w.stallAfterMs(), STALL_MIN_MS);
    w.answered(2_000);
    w.answered(2_000);
    w.answered(2_000);
    assert.equal(w.stallAfterMs(), STALL_MAX_MS);
  });
});

describe('tcpLevelFailure', () => {
  it('refused, unreachable, stalled and connect timeouts; not a timeout in the banner exchange', () => {
    assert.equal(tcpLevelFailure(makeCause('connection_refused', '')), true);
    assert.equal(tcpLevelFailure(makeCause('no_route', '')), true);
    assert.equal(tcpLevelFailure(makeCause('connect_stalled', '')), true);
    assert.equal(tcpLevelFailure(makeCause('connect_timeout', '', { line: 'ssh: connect to host h port 22: Connection timed out' })), true);
    assert.equal(tcpLevelFailure(makeCause('connect_timeout', '', { line: 'Connection timed out during banner exchange' })), false);
    assert.equal(tcpLevelFailure(makeCause('connection_dropped', '')), false);
  });
});
