/**
 * Reading the target's health from ssh -v: the real captures of test/fixtures/ssh-stderr
 * (target-*.txt, recorded with test/harness/record-ssh-stderr.ts --targets), and the rule that
 * only lines read while a tunnel is up are trusted.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseSshLine } from '../../src/ssh/stderr.js';
import { TargetLineReader, type TargetLine } from '../../src/ssh/target-lines.js';
import { watchTargets } from '../../src/observe/target-health.js';
import { Emitter, type TargetReport, type TunnelEvent, type TunnelState } from '../../src/supervisor/events.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'ssh-stderr');

function verdicts(fixture: string): TargetLine[] {
  const reader = new TargetLineReader();
  const out: TargetLine[] = [];
  for (const raw of readFileSync(join(FIXTURES, `${fixture}.txt`), 'utf8').split('\n')) {
    const v = reader.read(parseSshLine(raw).text);
    if (v) out.push(v);
  }
  return out;
}

describe('TargetLineReader on real ssh -v captures', () => {
  for (const kind of ['local', 'dynamic', 'remote']) {
    test(`${kind}: a connection that reaches its target is one "ok", and nothing else`, () => {
      assert.deepEqual(verdicts(`target-${kind}-reached`), [{ ok: true }]);
    });
    test(`${kind}: a refused target is one failure with the reason, and its channel's end is not taken for success`, () => {
      const v = verdicts(`target-${kind}-refused`);
      assert.equal(v.length, 1, JSON.stringify(v));
      assert.equal(v[0]!.ok, false);
      assert.match((v[0] as { summary: string }).summary, /\(connection refused\)$/);
    });
  }

  test('-R names the target and keeps the reason of the line before', () => {
    const [v] = verdicts('target-remote-refused');
    assert.match((v as { summary: string }).summary, /^the target 127\.0\.0\.1:\d+ could not be reached from here \(connection refused\)$/);
    assert.match((v as { line: string }).line, /^connect_to 127\.0\.0\.1 port \d+: failed\.$/);
  });

  test('a server that may not open connections: the reason as ssh gives it', () => {
    const r = new TargetLineReader();
    assert.deepEqual(r.read('channel 3: open failed: administratively prohibited: open failed'), {
      ok: false,
      summary: 'the server could not reach the target (administratively prohibited: open failed)',
      line: 'channel 3: open failed: administratively prohibited: open failed',
    });
  });
});

describe('watchTargets', () => {
  const FAIL = 'channel 1: open failed: connect failed: Connection refused';
  const FREE = (n: number) => `channel ${n}: free: direct-tcpip: listening port 5432 for db port 5432, connect from 127.0.0.1 port 50000 to 127.0.0.1 port 5432, nchannels 2`;

  function setup() {
    const events = new Emitter<TunnelEvent>();
    const reports: TargetReport[] = [];
    events.on((e) => e.type === 'target' && reports.push(e));
    watchTargets(events, () => 1000);
    const state = (to: TunnelState) => events.emit({ type: 'state', tunnel: 'db', at: 0, from: 'starting', to, attempt: 1 });
    const ssh = (line: string) => events.emit({ type: 'ssh', tunnel: 'db', at: 0, line, debug: false });
    return { reports, state, ssh };
  }

  test('lines before the tunnel is up are not trusted: the peer could have provoked them before the host key was verified', () => {
    const { reports, state, ssh } = setup();
    state('connecting');
    ssh(FAIL);
    ssh('connect_to 10.0.0.1 port 80: failed.');
    assert.deepEqual(reports, []);
    state('up');
    ssh(FAIL);
    assert.equal(reports.length, 1);
  });

  test('every failure is reported, "changed" only on the first and on the way back; repeated successes are quiet', () => {
    const { reports, state, ssh } = setup();
    state('connecting');
    state('up');
    ssh(FREE(1));
    ssh(FREE(2));
    ssh(FAIL);
    ssh(FREE(1));
    ssh(FAIL);
    ssh(FREE(1));
    ssh(FREE(2));
    ssh(FREE(3));
    assert.deepEqual(reports.map((r) => [r.ok, r.changed]), [[true, false], [false, true], [false, false], [true, true]]);
  });

  test('after the tunnel goes down, nothing is read until it is up again', () => {
    const { reports, state, ssh } = setup();
    state('up');
    state('backoff');
    ssh(FAIL);
    assert.deepEqual(reports, []);
  });
});
