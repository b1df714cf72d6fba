/** Which cure for a stale -R port applies, and the exact ss command it runs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { staleListenerCure } from '../../src/adapters/orphan-connections.js';

const NET_ADMIN = 1n << 12n;

describe('staleListenerCure', () => {
  it('with CAP_NET_ADMIN and ss: aborts the orphans to that server in the states that still owe it a packet', () => {
    const runs: Array<[string, string[]]> = [];
    const cure = staleListenerCure({ capEff: NET_ADMIN | 1n, ss: '/usr/bin/ss' }, (f, a) => runs.push([f, a]));
    assert.equal(cure.kind, 'abort');
    if (cure.kind !== 'abort') return;
    cure.abort('192.0.2.7', 2222);
    cure.abort('2001:db8::1', 22);
    assert.deepEqual(runs, [
      ['/usr/bin/ss', ['-K', '-tn', 'state', 'fin-wait-1', 'state', 'closing', 'state', 'last-ack', 'dst', '192.0.2.7', 'dport', '=', ':2222']],
      ['/usr/bin/ss', ['-K', '-tn', 'state', 'fin-wait-1', 'state', 'closing', 'state', 'last-ack', 'dst', '[2001:db8::1]', 'dport', '=', ':22']],
    ]);
    assert.match(cure.says, /freed as soon as the link returns/);
  });

  it('otherwise it says how to enable either, naming what is missing', () => {
    const none = staleListenerCure({ capEff: 0n, ss: '/usr/bin/ss', root: true });
    assert.equal(none.kind, 'none');
    assert.match(none.says, /no CAP_NET_ADMIN/);
    assert.match(none.says, /cap_add: \[NET_ADMIN\]/);
    assert.match(none.says, /ClientAliveInterval/);
    const nonRoot = staleListenerCure({ capEff: 0n, ss: '/usr/bin/ss', root: false });
    assert.doesNotMatch(nonRoot.says, /cap_add/, 'a non-root user gets no added capability: not offered');
    assert.match(nonRoot.says, /ClientAliveInterval.*server-setup/);
    const noSs = staleListenerCure({ capEff: NET_ADMIN });
    assert.equal(noSs.kind, 'none');
    assert.match(noSs.says, /ss is not installed/);
  });
});
