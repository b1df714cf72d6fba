/** WebhookQueue: order, retries, a bounded queue, and one log line per burst of failures. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WebhookQueue, type PostResult } from '../../src/adapters/webhook.js';
import { createLogger } from '../../src/observe/logger.js';
import type { RenderedMessage } from '../../src/observe/notify.js';

const msg = (body: string): RenderedMessage => ({ contentType: 'text/plain', body });
const settle = () => new Promise((r) => setTimeout(r, 30));

function setup(answers: Array<PostResult | 'hang'>, queueLimit = 10) {
  const lines: string[] = [];
  const logger = createLogger({ format: 'text', level: 'debug', write: (l) => lines.push(l) });
  const posted: string[] = [];
  let release: (() => void) | undefined;
  const q = new WebhookQueue(
    { url: 'https://user:pw@hooks.example/a/SECRET?k=SECRET', format: 'text', afterMs: 0, origin: 'notify[0].url' },
    {
      logger,
      retryDelaysMs: [1, 1],
      queueLimit,
      post: async (_url, m) => {
        posted.push(m.body);
        const a = answers.shift() ?? { ok: true };
        if (a === 'hang') await new Promise<void>((r) => (release = r));
        return a === 'hang' ? { ok: true } : a;
      },
    },
  );
  return { q, lines, posted, release: () => release?.() };
}

describe('WebhookQueue', () => {
  test('send returns at once; messages go one at a time, in order', async () => {
    const s = setup(['hang']);
    s.q.send(msg('down'));
    s.q.send(msg('up'));
    await settle();
    assert.deepEqual(s.posted, ['down'], '"up" waits behind the pending "down"');
    assert.equal(s.q.pending, 2);
    s.release();
    await settle();
    assert.deepEqual(s.posted, ['down', 'up']);
    assert.equal(s.q.pending, 0);
  });

  test('a failure is retried, then given up; one warning per burst, one line when it gets through again; the URL redacted', async () => {
    const s = setup([{ ok: false, error: 'HTTP 500' }, { ok: false, error: 'HTTP 500' }, { ok: false, error: 'HTTP 500' }, { ok: false, error: 'HTTP 502' }, { ok: true }]);
    s.q.send(msg('one'));
    s.q.send(msg('two'));
    await settle();
    assert.deepEqual(s.posted, ['one', 'one', 'one', 'two', 'two']);
    const warn = s.lines.filter((l) => l.includes('WARN'));
    assert.equal(warn.length, 1, s.lines.join(''));
    assert.match(warn[0]!, /notification to https:\/\/hooks\.example\/a\/… \(notify\[0\]\.url\) failed: HTTP 500; retrying with backoff/);
    assert.match(s.lines.join(''), /get through again \(after 4 failed attempts; 1 message given up\)/);
    assert.ok(!s.lines.join('').includes('SECRET') && !s.lines.join('').includes('pw'));
  });

  test('bounded: when full, the oldest waiting message is dropped', async () => {
    const s = setup(['hang'], 2);
    for (const m of ['a', 'b', 'c', 'd']) s.q.send(msg(m));
    s.release();
    await settle();
    assert.deepEqual(s.posted, ['a', 'c', 'd']);
  });
});
