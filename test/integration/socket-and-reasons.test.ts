/**
 * Unix-socket local forwards that must come back after ssh exits, and failures no rule explains
 * that must still say what ssh said — the built CLI against a real sshd and the real ssh.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type TestSshd } from '../harness/sshd.js';
import { waitFor } from '../harness/echo.js';
import { envFor, logLines, testBed, waitForLog, serverYaml } from './helpers.js';

const UP_TIMEOUT_MS = 15_000;

const bed = testBed();

/** Sends bytes to a Unix socket and reports whether the same bytes came back. Never throws. */
function socketRoundTrip(path: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const payload = `hello ${Date.now()} ${Math.random()}\n`;
    let got = '';
    const socket = connect({ path });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (d) => {
      got += d.toString();
      if (got.length >= payload.length) done(got === payload);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

function socketTunnelFile(server: TestSshd, socketPath: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'autotunnel-sockcfg-'));
  const file = join(dir, 'tunnels.yaml');
  writeFileSync(
    file,
    [
      'tunnels:',
      '  - name: sock',
      ...serverYaml(server, '    '),
      '    forwards:',
      `      - local: ${socketPath}`,
      `        to: 127.0.0.1:${bed.echo().port}`,
    ].join('\n') + '\n',
  );
  return file;
}

describe('a Unix-socket local forward', () => {
  let server: TestSshd;
  before(async () => {
    server = await bed.sshd();
  });

  it('comes back after ssh exits: the stale socket file it left is removed', async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'autotunnel-sock-')), 'app.sock');
    const r = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', socketTunnelFile(server, socketPath)]);
    await waitForLog(r.cli, { tunnel: 'sock', state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await socketRoundTrip(socketPath), true);

    const mark = r.cli.mark();
    await server.restart();
    const down = await waitForLog(r.cli, { state: 'backoff' }, UP_TIMEOUT_MS, mark);
    assert.notEqual(down.cause, 'local_port_in_use', JSON.stringify(down));
    await waitForLog(r.cli, { tunnel: 'sock', state: 'up' }, UP_TIMEOUT_MS, mark);
    await waitFor(() => socketRoundTrip(socketPath), { timeoutMs: UP_TIMEOUT_MS, what: 'a round trip through the socket again' });
    const failures = logLines(r.cli, mark).filter((l) => l.state === 'backoff');
    assert.equal(failures.some((l) => l.cause === 'local_port_in_use' || l.cause === 'local_socket_in_use'), false, JSON.stringify(failures));
  });

  it('a socket path another process listens on is left alone, and the cause names the path, not a port', async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'autotunnel-sock-')), 'taken.sock');
    const other = createServer((c) => c.pipe(c));
    await new Promise<void>((resolve) => other.listen(socketPath, resolve));
    try {
      const r = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', socketTunnelFile(server, socketPath)]);
      const taken = await waitForLog(r.cli, { state: 'backoff' }, UP_TIMEOUT_MS);
      assert.equal(taken.cause, 'local_socket_in_use', JSON.stringify(taken));
      assert.ok(taken.msg.includes(socketPath), taken.msg);
      assert.doesNotMatch(taken.msg, /port/);
      assert.doesNotMatch(taken.fix ?? '', /SSH_TUNNEL_PORT/);
      assert.equal(existsSync(socketPath), true, "the other process's socket is still there");
      assert.equal(await socketRoundTrip(socketPath), true, 'and still answers');
    } finally {
      other.close();
    }
  });
});

describe('a failure no rule explains', () => {
  it('shows what ssh said (log line, ssh_said, API and page) instead of "without saying why"', async () => {
    const server = await bed.sshd();
    const [tunnelPort, httpPort] = [await freePort(), await freePort()];
    const r = bed.run(
      envFor(server, {
        SSH_MODE: '-L',
        SSH_TUNNEL_PORT: String(tunnelPort),
        SSH_TARGET_PORT: String(bed.echo().port),
        SSH_OPTIONS: '-c nosuchcipher',
        AUTOTUNNEL_HTTP: `127.0.0.1:${httpPort}`,
      }),
    );
    const down = await waitForLog(r.cli, { state: 'backoff' }, UP_TIMEOUT_MS);
    assert.doesNotMatch(down.msg, /without saying why/);
    assert.match(down.msg, /Unknown cipher type 'nosuchcipher'/);
    assert.equal(down.ssh_said, "Unknown cipher type 'nosuchcipher'");
    const api = (await (await fetch(`http://127.0.0.1:${httpPort}/api/tunnels`)).json()) as { tunnels: Array<{ lastCause: { summary: string; line?: string } | null }> };
    const cause = api.tunnels[0]!.lastCause!;
    assert.match(cause.summary, /Unknown cipher type 'nosuchcipher'/, 'the summary the status page shows');
    assert.equal(cause.line, "Unknown cipher type 'nosuchcipher'");
  });
});
