/**
 * Issue 11 (hardening) against real components: the built CLI, a real OpenSSH sshd and ssh, real
 * file systems (a full tmpfs, a read-only /dev/shm in a mount namespace), real sockets (a
 * listener that resets connections, slow clients) and headless Chromium.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { CliProcess } from '../harness/cli.js';
import { roundTrip, waitFor } from '../harness/echo.js';
import { sshClientsFor } from '../harness/procs.js';
import { freePort } from '../harness/sshd.js';
import { BIN, envFor, logLines, testBed, waitForLog, type TunnelRun } from './helpers.js';

/** Generous bounds: they catch "never happens", not slowness. */
const UP_TIMEOUT_MS = 15_000;
const CLI_EXIT_TIMEOUT_MS = 10_000;
const CHROMIUM = '/usr/bin/chromium';

const bed = testBed();
const dir = mkdtempSync(join(tmpdir(), 'autotunnel-hardening-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `autotunnel <args>` to completion. */
async function command(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; output: string }> {
  const cli = CliProcess.spawn([BIN, ...args], { env: { AUTOTUNNEL_HTTP: 'off', ...env } });
  const { code } = await cli.exited(CLI_EXIT_TIMEOUT_MS);
  return { code, output: cli.output() };
}

/** A one-tunnel file through `server` (forward and server lines given as YAML flow text). */
function tunnelsFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const SSH_VARS = { SSH_REMOTE_HOST: '127.0.0.1', SSH_REMOTE_PORT: '1', SSH_TUNNEL_PORT: '40000', SSH_MODE: '-L', SSH_KEY_FILE: undefined, SSH_KNOWN_HOSTS_FILE: undefined };

function assertNoStackTrace(output: string): void {
  assert.doesNotMatch(output, /\n\s+at .+:\d+:\d+|unexpected error/, 'no stack trace');
}

describe('item 1: trust on first use on a full state directory', () => {
  it('the key that never reached the disk stops the tunnel once up; a server with another key is then refused', async () => {
    const own = await bed.sshd();
    const full = mkdtempSync(join(tmpdir(), 'autotunnel-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', full]);
    try {
      spawnSync('dd', ['if=/dev/zero', `of=${join(full, 'filler')}`, 'bs=1k', 'count=64'], { stdio: 'ignore' });
      assert.equal(spawnSync('sh', ['-c', `echo x >> ${full}/probe && sync`]).status !== 0 || readFileSync(`${full}/probe`, 'utf8') === '', true, 'the file system is full');
      const port = await freePort();
      const r = bed.run(envFor(own, { SSH_MODE: '-L', SSH_KNOWN_HOSTS_FILE: undefined, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(bed.echo().port), AUTOTUNNEL_STATE_DIR: full }));
      const refused = await waitForLog(r.cli, { level: 'error', msg: /host key for \[127\.0\.0\.1\]:\d+ could not be saved/ }, UP_TIMEOUT_MS);
      assert.match(refused.msg, /The tunnel is stopped/);
      assert.match(refused.msg, /AUTOTUNNEL_STATE_DIR/);
      await waitForLog(r.cli, { state: 'stopped' }, UP_TIMEOUT_MS);

      const mark = r.cli.mark();
      await own.rotateHostKey();
      await own.restart();
      r.cli.signal('SIGUSR1');
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      // The first session may come up, on the key ssh just accepted: the read-back happens then,
      // since a "Permanently added" line before that could be the peer's (see tofu-guard.ts).
      assert.equal(r.cli.output().slice(mark).includes('"state":"up"'), false, 'never up again after the server key changed');
      assert.equal(logLines(r.cli, mark).some((l) => l.state === 'connecting'), false, 'no further connection trusts whatever key answers');
      assert.deepEqual(sshClientsFor(own.port), []);
    } finally {
      spawnSync('umount', [full]);
      rmSync(full, { recursive: true, force: true });
    }
  });
});

describe('item 2: SIGUSR1 and SIGHUP are safe from the start', () => {
  const HUP = 1;
  /** Whether the process catches `signal` (from /proc: SigCgt), undefined once it is gone. */
  function catches(pid: number, signal: number): boolean | undefined {
    try {
      const mask = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
      return ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n;
    } catch {
      return undefined;
    }
  }
  function inspectorListening(pid: number): boolean {
    const out = spawnSync('ss', ['-Hltnp', 'sport = :9229'], { encoding: 'utf8' }).stdout;
    return out.includes(`pid=${pid},`);
  }
  /** From the first moment SIGHUP is handled, sends SIGUSR1 and SIGHUP every millisecond until `until` resolves. */
  async function storm(cli: CliProcess, until: Promise<unknown>): Promise<{ sent: number; inspector: boolean }> {
    await waitFor(() => catches(cli.pid, HUP) !== false, { timeoutMs: UP_TIMEOUT_MS, intervalMs: 1, what: 'SIGHUP handled' });
    assert.notEqual(catches(cli.pid, HUP), undefined, 'the process handles SIGHUP before it ends');
    let sent = 0;
    let inspector = false;
    let done = false;
    void until.finally(() => (done = true));
    while (!done) {
      cli.signal(sent % 2 ? 'SIGHUP' : 'SIGUSR1');
      sent++;
      if (sent % 20 === 0) inspector ||= inspectorListening(cli.pid);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return { sent, inspector };
  }

  it('check: handlers are in place before it reads anything, and a storm of signals changes nothing', async () => {
    const cli = CliProcess.spawn([BIN, 'check'], { env: { AUTOTUNNEL_HTTP: 'off', ...SSH_VARS } });
    const { sent, inspector } = await storm(cli, cli.exited(CLI_EXIT_TIMEOUT_MS));
    const exit = await cli.exited(CLI_EXIT_TIMEOUT_MS);
    assert.deepEqual([exit.code, exit.signal], [0, null], cli.output());
    assert.match(cli.output(), /configuration is valid/);
    assert.ok(sent > 0);
    assert.equal(inspector, false, 'no inspector on 9229');
  });

  it('run: the tunnel comes up through a storm of SIGUSR1 and SIGHUP, with no inspector, and SIGTERM still stops it', async () => {
    const server = await bed.sshd();
    const port = await freePort();
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(bed.echo().port) }));
    // Through start-up (parsing, files, the first ssh); SIGUSR1 restarts ssh, so the storm then ends.
    const { sent, inspector } = await storm(r.cli, new Promise((resolve) => setTimeout(resolve, 600)));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.ok(sent > 10, `signals sent: ${sent}`);
    assert.equal(inspector, false, 'no inspector on 9229');
    assert.equal(inspectorListening(r.cli.pid), false);
    r.cli.signal('SIGTERM');
    const exit = await r.cli.exited(CLI_EXIT_TIMEOUT_MS);
    assert.deepEqual([exit.code, exit.signal], [0, null]);
  });
});

describe('items 4, 5, 17, 19: check refuses hostile input, naming the field', () => {
  it('item 4: shell characters and bad ports in jump hosts, in every source', async () => {
    const file = tunnelsFile('jump.yaml', `tunnels:\n  - name: t\n    server: { host: h, jump: 'a;touch$IFS/tmp/x;@host' }\n    forwards: [{ local: 5432, to: "db:5432" }]\n`);
    const fromFile = await command(['check', '-c', file]);
    assert.equal(fromFile.code, 78);
    assert.match(fromFile.output, /server\.jump="a;touch\$IFS\/tmp\/x;@host": jump host .* user "a;touch\$IFS\/tmp\/x;"/);
    const fromEnv = await command(['check'], { ...SSH_VARS, SSH_OPTIONS: '-J a@-oX' });
    assert.equal(fromEnv.code, 78);
    assert.match(fromEnv.output, /SSH_OPTIONS="-J a@-oX": jump host "a@-oX": host "-oX" must not begin with "-"/);
    const oneOff = await command(['-J', 'u@h:99999', '-L', '5432:db:5432', 'u@host']);
    assert.equal(oneOff.code, 64);
    assert.match(oneOff.output, /-J="u@h:99999": jump host "u@h:99999": port "99999"/);
    assert.equal(existsSync('/tmp/x'), false);
  });

  it('item 5: a NUL byte in a socket path is refused naming the field', async () => {
    const file = tunnelsFile('nul.yaml', 'tunnels:\n  - name: t\n    server: { host: h }\n    forwards: [{ local: "/run/a\\0b.sock", to: "db:5432" }]\n');
    const { code, output } = await command(['check', '-c', file]);
    assert.equal(code, 78);
    assert.match(output, /forwards\[0\]\.local=.*contains a NUL byte/);
  });

  it('item 17: -y in SSH_OPTIONS is refused', async () => {
    const { code, output } = await command(['check'], { ...SSH_VARS, SSH_OPTIONS: '-y' });
    assert.equal(code, 78);
    assert.match(output, /SSH_OPTIONS="-y": option -y is not allowed: it sends ssh's messages to syslog/);
  });

  it('item 19: localhost:P and 127.0.0.1:P in two tunnels clash', async () => {
    const file = tunnelsFile('clash.yaml', 'tunnels:\n  - name: a\n    server: { host: h }\n    forwards: [{ local: "localhost:5432", to: "db:1" }]\n  - name: b\n    server: { host: h }\n    forwards: [{ local: "127.0.0.1:5432", to: "db:1" }]\n');
    const { code, output } = await command(['check', '-c', file]);
    assert.equal(code, 78);
    assert.match(output, /b\.forwards\[0\]: local port 5432 is already claimed by tunnel "a"/);
  });
});

describe('item 6: % in paths given to ssh', () => {
  it('a key at …/k%d/id is used as it is named', async () => {
    const server = await bed.sshd();
    const keyDir = join(dir, 'k%d');
    mkdirSync(keyDir, { recursive: true });
    const key = join(keyDir, 'id');
    copyFileSync(server.clientKeyPath, key);
    chmodSync(key, 0o600);
    const port = await freePort();
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: key, SSH_TUNNEL_PORT: String(port), SSH_TARGET_PORT: String(bed.echo().port) }));
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await roundTrip('127.0.0.1', port), true);
  });

  it('a local socket at …/s%d.sock is bound at that very path', async () => {
    const server = await bed.sshd();
    const socket = join(dir, 's%d.sock');
    const file = tunnelsFile('percent.yaml', [
      'tunnels:',
      '  - name: sock',
      `    server: { host: 127.0.0.1, port: ${server.port}, user: ${server.user}, key_file: ${server.clientKeyPath}, known_hosts_file: ${server.knownHostsPath} }`,
      `    forwards: [{ local: "${socket}", to: "127.0.0.1:${bed.echo().port}" }]`,
      '',
    ].join('\n'));
    const r = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', file]);
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.ok(statSync(socket).isSocket(), 'the socket is at the literal path');
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = connect({ path: socket }, () => s.end('ping\n'));
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.equal(echoed, 'ping\n');
  });
});

describe('item 7: orphaned private key copies', () => {
  it('are swept at the next start even when that run needs no copy', async () => {
    const server = await bed.sshd();
    const shared = join(dir, 'secret-key');
    copyFileSync(server.clientKeyPath, shared);
    chmodSync(shared, 0o444);
    const first = bed.run(envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: shared, SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(bed.echo().port) }));
    await waitForLog(first.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const copies = () => readdirSync('/dev/shm').filter((n) => n.startsWith(`autotunnel-${first.cli.pid}-`));
    assert.equal(copies().length, 1, 'a private copy exists');
    await first.cli.kill();
    assert.equal(copies().length, 1, 'SIGKILL left it behind');

    const second = bed.run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(bed.echo().port) }));
    await waitForLog(second.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.deepEqual(copies(), [], 'swept by a run whose own key needs no copy');
  });
});

describe('item 8: the HTTP listener answers only its own names', () => {
  function get(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/tunnels', headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('DNS-rebinding Host headers get 421; loopback, IP literals and AUTOTUNNEL_HTTP_HOSTS names are answered', async () => {
    const server = await bed.sshd();
    const port = await freePort();
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(bed.echo().port), AUTOTUNNEL_HTTP: `127.0.0.1:${port}`, AUTOTUNNEL_HTTP_HOSTS: 'status.example.com' }));
    await waitForLog(r.cli, { msg: /^status page, health, readiness and metrics on/ }, UP_TIMEOUT_MS);
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, 'localhost.evil.example']) assert.equal(await get(port, host), 421, host);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, `status.example.com:${port}`, '10.1.2.3:9810']) assert.equal(await get(port, host), 200, host);
  });
});

describe('items 14, 18, 20, 21: everything a start refuses is refused at once, by check too', () => {
  it('item 14: an autossh duration beyond what a timer can hold is refused naming the variable', async () => {
    const { code, output } = await command(['autossh', '-M', '0', '-L', '5432:db:5432', 'u@host'], { AUTOSSH_MAXLIFETIME: '3000000' });
    assert.equal(code, 78);
    assert.match(output, /AUTOSSH_MAXLIFETIME="3000000": too long: at most 2147483 s/);
  });

  it('item 18: check refuses AUTOTUNNEL_HTTP garbage and :99999, a state dir that is a file, a directory as ssh', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    for (const [env, code, re] of [
      [{ AUTOTUNNEL_HTTP: 'garbage' }, 78, /AUTOTUNNEL_HTTP="garbage": expected host:port/],
      [{ AUTOTUNNEL_HTTP: ':99999' }, 78, /AUTOTUNNEL_HTTP=":99999"/],
      [{ AUTOTUNNEL_STATE_DIR: file }, 78, /AUTOTUNNEL_STATE_DIR=".*not-a-dir": that is not a directory/],
      [{ AUTOTUNNEL_SSH: dir }, 69, /AUTOTUNNEL_SSH=.* is not an executable file/],
    ] as const) {
      const got = await command(['check'], { ...SSH_VARS, ...env });
      assert.equal(got.code, code, `${JSON.stringify(env)}: ${got.output}`);
      assert.match(got.output, re);
      assertNoStackTrace(got.output);
    }
  });

  it('item 20: AUTOTUNNEL_SSH naming a directory stops a start with 69', async () => {
    const server = await bed.sshd();
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(await freePort()), AUTOTUNNEL_SSH: dir }));
    const { code } = await r.cli.exited(CLI_EXIT_TIMEOUT_MS);
    assert.equal(code, 69, r.cli.output());
    assert.match(r.cli.output(), /AUTOTUNNEL_SSH=.* is not an executable file/);
  });

  it('item 21: /dev/zero, a FIFO and an oversized file as the config, /dev/zero as a secret: refused promptly', async () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    for (const file of ['/dev/zero', fifo, big]) {
      const { code, output } = await command(['check', '-c', file]);
      assert.equal(code, 78, output);
      assert.match(output, /cannot be used as a tunnels file: (not a regular file|larger than 1024 kB)/);
    }
    const secret = tunnelsFile('zero-secret.yaml', 'tunnels:\n  - name: t\n    server: { host: h, host_key_file: /dev/zero }\n    forwards: [{ local: 1, to: "db:1" }]\n');
    const { code, output } = await command(['check', '-c', secret]);
    assert.equal(code, 78, output);
    assert.match(output, /host_key_file="\/dev\/zero": cannot read it \(not a regular file/);
  });

  it('item 21: no private directory for a key copy: 78 and one message saying what to mount', async () => {
    const server = await bed.sshd();
    const shared = join(dir, 'shared-key');
    copyFileSync(server.clientKeyPath, shared);
    chmodSync(shared, 0o644);
    const env = envFor(server, { SSH_MODE: '-L', SSH_KEY_FILE: shared, SSH_TUNNEL_PORT: String(await freePort()), TMPDIR: '/nonexistent', XDG_RUNTIME_DIR: undefined, AUTOTUNNEL_STATE_DIR: dir, AUTOTUNNEL_HTTP: 'off' });
    // A private mount namespace with a read-only /dev/shm: only this command sees it.
    const cmd = `mount -t tmpfs -o ro,size=4k tmpfs /dev/shm && exec "${process.execPath}" "${BIN}" "$@"`;
    for (const args of [[], ['check']]) {
      const out = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', cmd, 'sh', ...args], { env: { ...process.env, ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) } as NodeJS.ProcessEnv, encoding: 'utf8', timeout: CLI_EXIT_TIMEOUT_MS });
      const output = out.stdout + out.stderr;
      assert.equal(out.status, 78, output);
      assert.match(output, /TMPDIR="\/nonexistent": no writable private directory .* mount a tmpfs on \/dev\/shm or \/tmp/);
      assertNoStackTrace(output);
    }
  });
});

describe('item 22: health and status against hostile listeners', () => {
  it('a listener that drops or resets every connection (as a full one does): exit 1 with one line, every time', async () => {
    for (const drop of [(s: Socket) => s.destroy(), (s: Socket) => s.resetAndDestroy()]) {
      const listener: Server = createServer(drop);
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
        for (let i = 0; i < 5; i++) {
          for (const args of [['health', '--url', url], ['status', '--url', url]]) {
            const { code, output } = await command(args);
            assert.equal(code, 1, `${args[0]} run ${i}: ${output}`);
            assert.equal(output.trim().split('\n').length, 1, `one line: ${output}`);
            assert.match(output, /^(unhealthy|autotunnel status): .*(reset the connection|closed before)/);
          }
        }
      } finally {
        await new Promise((resolve) => listener.close(resolve));
      }
    }
  });

  it('80 slow clients trickling headers do not make /healthz unanswerable', async () => {
    const server = await bed.sshd();
    const port = await freePort();
    const r = bed.run(envFor(server, { SSH_MODE: '-L', SSH_TUNNEL_PORT: String(await freePort()), SSH_TARGET_PORT: String(bed.echo().port), AUTOTUNNEL_HTTP: `127.0.0.1:${port}` }));
    await waitForLog(r.cli, { msg: /^status page, health, readiness and metrics on/ }, UP_TIMEOUT_MS);
    const slow: Socket[] = [];
    let open = true;
    const trickle = async () => {
      // Each client reconnects 0.2 s after it is dropped: the slots stay under pressure (more
      // clients than slots) without the test itself becoming a busy loop of reconnections.
      while (open) {
        await new Promise<void>((resolve) => {
          const s = connect(port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\n'));
          slow.push(s);
          const drip = setInterval(() => s.writable && s.write('X-A: b\r\n'), 500);
          s.on('error', () => undefined);
          s.on('close', () => {
            clearInterval(drip);
            setTimeout(resolve, 200);
          });
        });
      }
    };
    const clients = Array.from({ length: 80 }, () => trickle());
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      for (let i = 0; i < 5; i++) {
        const { code, output } = await command(['health', '--live'], { AUTOTUNNEL_HTTP: `127.0.0.1:${port}` });
        assert.equal(code, 0, `probe ${i}: ${output}`);
        assert.match(output, /^alive/);
      }
    } finally {
      open = false;
      for (const s of slow) s.destroy();
      await Promise.all(clients);
    }
  });
});

describe('item 23: tunnels named constructor, toString and valueOf', () => {
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;
  before(async () => {
    userDataDir = mkdtempSync(join(tmpdir(), 'autotunnel-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('the status page, API and metrics show each of them', async () => {
    const server = await bed.sshd();
    const names = ['constructor', 'toString', 'valueOf'];
    const ports = await Promise.all(names.map(() => freePort()));
    const http = await freePort();
    const file = tunnelsFile('proto.yaml', [
      'defaults:',
      `  server: { host: 127.0.0.1, port: ${server.port}, user: ${server.user}, key_file: ${server.clientKeyPath}, known_hosts_file: ${server.knownHostsPath} }`,
      'tunnels:',
      ...names.flatMap((n, i) => [`  - name: ${n}`, `    forwards: [{ local: "127.0.0.1:${ports[i]}", to: "127.0.0.1:${bed.echo().port}" }]`]),
      '',
    ].join('\n'));
    const r: TunnelRun = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined, AUTOTUNNEL_HTTP: `127.0.0.1:${http}` }, ['run', '-c', file]);
    for (const n of names) await waitForLog(r.cli, { tunnel: n, state: 'up' }, UP_TIMEOUT_MS);
    const page = context!.pages()[0] ?? (await context!.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${http}/`);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-tunnel] .badge.b-up').length === 3, null, { timeout: UP_TIMEOUT_MS });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.deepEqual(await page.locator('tr[data-tunnel]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-tunnel'))), names);
    assert.equal(await page.locator('#summary').textContent(), 'All 3 tunnels up');
    assert.equal(await page.locator('#offline').isHidden(), true, 'no "cannot reach autotunnel"');
    assert.deepEqual(errors, []);
    const api = (await (await fetch(`http://127.0.0.1:${http}/api/tunnels`)).json()) as { tunnels: Array<{ name: string; state: string }> };
    assert.deepEqual(api.tunnels.map((t) => [t.name, t.state]), names.map((n) => [n, 'up']));
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    for (const n of names) assert.match(metrics, new RegExp(`autotunnel_tunnel_up\\{tunnel="${n}"\\} 1`));
  });
});
