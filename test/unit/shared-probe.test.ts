/** sharedProbe: many tunnels waiting on one server send it one probe at a time, not one each. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedProbe, SHARED_PROBE_MAX_AGE_MS } from '../../src/adapters/shared-probe.js';

function counting() {
  const calls: string[] = [];
  let answer = false;
  return {
    calls,
    set: (ok: boolean) => (answer = ok),
    probe: (host: string, port: number) => {
      calls.push(`${host}:${port}`);
      return Promise.resolve(answer);
    },
  };
}

describe('sharedProbe', () => {
  it('100 tunnels asking about one server within the window: one probe, the same answer for all', async () => {
    let t = 1_000;
    const c = counting();
    const probe = sharedProbe(c.probe, { now: () => t });
    const answers = await Promise.all(Array.from({ length: 100 }, () => probe('db', 22, 1000)));
    assert.equal(c.calls.length, 1);
    assert.deepEqual(new Set(answers), new Set([false]));
    t += SHARED_PROBE_MAX_AGE_MS - 1;
    await probe('db', 22, 1000);
    assert.equal(c.calls.length, 1, 'still fresh');
  });

  it('an older result is not reused: the server may be back', async () => {
    let t = 1_000;
    const c = counting();
    const probe = sharedProbe(c.probe, { now: () => t });
    assert.equal(await probe('db', 22, 1000), false);
    c.set(true);
    t += SHARED_PROBE_MAX_AGE_MS;
    assert.equal(await probe('db', 22, 1000), true);
    assert.equal(c.calls.length, 2);
  });

  it('different servers (or ports) are probed separately', async () => {
    const c = counting();
    const probe = sharedProbe(c.probe, { now: () => 0 });
    await Promise.all([probe('a', 22, 1000), probe('b', 22, 1000), probe('a', 2222, 1000), probe('a', 22, 1000)]);
    assert.deepEqual(c.calls.sort(), ['a:22', 'a:2222', 'b:22']);
  });
});
