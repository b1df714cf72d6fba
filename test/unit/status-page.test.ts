/** The status page: self-contained, locked down by its CSP, and its rendering helpers. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { runInNewContext } from 'node:vm';
import { formatDuration } from '../../src/observe/format.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML, STATUS_PAGE_SCRIPT } from '../../src/observe/status-page.js';

/** [up, connecting, down, stopped] seconds, as /api/tunnels sends them. */
type Bucket = [number, number, number, number];
interface PageHelpers {
  formatDuration(ms: number): string;
  cellClass(b: Bucket | null): string;
  cellTitle(b: Bucket | null, startMs: number): string;
  summarize(tunnels: Array<{ name: string; up: boolean; state: string; required: boolean; lastCause: unknown; held?: boolean; target?: { reachable: boolean | null } }>): { level: string; text: string };
  actionsFor(t: { state: string; held?: boolean }): string[];
  uptimeText(ratio: number | null): string;
  restartsTitle(byCause: Record<string, number>): string;
  LABELS: Record<string, string>;
}

/** Runs the page's own script without a browser: with no document, it only defines its helpers. */
function helpers(): PageHelpers {
  return runInNewContext(`${STATUS_PAGE_SCRIPT}\n;({ formatDuration, cellClass, cellTitle, summarize, uptimeText, restartsTitle, LABELS, actionsFor })`, {}) as PageHelpers;
}

const between = (html: string, open: string, close: string) => html.slice(html.indexOf(open) + open.length, html.indexOf(close));
const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('status page document', () => {
  test('loads nothing from anywhere: no src, no stylesheet links, no url(), no @import', () => {
    assert.doesNotMatch(STATUS_PAGE_HTML, /\ssrc\s*=/i);
    assert.doesNotMatch(STATUS_PAGE_HTML, /rel="stylesheet"/i);
    assert.doesNotMatch(STATUS_PAGE_HTML, /url\(|@import/i);
    for (const [, href] of STATUS_PAGE_HTML.matchAll(/href="([^"]*)"/g)) assert.match(href!, /^(data:|[a-z/]+$)/, `same-origin or data: only: ${href}`);
    // The only absolute URL is the SVG namespace name in the favicon, which is an identifier, not a request.
    const urls = [...STATUS_PAGE_HTML.matchAll(/https?:\/\/[^\s'"]+/g)].map((m) => m[0]);
    assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg']);
  });

  test('the CSP allows exactly the inline script and style, and requests to this origin only', () => {
    const script = between(STATUS_PAGE_HTML, '<script>', '</script>');
    const style = between(STATUS_PAGE_HTML, '<style>', '</style>');
    assert.equal(script, STATUS_PAGE_SCRIPT);
    assert.match(STATUS_PAGE_CSP, /default-src 'none'/);
    assert.ok(STATUS_PAGE_CSP.includes(`script-src ${hash(script)}`));
    assert.ok(STATUS_PAGE_CSP.includes(`style-src ${hash(style)}`));
    assert.match(STATUS_PAGE_CSP, /connect-src 'self'/);
    assert.doesNotMatch(STATUS_PAGE_CSP, /unsafe/);
  });

  test('has every element the script patches', () => {
    for (const id of ['rows', 'summary', 'meta-text', 'offline', 'favicon']) assert.match(STATUS_PAGE_HTML, new RegExp(`id="${id}"`));
  });
});

describe('status page helpers (the script shipped in the page)', () => {
  const page = helpers();

  test('durations read the same as in `autotunnel status`', () => {
    for (const ms of [0, 420, 9_999, 10_000, 59_999, 60_000, 252_000, 3_600_000, 11_100_000, 86_400_000, 183_600_000]) {
      assert.equal(page.formatDuration(ms), formatDuration(ms));
    }
    assert.deepEqual(
      [420, 59_999, 252_000, 3_600_000, 11_100_000, 183_600_000].map(formatDuration),
      ['0.4s', '59s', '4m 12s', '1h', '3h 5m', '2d 3h'],
    );
  });

  test('a person reads "down", not "backoff"', () => {
    assert.equal(page.LABELS.backoff, 'down');
    assert.equal(page.LABELS.up, 'up');
  });

  test('timeline cells: red when down the whole minute, pale red for a blip, amber when only trying, grey when unknown', () => {
    const b = (p: { up?: number; connecting?: number; down?: number; stopped?: number }): Bucket => [p.up ?? 0, p.connecting ?? 0, p.down ?? 0, p.stopped ?? 0];
    assert.equal(page.cellClass(null), 'cell');
    assert.equal(page.cellClass(b({ up: 60 })), 'cell c-up');
    assert.equal(page.cellClass(b({ up: 59.7, connecting: 0.3 })), 'cell c-up', 'a normal reconnect is not an outage');
    assert.equal(page.cellClass(b({ up: 58, down: 2 })), 'cell c-blip');
    assert.equal(page.cellClass(b({ down: 50, connecting: 10 })), 'cell c-down');
    assert.equal(page.cellClass(b({ connecting: 60 })), 'cell c-conn');
    assert.equal(page.cellClass(b({ stopped: 10 })), 'cell c-stop');
  });

  test('cell tooltips say what happened in that minute', () => {
    const start = new Date(2026, 10, 25, 14, 3, 0).getTime();
    assert.equal(page.cellTitle([58, 0, 2, 0], start), '14:03: up 58s, down 2.0s');
    assert.equal(page.cellTitle([0, 12, 40, 8], start), '14:03: down 40s, connecting 12s, stopped 8.0s');
    assert.equal(page.cellTitle(null, start), '14:03: not observed');
  });

  test('the headline names the tunnels that are down', () => {
    const summarize = (tunnels: Parameters<PageHelpers['summarize']>[0]) => ({ ...page.summarize(tunnels) });
    const t = (name: string, state: string, extra = {}) => ({ name, state, up: state === 'up', required: true, lastCause: null, ...extra });
    assert.deepEqual(summarize([]), { level: 'none', text: 'No tunnels' });
    assert.deepEqual(summarize([t('a', 'up')]), { level: 'ok', text: 'a is up' });
    assert.deepEqual(summarize([t('a', 'connecting')]), { level: 'warn', text: 'a is connecting' });
    assert.deepEqual(summarize([t('a', 'connecting', { lastCause: {} })]), { level: 'bad', text: 'a is down' });
    assert.deepEqual(summarize([t('a', 'up'), t('b', 'up')]), { level: 'ok', text: 'All 2 tunnels up' });
    assert.deepEqual(summarize([t('a', 'up'), t('b', 'backoff'), t('c', 'connecting', { lastCause: {} })]), { level: 'bad', text: '2 of 3 down: b, c' });
    assert.deepEqual(summarize([t('a', 'connecting'), t('b', 'up')]), { level: 'warn', text: '1 of 2 not up yet: a' });
    assert.deepEqual(summarize([t('a', 'up'), t('b', 'backoff', { required: false })]), { level: 'warn', text: '1 of 2 down: b' });
    assert.deepEqual(summarize([t('a', 'backoff')]), { level: 'bad', text: 'a is down' });
  });

  test('held tunnels are said, not alarmed about; an unreachable target is amber; the buttons fit the state', () => {
    const summarize = (tunnels: Parameters<PageHelpers['summarize']>[0]) => ({ ...page.summarize(tunnels) });
    const t = (name: string, state: string, extra = {}) => ({ name, state, up: state === 'up', required: true, lastCause: null, ...extra });
    assert.deepEqual(summarize([t('a', 'up'), t('b', 'disabled', { held: true }), t('c', 'stopped', { held: true })]), { level: 'ok', text: '1 tunnel up (2 stopped or disabled)' });
    assert.deepEqual(summarize([t('a', 'up', { target: { reachable: false } }), t('b', 'up')]), { level: 'warn', text: 'All 2 tunnels up, 1 with the target unreachable' });
    assert.deepEqual(summarize([t('a', 'up', { target: { reachable: false } })]), { level: 'warn', text: 'a is up, target unreachable' });
    assert.deepEqual([...page.actionsFor({ state: 'up' })], ['restart', 'stop']);
    assert.deepEqual([...page.actionsFor({ state: 'backoff' })], ['restart', 'stop']);
    assert.deepEqual([...page.actionsFor({ state: 'disabled', held: true })], ['start']);
    assert.deepEqual([...page.actionsFor({ state: 'stopped', held: true })], ['start']);
  });

  test('uptime and restart tooltips', () => {
    assert.equal(page.uptimeText(null), 'no data yet');
    assert.equal(page.uptimeText(1), '100% up');
    assert.equal(page.uptimeText(0.99999), '99.99% up', 'never rounded up to 100%');
    assert.equal(page.uptimeText(0.9996), '99.96% up');
    assert.equal(page.uptimeText(0.5), '50.0% up');
    assert.equal(page.restartsTitle({}), 'no restarts');
    assert.equal(page.restartsTitle({ killed: 1, connection_refused: 3 }), 'killed: 1, connection_refused: 3');
  });
});
