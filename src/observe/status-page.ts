/**
 * The status page at /: one self-contained HTML document (inline CSS and script, nothing from
 * the network; the Content-Security-Policy enforces it). The script polls /api/tunnels and
 * patches the existing elements in place, so the page never reloads or flickers.
 */
import { createHash } from 'node:crypto';
import { STATE_WORDS, formatDuration } from './format.js';

/** How often the page asks for fresh state; relative times tick every second in between. */
export const PAGE_REFRESH_MS = 2_000;
/** A poll that takes longer than this counts as "cannot reach autotunnel". */
export const PAGE_FETCH_TIMEOUT_MS = 1_500;

const STYLE = `
:root { color-scheme: light dark; --bg:#f6f8fa; --card:#fff; --fg:#1f2328; --muted:#59636e; --line:#d1d9e0;
  --up:#1a7f37; --down:#cf222e; --blip:#f0a3a8; --conn:#bf8700; --stop:#818b98; --none:#e6eaef; }
@media (prefers-color-scheme: dark) { :root { --bg:#0d1117; --card:#151b23; --fg:#e6edf3; --muted:#9198a1; --line:#3d444d;
  --up:#2ea043; --down:#f85149; --blip:#8e3b3b; --conn:#d29922; --stop:#656c76; --none:#262c36; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 20px; padding: 16px 24px; }
h1 { font-size: 18px; margin: 0; font-weight: 600; }
.summary { font-size: 16px; font-weight: 600; padding: 6px 14px; border-radius: 999px; color: #fff; background: var(--stop); }
.summary.ok { background: var(--up); } .summary.warn { background: var(--conn); } .summary.bad { background: var(--down); }
.meta { color: var(--muted); margin-left: auto; }
.meta a { color: inherit; }
.offline { margin: 0 24px 12px; padding: 8px 14px; border-radius: 6px; background: var(--conn); color: #fff; font-weight: 600; }
body.stale main { opacity: .55; }
main { padding: 0 24px 24px; overflow-x: auto; }
table { width: 100%; min-width: 980px; table-layout: fixed; border-collapse: separate; border-spacing: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
/* Fixed columns: changing text never shifts the layout under the reader's eye. */
.w-state { width: 130px; } .w-for { width: 110px; } .w-restarts { width: 96px; } .w-timeline { width: 326px; } .w-name { width: 24%; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; padding: 10px 12px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 10px 12px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
tr:last-child td { border-bottom: 0; }
tr.tunnel td:first-child { border-left: 5px solid var(--stop); }
tr.s-up td:first-child { border-left-color: var(--up); } tr.s-backoff td:first-child { border-left-color: var(--down); }
tr.s-connecting td:first-child, tr.s-starting td:first-child { border-left-color: var(--conn); }
.tname { font-weight: 600; font-size: 15px; }
.opt { margin-left: 6px; font-size: 11px; color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; font-weight: 400; }
.sub { color: var(--muted); font-size: 12px; }
.badge { display: inline-block; min-width: 92px; text-align: center; font-weight: 700; font-size: 13px; letter-spacing: .03em; text-transform: uppercase; color: #fff; padding: 3px 10px; border-radius: 4px; background: var(--stop); }
.b-up { background: var(--up); } .b-backoff { background: var(--down); } .b-connecting, .b-starting { background: var(--conn); }
.dur { font-weight: 600; font-variant-numeric: tabular-nums; }
.cause { max-width: 34em; }
.s-up .cause-text { color: var(--muted); }
.hint { color: var(--muted); font-size: 12px; margin-top: 2px; }
.num { font-variant-numeric: tabular-nums; font-weight: 600; }
.bar { display: flex; gap: 1px; height: 22px; width: 300px; }
.cell { flex: 1; border-radius: 1px; background: var(--none); }
.c-up { background: var(--up); } .c-down { background: var(--down); } .c-blip { background: var(--blip); }
.c-conn { background: var(--conn); } .c-stop { background: var(--stop); }
.axis { display: flex; justify-content: space-between; width: 300px; }
.b-target { background: var(--conn); }
tr.s-target td:first-child { border-left-color: var(--conn); }
.actions { margin-top: 6px; display: flex; gap: 6px; }
.actions button { font: inherit; font-size: 12px; padding: 1px 8px; border-radius: 4px; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; }
.actions button:hover { border-color: var(--muted); }
.actions button[disabled] { opacity: .5; cursor: default; }
`;

/**
 * No template literals inside, so it embeds here without escaping. formatDuration is the same
 * function `autotunnel status` uses, embedded by its source text.
 */
const SCRIPT = `
'use strict';
var REFRESH_MS = ${PAGE_REFRESH_MS};
var FETCH_TIMEOUT_MS = ${PAGE_FETCH_TIMEOUT_MS};
var LABELS = ${JSON.stringify(STATE_WORDS)};

function pad(n) { return (n < 10 ? '0' : '') + n; }

${formatDuration.toString()}

/** Local wall-clock time; the date too when it is not today. */
function clockTime(ms, nowMs) {
  var d = new Date(ms), t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  if (new Date(nowMs).toDateString() === d.toDateString()) return t;
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + t;
}

/** A timeline bucket [up, connecting, down, stopped] (seconds) as an object. */
function phases(b) { return b && { up: b[0], connecting: b[1], down: b[2], stopped: b[3] }; }

/** One minute of the timeline: red when down all of it, pale red for a blip, amber when only trying. */
function cellClass(bucket) {
  var b = phases(bucket);
  if (!b) return 'cell';
  if (b.down > 0) return b.up > 0 ? 'cell c-blip' : 'cell c-down';
  if (b.up > 0) return 'cell c-up';
  if (b.connecting > 0) return 'cell c-conn';
  return 'cell c-stop';
}

function cellTitle(bucket, startMs) {
  var b = phases(bucket), head = clockTime(startMs, startMs).slice(0, 5);
  if (!b) return head + ': not observed';
  var parts = [];
  if (b.up > 0) parts.push('up ' + formatDuration(b.up * 1000));
  if (b.down > 0) parts.push('down ' + formatDuration(b.down * 1000));
  if (b.connecting > 0) parts.push('connecting ' + formatDuration(b.connecting * 1000));
  if (b.stopped > 0) parts.push('stopped ' + formatDuration(b.stopped * 1000));
  return head + ': ' + parts.join(', ');
}

/** The headline: how many are up, and the names of those that are not. */
function summarize(tunnels) {
  if (!tunnels.length) return { level: 'none', text: 'No tunnels' };
  // Disabled or stopped on request: someone chose that; it is said, not alarmed about.
  var held = tunnels.filter(function (t) { return t.held; }).length;
  var notUp = tunnels.filter(function (t) { return !t.up && !t.held; });
  var down = notUp.filter(function (t) { return t.state === 'backoff' || (t.state === 'connecting' && t.lastCause); });
  var bad = down.some(function (t) { return t.required; });
  var targets = tunnels.filter(targetDown).length;
  var level = notUp.length ? (bad ? 'bad' : 'warn') : targets ? 'warn' : 'ok';
  if (tunnels.length === 1) return { level: level, text: tunnels[0].name + ' is ' + (down.length ? 'down' : targets ? 'up, target unreachable' : LABELS[tunnels[0].state] || tunnels[0].state) };
  var heldText = held ? ' (' + held + ' stopped or disabled)' : '';
  var running = tunnels.length - held;
  if (!notUp.length) return { level: level, text: (running === 1 ? '1 tunnel up' : 'All ' + running + ' tunnels up') + (targets ? ', ' + targets + ' with the target unreachable' : '') + heldText };
  var names = notUp.map(function (t) { return t.name; }).join(', ');
  return { level: level, text: notUp.length + ' of ' + tunnels.length + ' ' + (down.length ? 'down' : 'not up yet') + ': ' + names };
}

function restartsTitle(byCause) {
  var keys = Object.keys(byCause || {}).filter(function (k) { return Object.prototype.hasOwnProperty.call(byCause, k); });
  if (!keys.length) return 'no restarts';
  return keys.map(function (k) { return k + ': ' + byCause[k]; }).join(', ');
}

/** The link is up, but ssh said the last forwarded connection could not reach the target. */
function targetDown(t) { return t.up && t.target && t.target.reachable === false; }

/** What the buttons of a tunnel are: a held (stopped, disabled) one can be started, a running one stopped or restarted. */
function actionsFor(t) { return t.held || t.state === 'stopped' || t.state === 'disabled' ? ['start'] : ['restart', 'stop']; }

/** Rounded down, so anything short of all the time never reads "100%". */
function uptimeText(ratio) {
  if (ratio === null || ratio === undefined) return 'no data yet';
  var pct = ratio * 100;
  if (pct === 100 || pct === 0) return pct + '% up';
  return (pct >= 99.9 ? (Math.floor(pct * 100) / 100).toFixed(2) : (Math.floor(pct * 10) / 10).toFixed(1)) + '% up';
}

if (typeof document !== 'undefined') (function () {
  var tbody = document.getElementById('rows');
  var summaryEl = document.getElementById('summary');
  var metaEl = document.getElementById('meta-text');
  var offlineEl = document.getElementById('offline');
  var icon = document.getElementById('favicon');
  // Keyed by tunnel name: a Map, so names such as "constructor" or "toString" are not Object.prototype's.
  var rows = new Map();
  var data = null, skew = 0, lastOk = 0, failingSince = 0, pollTimer = 0;
  var TOKEN_KEY = 'autotunnel-control-token';

  function el(tag, cls, parent) { var e = document.createElement(tag); if (cls) e.className = cls; if (parent) parent.appendChild(e); return e; }
  function setText(e, text) { if (e.textContent !== text) e.textContent = text; }
  function setClass(e, cls) { if (e.className !== cls) e.className = cls; }
  function setAttr(e, name, value) { if (e.getAttribute(name) !== value) e.setAttribute(name, value); }
  function serverNow() { return Date.now() - skew; }

  function makeRow(name) {
    var r = { tr: el('tr', 'tunnel') };
    r.tr.setAttribute('data-tunnel', name);
    var c1 = el('td', 'c-name', r.tr); r.name = el('span', 'tname', c1); r.opt = el('span', 'opt', c1); r.desc = el('div', 'sub desc', c1);
    r.actions = el('div', 'actions', c1); r.actions.hidden = true; r.buttons = {};
    ['start', 'restart', 'stop'].forEach(function (a) {
      var b = el('button', '', r.actions); b.type = 'button'; b.textContent = a; b.setAttribute('data-action', a);
      b.addEventListener('click', function () { act(name, a, b); });
      r.buttons[a] = b;
    });
    var c2 = el('td', 'c-state', r.tr); r.badge = el('span', 'badge', c2); r.retry = el('div', 'sub retry', c2);
    var c3 = el('td', 'c-since', r.tr); r.dur = el('div', 'dur', c3); r.at = el('div', 'sub', c3);
    var c4 = el('td', 'cause', r.tr); r.cause = el('div', 'cause-text', c4); r.hint = el('div', 'hint', c4);
    var c5 = el('td', 'c-restarts', r.tr); r.restarts = el('span', 'num', c5);
    var c6 = el('td', 'c-timeline', r.tr); r.bar = el('div', 'bar', c6); r.cells = [];
    var axis = el('div', 'axis sub', c6); r.uptime = el('span', '', axis); el('span', '', axis).textContent = 'now';
    setText(r.name, name);
    return r;
  }

  /** POSTs a control action with the token the user gave (kept for this tab only, never in the page). */
  function act(name, action, button) {
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      token = window.prompt('Control token (the contents of AUTOTUNNEL_CONTROL_TOKEN_FILE) to ' + action + ' ' + name + ':');
      if (!token) return;
    }
    button.disabled = true;
    fetch('api/tunnels/' + encodeURIComponent(name) + '/' + action, { method: 'POST', headers: { authorization: 'Bearer ' + token } })
      .then(function (res) { return res.json().then(function (body) { return { status: res.status, body: body }; }); })
      .then(function (x) {
        if (x.status === 401 || x.status === 403) sessionStorage.removeItem(TOKEN_KEY);
        else sessionStorage.setItem(TOKEN_KEY, token);
        if (x.status !== 200) window.alert(name + ': ' + (x.body.error || ('HTTP ' + x.status)));
      })
      .catch(function (e) { window.alert(name + ': ' + action + ' failed: ' + e.message); })
      .then(function () { button.disabled = false; clearTimeout(pollTimer); poll(); });
  }

  function renderRow(r, t, control) {
    var tdown = targetDown(t);
    setClass(r.tr, 'tunnel s-' + (tdown ? 'target' : t.state));
    r.actions.hidden = !control;
    var allowed = actionsFor(t);
    Object.keys(r.buttons).forEach(function (a) { r.buttons[a].hidden = allowed.indexOf(a) < 0; });
    setText(r.opt, t.required ? '' : 'optional'); r.opt.hidden = t.required;
    setText(r.desc, t.description || '');
    setClass(r.badge, 'badge b-' + (tdown ? 'target' : t.state));
    setText(r.badge, LABELS[t.state] || t.state);
    var c = t.lastCause;
    if (tdown) {
      setText(r.cause, 'up, target unreachable: ' + t.target.lastError.summary);
      setText(r.hint, t.target.errors + ' forwarded connection' + (t.target.errors === 1 ? '' : 's') + ' failed; the link is fine, ssh is not restarted. ssh said: ' + t.target.lastError.line);
    }
    else if (t.state === 'disabled') { setText(r.cause, 'disabled in the configuration (enabled: false)'); setText(r.hint, ''); }
    else if (t.held) { setText(r.cause, 'stopped on request'); setText(r.hint, 'it stays stopped until started again'); }
    else if (!c) { setText(r.cause, t.up ? 'no failure since start' : ''); setText(r.hint, ''); }
    else if (t.up) { setText(r.cause, 'last down ' + clockTime(Date.parse(c.at), serverNow()) + ': ' + c.summary); setText(r.hint, ''); }
    else { setText(r.cause, c.summary); setText(r.hint, c.hint ? 'Fix: ' + c.hint : ''); }
    setText(r.restarts, String(t.restarts));
    setAttr(r.restarts, 'title', restartsTitle(t.restartsByCause));
    var buckets = t.timeline.buckets, start = Date.parse(t.timeline.start), step = t.timeline.bucketSeconds * 1000;
    while (r.cells.length < buckets.length) r.cells.push(el('span', 'cell', r.bar));
    for (var i = 0; i < buckets.length; i++) {
      setClass(r.cells[i], cellClass(buckets[i]));
      setAttr(r.cells[i], 'title', cellTitle(buckets[i], start + i * step));
    }
    setText(r.uptime, 'last hour: ' + uptimeText(t.uptimeRatio));
    setAttr(r.bar, 'aria-label', 'last hour: ' + uptimeText(t.uptimeRatio));
  }

  /** What changes every second without new data: durations and countdowns. */
  function tick() {
    if (!data) return;
    var now = serverNow();
    data.tunnels.forEach(function (t) {
      var r = rows.get(t.name); if (!r) return;
      var since = Date.parse(t.since);
      setText(r.dur, formatDuration(now - since));
      setText(r.at, 'since ' + clockTime(since, now));
      var retry = t.state === 'backoff' && t.nextAttemptAt ? Date.parse(t.nextAttemptAt) - now : null;
      setText(r.retry, targetDown(t) ? 'target unreachable' : retry === null ? (t.state === 'connecting' ? 'attempt ' + t.attempt : '') : retry > 0 ? 'retry in ' + formatDuration(retry) : 'retrying');
    });
    var age = Date.now() - lastOk;
    setText(metaEl, 'autotunnel ' + data.version + ' · updated ' + (age < 1500 ? 'just now' : formatDuration(age) + ' ago'));
    if (failingSince) setText(offlineEl, 'Cannot reach autotunnel since ' + clockTime(failingSince, Date.now()) + ': showing the last state it reported.');
  }

  function render(d) {
    data = d;
    var seen = new Set();
    d.tunnels.forEach(function (t, i) {
      seen.add(t.name);
      var r = rows.get(t.name);
      if (!r) rows.set(t.name, r = makeRow(t.name));
      renderRow(r, t, d.control);
      if (tbody.children[i] !== r.tr) tbody.insertBefore(r.tr, tbody.children[i] || null);
    });
    rows.forEach(function (r, name) { if (!seen.has(name)) { tbody.removeChild(r.tr); rows.delete(name); } });
    var s = summarize(d.tunnels);
    setClass(summaryEl, 'summary ' + s.level);
    setText(summaryEl, s.text);
    var title = (s.level === 'ok' ? '\\u2714 ' : s.level === 'bad' ? '\\u2716 ' : '\\u2026 ') + s.text + ' \\u2014 autotunnel';
    if (document.title !== title) document.title = title;
    var color = { ok: '%231a7f37', bad: '%23cf222e', warn: '%23bf8700', none: '%23818b98' }[s.level];
    var href = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><circle cx='8' cy='8' r='7' fill='" + color + "'/></svg>";
    if (icon.getAttribute('href') !== href) icon.setAttribute('href', href);
    tick();
  }

  function poll() {
    var ctrl = new AbortController();
    var timer = setTimeout(function () { ctrl.abort(); }, FETCH_TIMEOUT_MS);
    fetch('api/tunnels', { cache: 'no-store', signal: ctrl.signal })
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json(); })
      .then(function (d) {
        skew = Date.now() - Date.parse(d.now);
        lastOk = Date.now(); failingSince = 0;
        offlineEl.hidden = true; document.body.classList.remove('stale');
        render(d);
      })
      .catch(function () {
        if (!failingSince) failingSince = Date.now();
        offlineEl.hidden = false; document.body.classList.add('stale');
        // The last state may no longer be true: the headline must not keep saying "up" in green.
        setClass(summaryEl, 'summary none');
        setText(summaryEl, 'No answer from autotunnel');
        document.title = 'No answer \u2014 autotunnel';
        tick();
      })
      .then(function () { clearTimeout(timer); clearTimeout(pollTimer); pollTimer = setTimeout(poll, REFRESH_MS); });
  }

  setInterval(tick, 1000);
  poll();
})();
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only the page's own script and style, only same-origin requests, only data: images (the favicon). */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The script, exported so unit tests can run its pure helpers outside a browser. */
export const STATUS_PAGE_SCRIPT = SCRIPT;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autotunnel</title>
<link rel="icon" id="favicon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>autotunnel</h1>
<div id="summary" class="summary">Loading…</div>
<div class="meta"><span id="meta-text"></span> · <a href="api/tunnels">JSON</a> · <a href="metrics">metrics</a></div>
</header>
<div id="offline" class="offline" hidden></div>
<main>
<table>
<thead><tr><th class="w-name">Tunnel</th><th class="w-state">State</th><th class="w-for">For</th><th>Last cause</th><th class="w-restarts">Restarts</th><th class="w-timeline">Last hour</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<noscript><p>This page needs JavaScript to update itself; the same data is at <a href="api/tunnels">api/tunnels</a>.</p></noscript>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
