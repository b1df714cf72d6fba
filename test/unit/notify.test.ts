/** When notifications are sent and what they say: the Notifier on the fake clock, the formats, the settings. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Notifier, renderNotification, type Notification } from '../../src/observe/notify.js';
import { parseNotifyEnv, redactUrl, type NotifyReceiver } from '../../src/config/notify-settings.js';
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { makeCause } from '../../src/ssh/causes.js';
import type { TunnelState } from '../../src/supervisor/events.js';
import { FakeClock } from './fakes.js';

const receiver = (afterMs: number, origin = 'notify[0].url'): NotifyReceiver => ({ url: 'http://hooks.example/x', format: 'json', afterMs, origin });
const REFUSED = makeCause('connection_refused', 'the server refused the connection');

function setup(receivers: NotifyReceiver[]) {
  const clock = new FakeClock();
  const sent: Array<{ to: string; n: Notification }> = [];
  const notifier = new Notifier({ receivers, clock, deliver: (r, n) => sent.push({ to: r.origin, n }) });
  const go = (to: TunnelState, extra: { cause?: typeof REFUSED } = {}) => notifier.apply({ type: 'state', tunnel: 'db', at: clock.now(), from: 'up', to, attempt: 1, ...extra });
  return { clock, sent, notifier, go };
}

describe('Notifier', () => {
  test('a blip shorter than "after" sends nothing, ever', async () => {
    const { clock, sent, go } = setup([receiver(30_000)]);
    go('connecting');
    go('up');
    await clock.advance(5_000);
    go('backoff', { cause: REFUSED });
    await clock.advance(29_000);
    go('connecting');
    go('up');
    await clock.advance(120_000);
    assert.deepEqual(sent, []);
  });

  test('"down" once down for "after", with the cause and how long it had been up; "back up" with how long it was down', async () => {
    const { clock, sent, go } = setup([receiver(30_000)]);
    go('connecting');
    go('up');
    await clock.advance(60_000);
    go('backoff', { cause: REFUSED });
    await clock.advance(10_000);
    go('connecting');
    go('backoff', { cause: REFUSED });
    await clock.advance(20_000);
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]!.n, { kind: 'down', tunnel: 'db', at: clock.now(), downForMs: 30_000, cause: REFUSED, upForMs: 60_000 });
    await clock.advance(15_000);
    go('up');
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[1]!.n, { kind: 'up', tunnel: 'db', at: clock.now(), downForMs: 45_000, cause: REFUSED });
  });

  test('each receiver has its own "after"; "back up" goes only to those told "down"', async () => {
    const { clock, sent, go } = setup([receiver(10_000, 'fast'), receiver(60_000, 'slow')]);
    go('connecting');
    go('up');
    go('backoff', { cause: REFUSED });
    await clock.advance(20_000);
    go('up');
    await clock.advance(120_000);
    assert.deepEqual(sent.map((s) => [s.to, s.n.kind]), [['fast', 'down'], ['fast', 'up']]);
  });

  test('never up since start counts as down from the first attempt', async () => {
    const { clock, sent, go } = setup([receiver(30_000)]);
    go('connecting');
    await clock.advance(30_000);
    assert.equal(sent[0]!.n.kind, 'down');
    assert.equal(sent[0]!.n.upForMs, undefined);
  });

  test('stopped on request, disabled or shutting down: the pending "down" is dropped', async () => {
    for (const held of ['stopping', 'stopped', 'disabled'] as const) {
      const { clock, sent, go } = setup([receiver(30_000)]);
      go('connecting');
      go(held);
      await clock.advance(60_000);
      assert.deepEqual(sent, [], held);
      assert.equal(clock.pending(), 0, `no timer left after ${held}`);
    }
  });
});

describe('renderNotification', () => {
  const down: Notification = { kind: 'down', tunnel: 'db', at: Date.parse('2026-11-30T12:00:00Z'), downForMs: 31_500, upForMs: 3_600_000, cause: { ...REFUSED, hint: 'start sshd' } };

  test('json: tunnel, state, cause, fix, durations, time, host, and the sentence', () => {
    const m = renderNotification(down, 'json', 'box');
    assert.equal(m.contentType, 'application/json');
    assert.deepEqual(JSON.parse(m.body), {
      tunnel: 'db',
      state: 'down',
      cause: 'connection_refused',
      summary: 'the server refused the connection',
      fix: 'start sshd',
      downSeconds: 31.5,
      upSeconds: 3600,
      time: '2026-11-30T12:00:00.000Z',
      host: 'box',
      text: 'autotunnel on box: tunnel db is down (for 31s): the server refused the connection. Fix: start sshd',
    });
  });

  test('text: one plain sentence; slack: {"text": …} and nothing else', () => {
    const up: Notification = { kind: 'up', tunnel: 'db', at: 0, downForMs: 95_000, cause: REFUSED };
    assert.deepEqual(renderNotification(up, 'text', 'box'), { contentType: 'text/plain; charset=utf-8', body: 'autotunnel on box: tunnel db is back up after 1m 35s down (the server refused the connection).\n' });
    assert.deepEqual(JSON.parse(renderNotification(down, 'slack', 'box').body), { text: 'autotunnel on box: tunnel db is down (for 31s): the server refused the connection. Fix: start sshd' });
  });
});

describe('notification settings', () => {
  test('redactUrl: scheme, host, port and the first path segment; never user, password, the rest of the path, query or fragment', () => {
    assert.equal(redactUrl('https://hooks.slack.com/services/T00/B00/XXXXSECRET'), 'https://hooks.slack.com/services/…');
    assert.equal(redactUrl('https://user:pass@ntfy.example:8443/topic?auth=SECRET#x'), 'https://ntfy.example:8443/topic/…');
    assert.equal(redactUrl('http://127.0.0.1:9000/hook'), 'http://127.0.0.1:9000/hook');
    assert.equal(redactUrl('http://127.0.0.1:9000'), 'http://127.0.0.1:9000');
    assert.equal(redactUrl('nonsense'), '(an invalid URL)');
  });

  test('AUTOTUNNEL_NOTIFY_*: defaults json and 30 s; the URL from a file; every problem at once, the URL never echoed', () => {
    const read = (p: string) => (p === '/run/secrets/hook' ? 'https://h.example/x/SECRET\n' : p === '/empty' ? '\n' : (() => { throw Object.assign(new Error('x'), { code: 'ENOENT' }); })());
    assert.deepEqual(parseNotifyEnv({}, read), []);
    assert.deepEqual(parseNotifyEnv({ AUTOTUNNEL_NOTIFY_URL: 'https://h.example/x' }, read), [{ url: 'https://h.example/x', format: 'json', afterMs: 30_000, origin: 'AUTOTUNNEL_NOTIFY_URL' }]);
    assert.deepEqual(parseNotifyEnv({ AUTOTUNNEL_NOTIFY_URL_FILE: '/run/secrets/hook', AUTOTUNNEL_NOTIFY_FORMAT: 'Slack', AUTOTUNNEL_NOTIFY_AFTER: '2m' }, read), [
      { url: 'https://h.example/x/SECRET', format: 'slack', afterMs: 120_000, origin: 'AUTOTUNNEL_NOTIFY_URL_FILE' },
    ]);
    const problems = (env: Record<string, string>) => {
      try {
        parseNotifyEnv(env, read);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.problems.map(formatProblem);
      }
      assert.fail('expected a ConfigError');
    };
    assert.deepEqual(problems({ AUTOTUNNEL_NOTIFY_URL: 'ftp://u:SECRET@h/x', AUTOTUNNEL_NOTIFY_FORMAT: 'xml', AUTOTUNNEL_NOTIFY_AFTER: 'soon' }), [
      'AUTOTUNNEL_NOTIFY_URL: expected an http:// or https:// URL, not ftp: (the value is not shown: it may hold a token)',
      'AUTOTUNNEL_NOTIFY_FORMAT="xml": expected json (the default: tunnel, state, cause, fix, durations, time, host), text (one plain sentence: ntfy, Gotify) or slack ({"text": …}: Slack, Mattermost, Discord\'s /slack endpoint)',
      'AUTOTUNNEL_NOTIFY_AFTER="soon": expected a duration such as 30 (seconds), "90s", "2m" or 0 (at once)',
    ]);
    assert.deepEqual(problems({ AUTOTUNNEL_NOTIFY_URL_FILE: '/empty' }), ['AUTOTUNNEL_NOTIFY_URL_FILE="/empty": the file is empty']);
    assert.deepEqual(problems({ AUTOTUNNEL_NOTIFY_URL_FILE: '/missing' }), ['AUTOTUNNEL_NOTIFY_URL_FILE="/missing": no such file; mount it there or fix the path']);
    assert.deepEqual(problems({ AUTOTUNNEL_NOTIFY_FORMAT: 'text' }), ['AUTOTUNNEL_NOTIFY_FORMAT: set AUTOTUNNEL_NOTIFY_URL (or AUTOTUNNEL_NOTIFY_URL_FILE) too: there is nowhere to send notifications']);
  });
});
