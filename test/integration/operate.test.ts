/**
 * Operating many tunnels (issue 14) against real components: the built CLI, a real sshd, real
 * ssh, real TCP targets and real HTTP receivers on loopback — notifications, per-tunnel control
 * and the target's health.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer, connect, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CliProcess } from '../harness/cli.js';
import { OUTPUT_DIR, chromiumContext } from '../harness/browser.js';
import { waitFor } from '../harness/echo.js';
import type { TestSshd } from '../harness/sshd.js';
import { parseExposition } from '../unit/exposition.js';
import type { ApiTunnel, ApiTunnels } from '../../src/observe/api.js';
import { BIN, freePorts, logLines, testBed, waitForLog, type TunnelRun, serverYaml } from './helpers.js';

/** Generous bounds: they catch "never happens", not slowness. */
const UP_TIMEOUT_MS = 15_000;
const CLI_EXIT_TIMEOUT_MS = 15_000;

const bed = testBed();
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'autotunnel-operate-'));
});

interface Received {
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string;
}

/** A webhook receiver: answers 200, 500, or never. */
class Receiver {
  readonly received: Received[] = [];
  /** Requests still waiting for an answer (mode "hang"). */
  readonly open = new Set<ServerResponse>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
    public mode: 'ok' | 'fail' | 'hang',
  ) {}

  static async start(mode: 'ok' | 'fail' | 'hang'): Promise<Receiver> {
    let self: Receiver | undefined;
    const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        self!.received.push({ path: req.url ?? '', contentType: req.headers['content-type'], authorization: req.headers.authorization, body });
        if (self!.mode === 'hang') {
          self!.open.add(res);
          res.on('close', () => self!.open.delete(res));
          return;
        }
        res.writeHead(self!.mode === 'ok' ? 200 : 500).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new Receiver(server, (server.address() as { port: number }).port, mode);
    receivers.push(self);
    return self;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  json(): Array<Record<string, unknown>> {
    return this.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.close();
});

function defaultsYaml(server: TestSshd): string[] {
  return ['defaults:', ...serverYaml(server, '  ')];
}

/** A tunnels file with one tunnel: its own extra fields, one forward to a loopback target port. */
function oneTunnel(server: TestSshd, name: string, fields: string[], listen: string, target: number): string[] {
  return [...defaultsYaml(server), 'tunnels:', `  - name: ${name}`, ...fields.map((f) => `    ${f}`), '    forwards:', `      - ${listen}`, `        to: 127.0.0.1:${target}`];
}

function writeConfig(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function runWithHttp(file: string, env: Record<string, string | undefined> = {}): Promise<{ run: TunnelRun; base: string; http: string }> {
  const [port] = await freePorts(1);
  const http = `127.0.0.1:${port}`;
  const run = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined, AUTOTUNNEL_HTTP: http, ...env }, ['run', '-c', file]);
  await waitForLog(run.cli, { msg: /^status page, health, readiness and metrics on/ }, UP_TIMEOUT_MS);
  return { run, base: `http://${http}`, http };
}

async function command(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const cli = CliProcess.spawn([BIN, ...args], { env: { AUTOTUNNEL_CONFIG: undefined, AUTOTUNNEL_CONTROL_TOKEN_FILE: undefined, AUTOTUNNEL_NOTIFY_URL: undefined, ...env } });
  const { code } = await cli.exited(CLI_EXIT_TIMEOUT_MS);
  return { code, output: cli.output() };
}

async function apiTunnel(base: string, name: string): Promise<ApiTunnel> {
  const api = (await (await fetch(`${base}/api/tunnels`)).json()) as ApiTunnels;
  const t = api.tunnels.find((x) => x.name === name);
  assert.ok(t, `tunnel ${name} in /api/tunnels`);
  return t;
}

async function metric(base: string, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const { samples } = parseExposition(await (await fetch(`${base}/metrics`)).text());
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

function upPid(run: TunnelRun, tunnel: string, from = 0): number | undefined {
  return logLines(run.cli, from).filter((l) => l.tunnel === tunnel && l.state === 'up').at(-1)?.pid;
}

describe('notifications', () => {
  it('down after the threshold, nothing for a blip, back up with the duration; a hanging or failing receiver does not hold up recovery', async () => {
    const server = await bed.sshd();
    const good = await Receiver.start('ok');
    const hanging = await Receiver.start('hang');
    const failing = await Receiver.start('fail');
    const [local, target] = await freePorts(2);
    const urlFile = join(dir, 'slack-url');
    writeFileSync(urlFile, good.url('/slack/T000/B000/SECRET-IN-PATH') + '\n');
    const file = writeConfig('notify.yaml', [
      ...defaultsYaml(server),
      'notify:',
      `  - url: ${good.url('/json')}`,
      '    after: 2s',
      `  - url_file: ${urlFile}`,
      '    format: slack',
      '    after: 2s',
      `  - url: ${hanging.url('/hook/SECRET-HANG?token=SECRET-QUERY')}`,
      '    format: text',
      '    after: 2s',
      `  - url: http://user:SECRET-PASSWORD@127.0.0.1:${failing.port}/fail`,
      '    after: 2s',
      'tunnels:',
      '  - name: db',
      '    forwards:',
      `      - local: 127.0.0.1:${local}`,
      `        to: 127.0.0.1:${target}`,
    ]);
    const run = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', file]);
    const up = await waitForLog(run.cli, { tunnel: 'db', state: 'up' }, UP_TIMEOUT_MS);

    // A blip: ssh killed, back within a second; nothing is sent, even once the threshold passed.
    let mark = run.cli.mark();
    process.kill(up.pid!, 'SIGKILL');
    const again = await waitForLog(run.cli, { tunnel: 'db', state: 'up' }, UP_TIMEOUT_MS, mark);
    const blipMs = Date.parse(again.time) - Date.parse(logLines(run.cli, mark).find((l) => l.state === 'backoff')!.time);
    assert.ok(blipMs < 2_000, `the blip lasted ${blipMs} ms: shorter than "after"`);
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(good.received.length + hanging.received.length + failing.received.length, 0, 'no message for a blip');

    // Down for longer than the threshold: "down" to every receiver.
    mark = run.cli.mark();
    await server.stop();
    await waitFor(() => good.received.length >= 2, { timeoutMs: UP_TIMEOUT_MS, what: '"down" at the good receiver (json and slack)' });
    await waitFor(() => hanging.open.size === 1 && failing.received.length >= 1, { timeoutMs: UP_TIMEOUT_MS, what: 'the hanging receiver holding a request, the failing one asked' });
    const down = JSON.parse(good.received.find((r) => r.path === '/json')!.body) as Record<string, unknown>;
    assert.equal(down.tunnel, 'db');
    assert.equal(down.state, 'down');
    assert.equal(typeof down.cause, 'string');
    assert.match(String(down.summary), /\S/);
    assert.ok(Number(down.downSeconds) >= 2, `down for ${down.downSeconds}s`);
    assert.ok(Number(down.upSeconds) > 0, 'how long it had been up');
    assert.match(String(down.time), /^\d{4}-\d\d-\d\dT/);
    assert.match(String(down.host), /\S/);
    const slack = good.received.find((r) => r.path.startsWith('/slack/'))!;
    assert.equal(slack.contentType, 'application/json');
    assert.deepEqual(Object.keys(JSON.parse(slack.body) as object), ['text']);
    assert.match((JSON.parse(slack.body) as { text: string }).text, /^autotunnel on \S+: tunnel db is down \(for [\d.]+s\): /);
    assert.match(hanging.received[0]!.body, /^autotunnel on \S+: tunnel db is down/);
    assert.match(hanging.received[0]!.contentType ?? '', /^text\/plain/);

    assert.equal(failing.received[0]!.authorization, `Basic ${Buffer.from('user:SECRET-PASSWORD').toString('base64')}`, 'user:password in the URL as Basic authentication');

    // Back: the tunnel comes up while deliveries are still pending (the hanging one holds its request).
    await server.start();
    const back = await waitForLog(run.cli, { tunnel: 'db', state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal(hanging.open.size, 1, 'the hanging receiver still holds the "down" request when the tunnel is back up');
    await waitFor(() => good.received.length >= 4, { timeoutMs: UP_TIMEOUT_MS, what: '"back up" at the good receiver' });
    const upMsg = good.json().find((m) => m.state === 'up')!;
    assert.equal(upMsg.tunnel, 'db');
    assert.ok(Number(upMsg.downSeconds) >= 2, `back up after ${upMsg.downSeconds}s down`);
    assert.ok(Date.parse(back.time) - Date.parse(String(down.time)) >= 0);

    // Failed deliveries: one log line per receiver per burst; URLs only redacted.
    await waitFor(() => failing.received.length >= 2, { timeoutMs: UP_TIMEOUT_MS, what: 'a retry to the failing receiver' });
    const failures = logLines(run.cli).filter((l) => /^notification to /.test(l.msg));
    assert.equal(failures.filter((l) => String(l.notify).includes(`:${failing.port}`)).length, 1, 'the failing receiver is logged once');
    const output = run.cli.output();
    for (const secret of ['SECRET-IN-PATH', 'SECRET-HANG', 'SECRET-QUERY', 'SECRET-PASSWORD']) assert.ok(!output.includes(secret), `${secret} never printed`);
    assert.match(output, new RegExp(`http://127\\.0\\.0\\.1:${failing.port}/fail`));
    assert.match(output, new RegExp(`http://127\\.0\\.0\\.1:${hanging.port}/hook/…`));
  });

  it('notify-test: one message to each receiver; exit 1 naming the one that failed, 0 when all arrive', async () => {
    const good = await Receiver.start('ok');
    const failing = await Receiver.start('fail');
    const file = writeConfig('notify-test.yaml', [
      'notify:',
      `  - url: ${failing.url('/x/SECRET-T')}`,
      'tunnels:',
      '  - name: t',
      '    server: { host: 127.0.0.1 }',
      '    forwards: [{ local: 1, to: "h:1" }]',
    ]);
    const env = { AUTOTUNNEL_NOTIFY_URL: good.url('/ntfy'), AUTOTUNNEL_NOTIFY_FORMAT: 'text' };
    const mixed = await command(['notify-test', '-c', file], env);
    assert.equal(mixed.code, 1, mixed.output);
    assert.match(mixed.output, new RegExp(`FAILED  http://127\\.0\\.0\\.1:${failing.port}/x/… \\(notify\\[0\\]\\.url, json\\): HTTP 500`));
    assert.match(mixed.output, new RegExp(`ok      http://127\\.0\\.0\\.1:${good.port}/ntfy \\(AUTOTUNNEL_NOTIFY_URL, text\\)`));
    assert.ok(!mixed.output.includes('SECRET-T'));
    assert.match(good.received[0]!.body, /test message/);
    assert.equal(JSON.parse(failing.received[0]!.body).state, 'test');
    const ok = await command(['notify-test'], env);
    assert.equal(ok.code, 0, ok.output);
  });

  it('bad notification settings: exit 78 with the setting named, the URL never echoed', async () => {
    const bad = await command(['notify-test'], { AUTOTUNNEL_NOTIFY_URL: 'ftp://user:SECRET@host/x', AUTOTUNNEL_NOTIFY_FORMAT: 'xml' });
    assert.equal(bad.code, 78);
    assert.match(bad.output, /AUTOTUNNEL_NOTIFY_URL: expected an http:\/\/ or https:\/\/ URL/);
    assert.match(bad.output, /AUTOTUNNEL_NOTIFY_FORMAT="xml": expected json/);
    assert.ok(!bad.output.includes('SECRET'));
    const invalid = await command(['notify-test'], { AUTOTUNNEL_NOTIFY_URL: 'not a url' });
    assert.equal(invalid.code, 78);
    assert.match(invalid.output, /AUTOTUNNEL_NOTIFY_URL: not a URL/);
    const none = await command(['notify-test'], {});
    assert.equal(none.code, 78);
    assert.match(none.output, /no notification receiver is configured/);
    const file = writeConfig('bad-notify.yaml', ['notify:', '  - url: https://hooks.example.com/x', '    format: teams', '    after: soon', 'tunnels:', '  - name: t', '    server: { host: 127.0.0.1 }', '    forwards: [{ local: 1, to: "h:1" }]']);
    const yaml = await command(['check', '-c', file], {});
    assert.equal(yaml.code, 78);
    assert.match(yaml.output, /bad-notify\.yaml:3:13 notify\[0\]\.format="teams": expected json/);
    assert.match(yaml.output, /bad-notify\.yaml:4:12 notify\[0\]\.after="soon": expected a duration/);
  });
});

describe('per-tunnel control', () => {
  it('enabled: false, stop, start, restart through the CLI; a reload keeps a stopped tunnel stopped unless its definition changed', async () => {
    const server = await bed.sshd();
    const echo = bed.echo();
    const [pa, pb] = await freePorts(2);
    const tokenFile = join(dir, 'control-token');
    writeFileSync(tokenFile, 'correct horse battery staple\n');
    const wrongFile = join(dir, 'wrong-token');
    writeFileSync(wrongFile, 'wrong\n');
    const yaml = (timeoutA: number) => [
      ...defaultsYaml(server),
      'control:',
      `  token_file: ${tokenFile}`,
      'tunnels:',
      '  - name: a',
      `    connect_timeout: ${timeoutA}`,
      '    forwards:',
      `      - local: 127.0.0.1:${pa}`,
      `        to: 127.0.0.1:${echo.port}`,
      '  - name: b',
      '    enabled: false',
      '    forwards:',
      `      - local: 127.0.0.1:${pb}`,
      `        to: 127.0.0.1:${echo.port}`,
    ];
    const file = writeConfig('control.yaml', yaml(10));
    const { run, base, http } = await runWithHttp(file);
    const env = { AUTOTUNNEL_HTTP: http, AUTOTUNNEL_CONTROL_TOKEN_FILE: tokenFile };
    const upA = await waitForLog(run.cli, { tunnel: 'a', state: 'up' }, UP_TIMEOUT_MS);
    await waitForLog(run.cli, { tunnel: 'b', state: 'disabled' }, UP_TIMEOUT_MS);

    // Disabled everywhere, and readiness does not wait for it.
    assert.equal((await apiTunnel(base, 'b')).state, 'disabled');
    assert.equal(await metric(base, 'autotunnel_tunnel_state', { tunnel: 'b', state: 'disabled' }), 1);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const status = await command(['status'], { AUTOTUNNEL_HTTP: http });
    assert.match(status.output, /\nb +disabled +\S+ ago +0 +enabled: false/);
    assert.equal(((await (await fetch(`${base}/api/tunnels`)).json()) as ApiTunnels).control, true);

    // Refusals: no token 401, wrong token 403, GET never acts, unknown name 404 / exit 64.
    assert.equal((await fetch(`${base}/api/tunnels/a/stop`, { method: 'POST' })).status, 401);
    assert.equal((await fetch(`${base}/api/tunnels/a/stop`, { method: 'POST', headers: { authorization: 'Bearer nope' } })).status, 403);
    assert.equal((await fetch(`${base}/api/tunnels/a/stop`)).status, 405);
    const wrong = await command(['stop', 'a', '--token-file', wrongFile], { AUTOTUNNEL_HTTP: http });
    assert.equal(wrong.code, 78);
    assert.match(wrong.output, /wrong control token/);
    const unknown = await command(['restart', 'nosuch'], env);
    assert.equal(unknown.code, 64);
    assert.match(unknown.output, /no tunnel named "nosuch"; the tunnels are: a, b/);
    assert.equal(logLines(run.cli).filter((l) => l.tunnel === 'a' && l.state !== undefined && l.state !== 'connecting' && l.state !== 'up').length, 0, 'a untouched so far');

    // stop a: stopped, and readiness no longer waits for it.
    let mark = run.cli.mark();
    const stop = await command(['stop', 'a'], env);
    assert.equal(stop.code, 0, stop.output);
    assert.match(stop.output, /a stopped/);
    await waitForLog(run.cli, { tunnel: 'a', state: 'stopped', cause: 'stopped_by_request' }, UP_TIMEOUT_MS, mark);
    assert.equal((await apiTunnel(base, 'a')).held, true);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);

    // A reload that does not change a: it stays stopped.
    mark = run.cli.mark();
    run.cli.signal('SIGHUP');
    await waitForLog(run.cli, { msg: /reloaded .*0 changed, 2 unchanged/ }, UP_TIMEOUT_MS, mark);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await apiTunnel(base, 'a')).state, 'stopped');

    // start b (disabled) and a (stopped): both up; a restart restarts ssh.
    mark = run.cli.mark();
    assert.equal((await command(['start', 'b'], env)).code, 0);
    assert.equal((await command(['start', 'a', '-c', file], { AUTOTUNNEL_HTTP: http })).code, 0, 'token from the tunnels file');
    await waitForLog(run.cli, { tunnel: 'b', state: 'up' }, UP_TIMEOUT_MS, mark);
    await waitForLog(run.cli, { tunnel: 'a', state: 'up' }, UP_TIMEOUT_MS, mark);
    const pidBefore = upPid(run, 'a', mark)!;
    assert.notEqual(pidBefore, upA.pid);
    mark = run.cli.mark();
    const restart = await command(['restart', 'a'], env);
    assert.equal(restart.code, 0, restart.output);
    await waitForLog(run.cli, { tunnel: 'a', state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.notEqual(upPid(run, 'a', mark), pidBefore, 'a new ssh');
    assert.equal(logLines(run.cli, mark).filter((l) => l.tunnel === 'b' && l.state !== undefined).length, 0, 'b untouched by a restart of a');

    // stop a, then a reload that changes its definition: the new definition runs.
    mark = run.cli.mark();
    assert.equal((await command(['stop', 'a'], env)).code, 0);
    await waitForLog(run.cli, { tunnel: 'a', state: 'stopped' }, UP_TIMEOUT_MS, mark);
    writeFileSync(file, yaml(11).join('\n') + '\n');
    run.cli.signal('SIGHUP');
    await waitForLog(run.cli, { msg: /reloaded .*1 changed/ }, UP_TIMEOUT_MS, mark);
    await waitForLog(run.cli, { tunnel: 'a', state: 'up' }, UP_TIMEOUT_MS, mark);
  });

  it('control off, no listener, bad token files: clear messages and the documented exit codes', async () => {
    const server = await bed.sshd();
    const [pa] = await freePorts(1);
    const file = writeConfig('no-control.yaml', oneTunnel(server, 'a', [], `local: 127.0.0.1:${pa}`, bed.echo().port));
    const { http } = await runWithHttp(file);
    const tokenFile = join(dir, 'token-2');
    writeFileSync(tokenFile, 'x');
    const off = await command(['restart', 'a', '--token-file', tokenFile], { AUTOTUNNEL_HTTP: http });
    assert.equal(off.code, 78);
    assert.match(off.output, /control is turned off: set AUTOTUNNEL_CONTROL_TOKEN_FILE/);

    const [nothing] = await freePorts(1);
    const none = await command(['restart', 'a', '--token-file', tokenFile], { AUTOTUNNEL_HTTP: `127.0.0.1:${nothing}` });
    assert.equal(none.code, 1);
    assert.equal(none.output.trim().split('\n').length, 1, none.output);
    assert.match(none.output, /nothing listens on/);

    const empty = join(dir, 'empty-token');
    writeFileSync(empty, '\n');
    const emptyCli = await command(['stop', 'a', '--token-file', empty], { AUTOTUNNEL_HTTP: http });
    assert.equal(emptyCli.code, 78);
    assert.match(emptyCli.output, /--token-file="[^"]*empty-token": the file is empty/);
    const noName = await command(['stop'], { AUTOTUNNEL_HTTP: http });
    assert.equal(noName.code, 64);

    // The service itself refuses an empty or unreadable token file at start.
    const serverEmpty = await command(['run', '-c', file], { AUTOTUNNEL_CONTROL_TOKEN_FILE: empty, AUTOTUNNEL_HTTP: 'off' });
    assert.equal(serverEmpty.code, 78);
    assert.match(serverEmpty.output, /AUTOTUNNEL_CONTROL_TOKEN_FILE="[^"]*": the file is empty/);
    // Unreadable: a directory where the file should be (root reads a mode-0000 file, so that is tried only as another user).
    const serverDir = await command(['run', '-c', file], { AUTOTUNNEL_CONTROL_TOKEN_FILE: dir, AUTOTUNNEL_HTTP: 'off' });
    assert.equal(serverDir.code, 78);
    assert.match(serverDir.output, /AUTOTUNNEL_CONTROL_TOKEN_FILE="[^"]*": cannot read it \(not a regular file \(a device, FIFO or directory\)\)/);
    if (process.getuid?.() !== 0) {
      const unreadable = join(dir, 'unreadable-token');
      writeFileSync(unreadable, 'secret');
      chmodSync(unreadable, 0o000);
      const serverUnreadable = await command(['run', '-c', file], { AUTOTUNNEL_CONTROL_TOKEN_FILE: unreadable, AUTOTUNNEL_HTTP: 'off' });
      assert.equal(serverUnreadable.code, 78);
      assert.match(serverUnreadable.output, /cannot read it \(EACCES\)/);
    }
  });
});

describe("the target's health", () => {
  it('-L with check: target unreachable while the link stays up (same ssh), then reachable again; readiness waits for it', async () => {
    const server = await bed.sshd();
    const [local, target] = await freePorts(2);
    const file = writeConfig('target-l.yaml', oneTunnel(server, 'web', ['check: { tcp: true, every: 1s }', 'ready_requires_target: true'], `local: 127.0.0.1:${local}`, target));
    const { run, base, http } = await runWithHttp(file);
    const up = await waitForLog(run.cli, { tunnel: 'web', state: 'up' }, UP_TIMEOUT_MS);
    const unreachable = await waitForLog(run.cli, { tunnel: 'web', target: 'unreachable' }, UP_TIMEOUT_MS);
    assert.match(unreachable.msg, /^up, target unreachable: the server could not reach the target \(connection refused\)/);
    assert.match(String(unreachable.ssh_said), /^channel \d+: open failed: connect failed: Connection refused$/);
    await waitFor(async () => ((await metric(base, 'autotunnel_tunnel_target_errors_total', { tunnel: 'web' })) ?? 0) >= 2, { timeoutMs: UP_TIMEOUT_MS, what: 'two failed checks counted' });
    assert.equal(await metric(base, 'autotunnel_tunnel_target_reachable', { tunnel: 'web' }), 0);
    assert.equal(await metric(base, 'autotunnel_tunnel_up', { tunnel: 'web' }), 1, 'the link is up');
    const t = await apiTunnel(base, 'web');
    assert.equal(t.state, 'up');
    assert.equal(t.target.reachable, false);
    assert.match(t.target.lastError!.summary, /connection refused/);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { message: string }).message, /web up, target unreachable: /);
    const status = await command(['status'], { AUTOTUNNEL_HTTP: http });
    assert.match(status.output, /\nweb +up, target unreachable +\S+ ago +0 +the server could not reach the target \(connection refused\)/);
    assert.equal(logLines(run.cli).filter((l) => l.target === 'unreachable').length, 1, 'logged once, not per failed check');

    // The target starts: the next check reaches it.
    const listener: NetServer = createServer((s) => s.end());
    await new Promise<void>((resolve) => listener.listen(target, '127.0.0.1', resolve));
    try {
      await waitForLog(run.cli, { tunnel: 'web', target: 'reachable' }, UP_TIMEOUT_MS);
      assert.equal(await metric(base, 'autotunnel_tunnel_target_reachable', { tunnel: 'web' }), 1);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      assert.equal(logLines(run.cli).filter((l) => l.tunnel === 'web' && l.state !== undefined && l.state !== 'connecting' && l.state !== 'up').length, 0, 'ssh never restarted');
      assert.equal(upPid(run, 'web'), up.pid);
    } finally {
      listener.close();
    }
  });

  it('-D with check.target: the SOCKS check finds the target refused, then reached', async () => {
    const server = await bed.sshd();
    const [socks, target] = await freePorts(2);
    const file = writeConfig('target-d.yaml', [
      ...defaultsYaml(server),
      'tunnels:',
      '  - name: proxy',
      `    check: { tcp: true, every: 1s, target: "127.0.0.1:${target}" }`,
      `    forwards: [{ dynamic: "127.0.0.1:${socks}" }]`,
    ]);
    const { run, base } = await runWithHttp(file);
    const up = await waitForLog(run.cli, { tunnel: 'proxy', state: 'up' }, UP_TIMEOUT_MS);
    const unreachable = await waitForLog(run.cli, { tunnel: 'proxy', target: 'unreachable' }, UP_TIMEOUT_MS);
    assert.match(unreachable.msg, /the server could not reach the target \(connection refused\)/);
    const listener: NetServer = createServer((s) => s.end());
    await new Promise<void>((resolve) => listener.listen(target, '127.0.0.1', resolve));
    try {
      await waitForLog(run.cli, { tunnel: 'proxy', target: 'reachable' }, UP_TIMEOUT_MS);
      assert.equal((await apiTunnel(base, 'proxy')).target.reachable, true);
      assert.equal(upPid(run, 'proxy'), up.pid, 'ssh never restarted');
    } finally {
      listener.close();
    }
  });

  it('-R: a connection to the server-side port whose target is down is counted; a later one that reaches it clears it', async () => {
    const server = await bed.sshd();
    const [remote, target] = await freePorts(2);
    const file = writeConfig('target-r.yaml', oneTunnel(server, 'pub', [], `remote: 127.0.0.1:${remote}`, target));
    const { run, base } = await runWithHttp(file);
    await waitForLog(run.cli, { tunnel: 'pub', state: 'up' }, UP_TIMEOUT_MS);
    const poke = () =>
      new Promise<void>((resolve) => {
        const s = connect(remote, '127.0.0.1');
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        setTimeout(() => s.destroy(), 1_000).unref();
      });
    await poke();
    const unreachable = await waitForLog(run.cli, { tunnel: 'pub', target: 'unreachable' }, UP_TIMEOUT_MS);
    assert.match(unreachable.msg, new RegExp(`the target 127\\.0\\.0\\.1:${target} could not be reached from here \\(connection refused\\)`));
    assert.equal((await apiTunnel(base, 'pub')).target.errors, 1);
    const listener: NetServer = createServer((s) => s.end());
    await new Promise<void>((resolve) => listener.listen(target, '127.0.0.1', resolve));
    try {
      await poke();
      await waitForLog(run.cli, { tunnel: 'pub', target: 'reachable' }, UP_TIMEOUT_MS);
      const t = await apiTunnel(base, 'pub');
      assert.equal(t.target.reachable, true);
      assert.equal(t.target.errors, 1);
    } finally {
      listener.close();
    }
  });
});

describe('the status page, with control on, in headless Chromium', () => {
  const browser = chromiumContext({ width: 1280, height: 480 });

  it('buttons only with control on; the token asked once and kept in the tab, never in the page; disabled and target unreachable shown', async () => {
    const server = await bed.sshd();
    const [pa, pb, pc, dead] = await freePorts(4);
    const echo = bed.echo();
    const token = 'page-token-0123456789';
    const tokenFile = join(dir, 'page-token');
    writeFileSync(tokenFile, token + '\n');
    const file = writeConfig('page.yaml', [
      ...defaultsYaml(server),
      `control: { token_file: ${tokenFile} }`,
      'tunnels:',
      '  - name: alpha',
      `    forwards: [{ local: "127.0.0.1:${pa}", to: "127.0.0.1:${echo.port}" }]`,
      '  - name: beta',
      '    enabled: false',
      `    forwards: [{ local: "127.0.0.1:${pb}", to: "127.0.0.1:${echo.port}" }]`,
      '  - name: gamma',
      '    check: { tcp: true, every: 1s }',
      `    forwards: [{ local: "127.0.0.1:${pc}", to: "127.0.0.1:${dead}" }]`,
    ]);
    const { run, base } = await runWithHttp(file);
    await waitForLog(run.cli, { tunnel: 'alpha', state: 'up' }, UP_TIMEOUT_MS);
    await waitForLog(run.cli, { tunnel: 'gamma', target: 'unreachable' }, UP_TIMEOUT_MS);

    const page = browser().pages()[0] ?? (await browser().newPage());
    const prompts: string[] = [];
    page.on('dialog', (d) => {
      prompts.push(`${d.type()}: ${d.message()}`);
      void (d.type() === 'prompt' ? d.accept(token) : d.dismiss());
    });
    await page.goto(`${base}/`);
    const row = (name: string) => `tr[data-tunnel="${name}"]`;
    const visibleButtons = (name: string) => page.locator(`${row(name)} .actions:not([hidden]) button:not([hidden])`).allTextContents();
    await page.waitForFunction(() => document.querySelectorAll('tr.tunnel').length === 3, null, { timeout: UP_TIMEOUT_MS });
    await page.waitForFunction(() => /target unreachable/.test(document.querySelector('tr[data-tunnel="gamma"] .cause-text')?.textContent ?? ''), null, { timeout: UP_TIMEOUT_MS });
    assert.deepEqual(await visibleButtons('alpha'), ['restart', 'stop']);
    assert.deepEqual(await visibleButtons('beta'), ['start']);
    assert.equal(await page.locator(`${row('beta')} .badge`).textContent(), 'disabled');
    assert.match((await page.locator(`${row('gamma')} .cause-text`).textContent()) ?? '', /^up, target unreachable: the server could not reach the target \(connection refused\)$/);
    assert.equal(await page.locator(`${row('gamma')} .badge`).getAttribute('class'), 'badge b-target');
    await page.screenshot({ path: join(OUTPUT_DIR, 'status-page-control.png') });

    // Stop alpha: the token is asked for, once.
    await page.locator(`${row('alpha')} button[data-action="stop"]`).click();
    await page.waitForFunction(() => document.querySelector('tr[data-tunnel="alpha"] .badge')?.textContent === 'stopped', null, { timeout: UP_TIMEOUT_MS });
    assert.equal(prompts.length, 1);
    assert.match(prompts[0]!, /^prompt: Control token/);
    assert.deepEqual(await visibleButtons('alpha'), ['start']);
    // Start beta: no second prompt.
    await page.locator(`${row('beta')} button[data-action="start"]`).click();
    await page.waitForFunction(() => document.querySelector('tr[data-tunnel="beta"] .badge')?.textContent === 'up', null, { timeout: UP_TIMEOUT_MS });
    assert.equal(prompts.length, 1, 'the token is kept for the tab');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('autotunnel-control-token')), token);
    assert.ok(!(await (await fetch(`${base}/`)).text()).includes(token), 'the page never embeds the token');
    assert.ok(!(await (await fetch(`${base}/api/tunnels`)).text()).includes(token));
    await page.evaluate(() => sessionStorage.clear());
  });
});
