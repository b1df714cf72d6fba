/**
 * Health, readiness, metrics, the API, the status page and the status/health commands against
 * real tunnels: the built CLI, a real sshd, real ssh, real faults (ssh killed, sshd stopped).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { OUTPUT_DIR, chromiumContext } from '../harness/browser.js';
import { CliProcess } from '../harness/cli.js';
import { freePort, type TestSshd } from '../harness/sshd.js';
import { parseExposition } from '../unit/exposition.js';
import type { ApiReadiness, ApiTunnels } from '../../src/observe/api.js';
import { BIN, envFor, testBed, waitForLog, type TunnelRun } from './helpers.js';

/** Generous bounds: they catch "never happens", not slowness. */
const UP_TIMEOUT_MS = 10_000;
const CLI_EXIT_TIMEOUT_MS = 5_000;
const PAGE_TIMEOUT_MS = 10_000;

const bed = testBed();

/** A -L tunnel through `server` to the echo target, with `extra` variables. */
async function tunnel(server: TestSshd, extra: Record<string, string>): Promise<TunnelRun> {
  return bed.run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(bed.echo().port), ...extra }));
}

/** A tunnel with the HTTP listener on a free loopback port, once that listens. */
async function tunnelWithHttp(server: TestSshd, extra: Record<string, string> = {}): Promise<{ run: TunnelRun; base: string; http: string }> {
  const http = `127.0.0.1:${await freePort()}`;
  const run = await tunnel(server, { AUTOTUNNEL_HTTP: http, ...extra });
  await waitForLog(run.cli, { msg: /^status page, health, readiness and metrics on/ }, UP_TIMEOUT_MS);
  return { run, base: `http://${http}`, http };
}

/** Runs `autotunnel <args>` to completion. */
async function command(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const cli = CliProcess.spawn([BIN, ...args], { env });
  const { code } = await cli.exited(CLI_EXIT_TIMEOUT_MS);
  return { code, output: cli.output() };
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

async function metric(base: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const res = await fetch(`${base}/metrics`);
  const { samples } = parseExposition(await res.text());
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('against real tunnels', () => {
  it('readiness, metrics, API, status and health follow a tunnel down and up: 0 → 1 → 0 → 1', async () => {
    const server = await bed.sshd();
    await server.stop();
    const { run, base, http } = await tunnelWithHttp(server);
    const env = { AUTOTUNNEL_HTTP: http };

    // Server down at start: not ready, but alive.
    await waitForLog(run.cli, { cause: 'connection_refused' }, UP_TIMEOUT_MS);
    const notReady = await getJson<ApiReadiness>(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body.ready, false);
    assert.equal(notReady.body.tunnels[0]!.lastCause?.code, 'connection_refused');
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'a server being down never fails liveness');
    assert.equal(await metric(base, 'autotunnel_tunnel_up', { tunnel: 'tunnel' }), 0);
    assert.ok((await metric(base, 'autotunnel_tunnel_restarts_total', { tunnel: 'tunnel', cause: 'connection_refused' }))! >= 1);
    const unhealthy = await command(['health'], env);
    assert.equal(unhealthy.code, 1);
    assert.match(unhealthy.output, /^not ready: 0 of 1 required tunnel up; tunnel down for [\d.]+s \(the server 127\.0\.0\.1 refused the connection/);
    const live = await command(['health', '--live'], env);
    assert.equal(live.code, 0);
    assert.equal(live.output, 'alive: supervising 1 tunnel\n');

    // Server starts: up.
    let mark = run.cli.mark();
    await server.start();
    const up = await waitForLog(run.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal(await metric(base, 'autotunnel_tunnel_up', { tunnel: 'tunnel' }), 1);
    assert.equal(await metric(base, 'autotunnel_ready'), 1);
    assert.equal(await metric(base, 'autotunnel_tunnel_connect_duration_seconds_count', { tunnel: 'tunnel' }), 1);
    const healthy = await command(['health'], env);
    assert.equal(healthy.code, 0, healthy.output);
    assert.equal(healthy.output, 'ready: 1 required tunnel up\n');

    // ssh killed: a restart by cause "killed", and up again.
    mark = run.cli.mark();
    process.kill(up.pid!, 'SIGKILL');
    await waitForLog(run.cli, { state: 'backoff', cause: 'killed' }, UP_TIMEOUT_MS, mark);
    await waitForLog(run.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal(await metric(base, 'autotunnel_tunnel_restarts_total', { tunnel: 'tunnel', cause: 'killed' }), 1);
    assert.equal(await metric(base, 'autotunnel_tunnel_up', { tunnel: 'tunnel' }), 1);

    // Server stopped: down, with the cause, everywhere.
    mark = run.cli.mark();
    await server.stop();
    const down = await waitForLog(run.cli, { state: 'backoff' }, UP_TIMEOUT_MS, mark);
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    assert.equal(await metric(base, 'autotunnel_tunnel_up', { tunnel: 'tunnel' }), 0);
    assert.ok((await metric(base, 'autotunnel_tunnel_restarts_total', { tunnel: 'tunnel', cause: down.cause! }))! >= 1, `counted by cause ${down.cause}`);
    const api = await getJson<ApiTunnels>(`${base}/api/tunnels`);
    assert.equal(api.status, 200);
    const t = api.body.tunnels[0]!;
    assert.equal(t.name, 'tunnel');
    assert.equal(t.up, false);
    assert.match(t.state, /^(backoff|connecting)$/);
    assert.ok(t.restarts >= 3, `restarts: ${JSON.stringify(t.restartsByCause)}`);
    assert.ok(t.lastCause && t.lastCause.summary.length > 0);
    assert.ok(t.uptimeRatio! > 0 && t.uptimeRatio! < 1);
    assert.equal(t.timeline.buckets.length, 60);
    assert.match(t.description!, new RegExp(`^-L 127\\.0\\.0\\.1:\\d+:127\\.0\\.0\\.1:${bed.echo().port} via .+@127\\.0\\.0\\.1:${server.port}$`));
    const status = await command(['status'], env);
    assert.equal(status.code, 0);
    assert.match(status.output, /^TUNNEL +STATE +SINCE +RESTARTS +LAST CAUSE\ntunnel +(down|connecting) +[\d.]+s ago +\d+ +\S.*\n\nnot ready: /);
    const json = await command(['status', '--json'], env);
    assert.equal((JSON.parse(json.output) as ApiTunnels).tunnels[0]!.name, 'tunnel');

    // Server back: up again.
    mark = run.cli.mark();
    await server.start();
    await waitForLog(run.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal(await metric(base, 'autotunnel_tunnel_up', { tunnel: 'tunnel' }), 1);
    assert.equal((await command(['health'], env)).code, 0);
  });

  it('health and status with nothing listening: exit 1 and say so', async () => {
    const env = { AUTOTUNNEL_HTTP: `127.0.0.1:${await freePort()}` };
    const health = await command(['health'], env);
    assert.equal(health.code, 1);
    assert.match(health.output, /^unhealthy: nothing listens on http:\/\/127\.0\.0\.1:\d+\/readyz \(connection refused\)/);
    assert.equal(health.output.trim().split('\n').length, 1, 'one line');
    const status = await command(['status'], env);
    assert.equal(status.code, 1);
    assert.match(status.output, /autotunnel status: nothing listens on/);
    const off = await command(['health', '--live'], { AUTOTUNNEL_HTTP: 'off' });
    assert.equal(off.code, 1);
    assert.match(off.output, /turned off/);
  });

  it('the HTTP port already taken: an error in the log, and the tunnel still comes up', async () => {
    const server = await bed.sshd();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    try {
      const port = (squatter.address() as { port: number }).port;
      const run = await tunnel(server, { AUTOTUNNEL_HTTP: `127.0.0.1:${port}` });
      const error = await waitForLog(run.cli, { level: 'error' }, UP_TIMEOUT_MS);
      assert.match(error.msg, /already in use.*the tunnels keep running/);
      await waitForLog(run.cli, { state: 'up' }, UP_TIMEOUT_MS);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('a bad AUTOTUNNEL_HTTP is refused at start (exit 78)', async () => {
    const server = await bed.sshd();
    const run = bed.run(envFor(server, { AUTOTUNNEL_HTTP: 'everywhere' }));
    const { code } = await run.cli.exited(CLI_EXIT_TIMEOUT_MS);
    assert.equal(code, 78);
    assert.match(run.cli.output(), /AUTOTUNNEL_HTTP="everywhere": expected host:port/);
  });
});

describe('status page in headless Chromium', () => {
  const browser = chromiumContext();

  const badge = (page: Page) => page.locator('tr[data-tunnel="postgres"] .badge');
  const waitForBadge = (page: Page, text: string) =>
    page.waitForFunction((t) => document.querySelector('tr[data-tunnel="postgres"] .badge')?.textContent === t, text, { timeout: PAGE_TIMEOUT_MS });

  it('shows a tunnel go down and come back, in place, loading nothing from elsewhere', async () => {
    const server = await bed.sshd();
    const { run, base } = await tunnelWithHttp(server, { AUTOTUNNEL_NAME: 'postgres' });
    await waitForLog(run.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const page = browser().pages()[0] ?? (await browser().newPage());
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(`${base}/`);

    await waitForBadge(page, 'up');
    assert.equal(await page.locator('#summary').textContent(), 'postgres is up');
    assert.match(await page.title(), /postgres is up — autotunnel/);
    await page.evaluate(() => {
      // Survives only if the page patches the DOM instead of reloading or rebuilding it.
      (window as unknown as { marker: number }).marker = 1;
      (document.querySelector('tr[data-tunnel="postgres"]') as unknown as { marker: number }).marker = 1;
    });
    await page.screenshot({ path: join(OUTPUT_DIR, 'status-page-up.png') });

    await server.stop();
    await waitForBadge(page, 'down');
    assert.equal(await page.locator('#summary').textContent(), 'postgres is down');
    assert.ok(((await page.locator('tr[data-tunnel="postgres"] .cause-text').textContent()) ?? '').length > 10, 'the cause in words');
    await waitForLog(run.cli, { cause: 'connection_refused' }, UP_TIMEOUT_MS);
    await page.waitForFunction(() => /refused/.test(document.querySelector('tr[data-tunnel="postgres"] .cause-text')?.textContent ?? ''), null, { timeout: PAGE_TIMEOUT_MS });
    await page.screenshot({ path: join(OUTPUT_DIR, 'status-page-down.png') });

    await server.start();
    await waitForBadge(page, 'up');
    const restarts = Number(await page.locator('tr[data-tunnel="postgres"] .num').textContent());
    assert.ok(restarts >= 1, `restarts shown: ${restarts}`);
    assert.match((await page.locator('tr[data-tunnel="postgres"] .cause-text').textContent()) ?? '', /^last down \d\d:\d\d:\d\d: /);
    const outageCells = await page.locator('tr[data-tunnel="postgres"] .cell.c-blip, tr[data-tunnel="postgres"] .cell.c-down').count();
    assert.ok(outageCells >= 1, 'the outage shows on the timeline');
    await page.screenshot({ path: join(OUTPUT_DIR, 'status-page-back.png') });

    const kept = await page.evaluate(() => [(window as unknown as { marker?: number }).marker, (document.querySelector('tr[data-tunnel="postgres"]') as unknown as { marker?: number }).marker]);
    assert.deepEqual(kept, [1, 1], 'no reload, no rebuilt rows');
    assert.equal(await badge(page).count(), 1);
    assert.deepEqual(requests.filter((u) => !u.startsWith(`${base}/`)), [], 'nothing from anywhere else');
    assert.ok(requests.filter((u) => u.endsWith('/api/tunnels')).length >= 3, 'it polls the API');
    assert.deepEqual(consoleErrors, []);

    // autotunnel gone: the page says it lost contact instead of showing old news as current.
    await run.cli.kill();
    await page.waitForSelector('#offline:not([hidden])', { timeout: PAGE_TIMEOUT_MS });
    assert.match((await page.locator('#offline').textContent()) ?? '', /^Cannot reach autotunnel since \d\d:\d\d:\d\d/);
    assert.equal(await page.locator('#summary').textContent(), 'No answer from autotunnel');
    await page.screenshot({ path: join(OUTPUT_DIR, 'status-page-unreachable.png') });
  });
});
