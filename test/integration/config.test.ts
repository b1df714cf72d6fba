/**
 * Many tunnels from one YAML file, reloads, the ssh-style and autossh command lines — the built
 * CLI against a real sshd, real ssh and real faults.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestSshd, freePort } from '../harness/sshd.js';
import { HeldConnection, roundTrip, startEchoServer, waitFor, type EchoServer } from '../harness/echo.js';
import { FaultProxy } from '../harness/faultproxy.js';
import { CliProcess, killAllCli } from '../harness/cli.js';
import { BIN, freePorts, logLines, startAutotunnel, waitForLog, type TunnelRun, serverYaml } from './helpers.js';

const UP_TIMEOUT_MS = 15_000;

let echo: EchoServer;
let server: TestSshd;
let dir: string;
const runs: TunnelRun[] = [];

before(async () => {
  echo = await startEchoServer();
  server = await TestSshd.start();
  dir = mkdtempSync(join(tmpdir(), 'autotunnel-config-'));
});
after(async () => {
  await killAllCli();
  for (const r of runs) await r.cleanup();
  await server.cleanup();
  await echo.close();
});

function run(args: string[], env: Record<string, string | undefined> = {}): TunnelRun {
  const r = startAutotunnel({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined, ...env }, args);
  runs.push(r);
  return r;
}

/** A tunnels file for the test sshd: one -L tunnel per name, to the echo server. */
function tunnelsYaml(tunnels: Array<{ name: string; port: number }>): string {
  return [
    'defaults:',
    ...serverYaml(server, '  '),
    'tunnels:',
    ...tunnels.flatMap((t) => [`  - name: ${t.name}`, '    forwards:', `      - local: 127.0.0.1:${t.port}`, `        to: 127.0.0.1:${echo.port}`]),
  ].join('\n') + '\n';
}

function upTunnels(r: TunnelRun, from = 0): Set<string> {
  return new Set(logLines(r.cli, from).filter((l) => l.state === 'up').map((l) => l.tunnel!));
}

describe('config file', () => {
  it('a long-lived connection through an unchanged tunnel survives a SIGHUP reload that adds and removes others', async () => {
    const [pa, pb, pc] = await freePorts(3);
    const file = join(dir, 'reload.yaml');
    writeFileSync(file, tunnelsYaml([{ name: 'a', port: pa }, { name: 'b', port: pb }]));
    const r = run(['run', '-c', file]);
    await waitFor(() => upTunnels(r).size === 2, { timeoutMs: UP_TIMEOUT_MS, what: 'a and b up' });
    const upA = logLines(r.cli).find((l) => l.tunnel === 'a' && l.state === 'up')!;
    const held = await HeldConnection.open('127.0.0.1', pa);
    assert.equal(await held.alive(), true);

    const mark = r.cli.mark();
    writeFileSync(file, tunnelsYaml([{ name: 'a', port: pa }, { name: 'c', port: pc }]));
    r.cli.signal('SIGHUP');
    const reloaded = await waitForLog(r.cli, { msg: /reloaded .*1 added, 1 removed, 0 changed, 1 unchanged/ }, UP_TIMEOUT_MS, mark);
    assert.deepEqual(reloaded.added, ['c']);
    assert.deepEqual(reloaded.removed, ['b']);
    await waitForLog(r.cli, { tunnel: 'c', state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.equal(await held.alive(), true, 'the held connection through a still works');
    assert.equal(logLines(r.cli, mark).some((l) => l.tunnel === 'a' && l.state !== undefined), false, 'a was not touched');
    assert.ok(existsSync(`/proc/${upA.pid}`), "a's ssh is the same process");
    assert.equal(await roundTrip('127.0.0.1', pc), true, 'c carries data');
    assert.equal(await roundTrip('127.0.0.1', pb, { timeoutMs: 500 }), false, 'b is gone');
    held.close();
  });

  it('reloads when the file changes, and refuses an invalid new file while the tunnels keep running', async () => {
    const [pa, pb] = await freePorts(2);
    const file = join(dir, 'watch.yaml');
    writeFileSync(file, tunnelsYaml([{ name: 'a', port: pa }]));
    const r = run(['run', '-c', file]);
    await waitForLog(r.cli, { tunnel: 'a', state: 'up' }, UP_TIMEOUT_MS);

    let mark = r.cli.mark();
    writeFileSync(file, tunnelsYaml([{ name: 'a', port: pa }, { name: 'b', port: pb }]));
    await waitForLog(r.cli, { tunnel: 'b', state: 'up' }, UP_TIMEOUT_MS, mark);
    assert.ok(logLines(r.cli, mark).some((l) => /^file changed: reloaded/.test(l.msg)));

    mark = r.cli.mark();
    writeFileSync(file, tunnelsYaml([{ name: 'a', port: pa }]).replace('tunnels:', 'tunels:'));
    const refused = await waitForLog(r.cli, { level: 'error' }, UP_TIMEOUT_MS, mark);
    assert.match(refused.msg, /not valid, so the running tunnels stay as they are/);
    assert.match(refused.msg, /watch\.yaml:\d+:\d+ \(top level\)\.tunels: unknown key "tunels"; did you mean "tunnels"\?/);
    assert.equal(await roundTrip('127.0.0.1', pa), true);
    assert.equal(await roundTrip('127.0.0.1', pb), true);
  });

  it('50 tunnels to one sshd all come up', { timeout: 120_000 }, async () => {
    const tunnels = (await freePorts(50)).map((port, i) => ({ name: `t${i}`, port }));
    const file = join(dir, 'fifty.yaml');
    writeFileSync(file, tunnelsYaml(tunnels));
    const r = run(['run', '-c', file]);
    try {
      await waitFor(() => upTunnels(r).size === 50, { timeoutMs: 90_000, intervalMs: 200, what: '50 tunnels up' });
    } catch (e) {
      const causes = logLines(r.cli).filter((l) => l.state === 'backoff').map((l) => `${l.tunnel}: ${l.cause}`);
      throw new Error(`${(e as Error).message}: ${upTunnels(r).size} up; failures: ${causes.slice(0, 20).join(', ') || 'none'}; output tail:\n${r.cli.output().slice(-3000)}`);
    }
    const failures = logLines(r.cli).filter((l) => l.state === 'backoff');
    assert.deepEqual(failures.map((l) => `${l.tunnel}: ${l.cause}`), [], 'no tunnel failed on the way (no dropped handshakes)');
    const trips = await Promise.all(tunnels.map((t) => roundTrip('127.0.0.1', t.port)));
    assert.equal(trips.filter(Boolean).length, 50);
  });

  it('check -c prints each ssh command, and exit 78 with file:line:column for a bad file', async () => {
    const good = join(dir, 'check.yaml');
    writeFileSync(good, tunnelsYaml([{ name: 'db', port: 15432 }]));
    const ok = CliProcess.spawn([BIN, 'check', '-c', good]);
    assert.equal((await ok.exited(10_000)).code, 0);
    assert.match(ok.output(), /configuration is valid/);
    assert.match(ok.output(), /-L 127\.0\.0\.1:15432:127\.0\.0\.1:\d+ .*-p \d+ -l \S+ -- 127\.0\.0\.1/);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, tunnelsYaml([{ name: 'db', port: 15432 }]).replace('    port:', '    prot:'));
    const no = CliProcess.spawn([BIN, 'check', '-c', bad]);
    assert.equal((await no.exited(10_000)).code, 78);
    assert.match(no.output(), /bad\.yaml:4:5 defaults\.server\.prot: unknown key "prot"; did you mean "port"\?/);
  });
});

describe('ssh-style command line', () => {
  it('autotunnel -L port:host:port -p -i -o user@host carries data', async () => {
    const port = await freePort();
    const r = run(['-L', `${port}:127.0.0.1:${echo.port}`, '-p', String(server.port), '-i', server.clientKeyPath, '-o', `UserKnownHostsFile=${server.knownHostsPath}`, `${server.user}@127.0.0.1`]);
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await roundTrip('127.0.0.1', port), true);
  });

  it('bad forwards are a usage error (64) naming each', async () => {
    const cli = CliProcess.spawn([BIN, '-L', '99999:x:1', '-R', 'nonsense', 'me@host']);
    assert.equal((await cli.exited(10_000)).code, 64);
    assert.match(cli.output(), /-L="99999:x:1": "99999" is not a port/);
    assert.match(cli.output(), /-R="nonsense": expected \[bind_address:\]port:host:hostport/);
  });
});

describe('autossh compatibility', () => {
  it('-M with an echo service finds a frozen link that keepalives are not watching, and comes back', async () => {
    const proxy = await FaultProxy.start('127.0.0.1', server.port);
    try {
      const knownHosts = join(dir, 'proxy_known_hosts');
      writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${server.hostKeyLine()}\n`);
      const [tunnelPort, monitorPort] = await freePorts(2);
      const r = run(
        ['autossh', '-M', `${monitorPort}:${echo.port}`, '-N', '-L', `${tunnelPort}:127.0.0.1:${echo.port}`, '-p', String(proxy.port), '-i', server.clientKeyPath,
          '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'ServerAliveInterval=0', `${server.user}@127.0.0.1`],
        { AUTOSSH_POLL: '2', AUTOSSH_FIRST_POLL: '1' },
      );
      await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
      assert.equal(await roundTrip('127.0.0.1', tunnelPort), true);
      const mark = r.cli.mark();
      proxy.freeze();
      const dead = await waitForLog(r.cli, { state: 'backoff' }, 15_000, mark);
      assert.equal(dead.cause, 'monitor_failed', 'the monitor, not a keepalive, noticed');
      proxy.thaw();
      await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS, mark);
      await waitFor(() => roundTrip('127.0.0.1', tunnelPort, { timeoutMs: 1000 }), { timeoutMs: UP_TIMEOUT_MS, what: 'traffic after thaw' });
    } finally {
      await proxy.close();
    }
  });

  it('AUTOSSH_PIDFILE, AUTOSSH_LOGFILE and AUTOSSH_MAXLIFETIME are honoured', async () => {
    const pidFile = join(dir, 'autossh.pid');
    const logFile = join(dir, 'autossh.log');
    const port = await freePort();
    const r = run(
      ['autossh', '-M', '0', '-N', '-L', `${port}:127.0.0.1:${echo.port}`, '-p', String(server.port), '-i', server.clientKeyPath, '-o', `UserKnownHostsFile=${server.knownHostsPath}`, `${server.user}@127.0.0.1`],
      { AUTOSSH_PIDFILE: pidFile, AUTOSSH_LOGFILE: logFile, AUTOSSH_MAXLIFETIME: '3', AUTOTUNNEL_LOG_FORMAT: 'text' },
    );
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(r.cli.pid), { timeoutMs: 5_000, what: 'the pid file' });
    await waitFor(() => existsSync(logFile) && /up: every forward works/.test(readFileSync(logFile, 'utf8')), { timeoutMs: UP_TIMEOUT_MS, what: 'up in the log file' });
    const exit = await r.cli.exited(10_000);
    assert.equal(exit.code, 0, 'MAXLIFETIME ends it normally');
    assert.match(readFileSync(logFile, 'utf8'), /AUTOSSH_MAXLIFETIME \(3 s\) reached/);
    assert.equal(existsSync(pidFile), false, 'the pid file is removed');
  });
});
