/** The HTTP listener and its wiring, on a loopback port with a supervisor of fake tunnels. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { TunnelSpec } from '../../src/config/spec.js';
import { createLogger } from '../../src/observe/logger.js';
import { startObservability, type Observability } from '../../src/observe/observability.js';
import { STATUS_PAGE_CSP } from '../../src/observe/status-page.js';
import type { ApiLiveness, ApiReadiness, ApiTunnels } from '../../src/observe/api.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { FakeClock, FakeSpawner, REMOTE_4000_OK, fakeTunnel } from './fakes.js';

function world() {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const supervisor = new Supervisor(clock);
  const add = (name: string, extra: Partial<TunnelSpec> = {}) => {
    const t = fakeTunnel(name, clock, spawner, extra);
    supervisor.add(t);
    return t;
  };
  const lines: string[] = [];
  const logger = createLogger({ format: 'json', level: 'debug', write: (l) => lines.push(l) });
  return { clock, spawner, supervisor, add, logger, lines };
}

async function get(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('HTTP listener', () => {
  const w = world();
  let obs: Observability;
  let base: string;
  before(async () => {
    w.add('web');
    w.add('batch', { required: false });
    obs = await startObservability(w.supervisor, { logger: w.logger, httpAddress: { host: '127.0.0.1', port: 0 }, version: '9.9.9', now: () => w.clock.now() });
    base = obs.address!;
    w.supervisor.startAll();
    await w.clock.advance(100);
    w.spawner.spawned[0]!.say(REMOTE_4000_OK);
    await w.clock.advance(0);
  });
  after(() => obs.close());

  test('announces where it listens, with the bound port', () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(w.lines.some((l) => l.includes('status page, health, readiness and metrics on') && l.includes(base)));
  });

  test('/healthz: alive, whatever the tunnels do', async () => {
    const r = await get(`${base}/healthz`);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text) as ApiLiveness;
    assert.equal(body.live, true);
    assert.equal(body.message, 'alive: supervising 2 tunnels');
  });

  test('/readyz: only required tunnels count, with per-tunnel detail', async () => {
    const r = await get(`${base}/readyz`);
    assert.equal(r.status, 200, r.text);
    const body = JSON.parse(r.text) as ApiReadiness;
    assert.equal(body.ready, true);
    assert.deepEqual(body.tunnels.map((t) => [t.name, t.required, t.state]), [
      ['web', true, 'up'],
      ['batch', false, 'connecting'],
    ]);
  });

  test('/api/tunnels: every tunnel, described', async () => {
    const r = await get(`${base}/api/tunnels`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^application\/json/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const body = JSON.parse(r.text) as ApiTunnels;
    assert.equal(body.version, '9.9.9');
    assert.equal(body.tunnels[0]!.description, '-R 127.0.0.1:4000:localhost:80 via deploy@bastion:22');
    assert.equal(body.tunnels[0]!.lastConnectSeconds, 0.1);
    assert.equal(body.tunnels[0]!.timeline.buckets.length, 60);
  });

  test('/metrics: the Prometheus text content type', async () => {
    const r = await get(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(r.text, /^autotunnel_tunnel_up\{tunnel="web"\} 1$/m);
    assert.match(r.text, /^autotunnel_build_info\{version="9\.9\.9",node="v\d+/m);
  });

  test('/: the page, with its Content-Security-Policy', async () => {
    const r = await get(`${base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/html/);
    assert.equal(r.headers.get('content-security-policy'), STATUS_PAGE_CSP);
    assert.match(r.text, /^<!doctype html>/);
  });

  test('HEAD, a trailing slash, unknown paths, other methods', async () => {
    const head = await get(`${base}/readyz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await get(`${base}/healthz/`)).status, 200);
    const missing = await get(`${base}/nope?x=1`);
    assert.equal(missing.status, 404);
    assert.match(missing.text, /\/readyz/);
    const post = await get(`${base}/readyz`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('/readyz turns 503 when a required tunnel goes down, and says why', async () => {
    w.spawner.spawned[0]!.exit({ code: null, signal: 'SIGKILL' });
    await w.clock.advance(0);
    w.spawner.last.exit({ code: 255, signal: null });
    await w.clock.advance(0);
    const r = await get(`${base}/readyz`);
    assert.equal(r.status, 503);
    assert.match((JSON.parse(r.text) as ApiReadiness).message, /^not ready: 0 of 1 required tunnel up; web down for /);
    assert.equal((await get(`${base}/healthz`)).status, 200, 'a down tunnel never fails liveness');
  });
});

describe('startObservability', () => {
  let squatter: Server;
  let port: number;
  before(async () => {
    squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    port = (squatter.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => squatter.close(() => resolve())));

  test('a port in use is logged as an error and the tunnels carry on', async () => {
    const w = world();
    const t = w.add('web');
    const obs = await startObservability(w.supervisor, { logger: w.logger, httpAddress: { host: '127.0.0.1', port }, version: '1' });
    assert.equal(obs.address, undefined);
    const line = JSON.parse(w.lines.find((l) => l.includes('"level":"error"'))!) as { msg: string };
    assert.match(line.msg, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use.*the tunnels keep running.*AUTOTUNNEL_HTTP`));
    w.supervisor.startAll();
    assert.equal(t.state, 'connecting');
    await obs.close();
    await w.supervisor.stopAll();
  });

  test('off: nothing listens, and the log says so', async () => {
    const w = world();
    w.add('web');
    const obs = await startObservability(w.supervisor, { logger: w.logger, httpAddress: undefined, version: '1' });
    assert.equal(obs.address, undefined);
    assert.ok(w.lines.some((l) => l.includes('HTTP listener off')));
    await obs.close();
  });

  test('close() does not wait for an idle keep-alive connection', async () => {
    const w = world();
    w.add('web');
    const obs = await startObservability(w.supervisor, { logger: w.logger, httpAddress: { host: '127.0.0.1', port: 0 }, version: '1' });
    await get(`${obs.address}/healthz`, { keepalive: true });
    const started = Date.now();
    await obs.close();
    assert.ok(Date.now() - started < 1_000, `closed in ${Date.now() - started} ms`);
  });
});
