/**
 * `autotunnel server-setup` against a real sshd configured exactly as it prints: the tunnel
 * carries data; a shell, another -L target and another -R port are refused; a dead -R
 * session's port is free again within the printed ClientAlive budget. And GatewayPorts seen
 * from the client: a -R on 0.0.0.0 that the server kept on loopback is warned about.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestSshd, freePort } from '../harness/sshd.js';
import { roundTrip, waitFor } from '../harness/echo.js';
import { FaultProxy } from '../harness/faultproxy.js';
import { BIN, envFor, freePorts, logLines, testBed, waitForLog } from './helpers.js';

const UP_TIMEOUT_MS = 15_000;
const bed = testBed();

function serverSetup(args: string[], env: Record<string, string | undefined> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, 'server-setup', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The printed authorized_keys line and Match block, as a person would copy them. */
function parsePrinted(out: string): { keyLine: string; matchBlock: string[]; budgetSec: number } {
  const lines = out.split('\n');
  const keyLine = lines.find((l) => l.startsWith('restrict,'));
  assert.ok(keyLine, `an authorized_keys line is printed:\n${out}`);
  const start = lines.findIndex((l) => l.startsWith('Match User '));
  assert.ok(start >= 0, 'a Match block is printed');
  const end = lines.indexOf('', start);
  const budget = /freed, within about (\d+) s/.exec(out);
  assert.ok(budget, 'the ClientAlive budget is printed');
  return { keyLine, matchBlock: lines.slice(start, end), budgetSec: Number(budget[1]) };
}

/** Plain ssh with the given key, as an attacker holding the tunnel's key would use it. */
function sshWithKey(server: TestSshd, key: string, args: string[], port = server.port) {
  return spawnSync('ssh', [
    '-F', '/dev/null', '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${server.knownHostsPath}`, '-o', `HostKeyAlias=[127.0.0.1]:${server.port}`,
    '-o', 'ExitOnForwardFailure=yes', '-p', String(port), `${server.user}@127.0.0.1`, ...args,
  ], { encoding: 'utf8', timeout: 20_000 });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('server-setup: a real sshd configured exactly as printed', () => {
  let server: TestSshd;
  let key: string;
  let printed: ReturnType<typeof parsePrinted>;
  let localPort: number;
  let remotePort: number;
  let otherPort: number;
  let config: string;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autotunnel-setup-'));
    key = join(dir, 'tunnel_ed25519');
    let sshdPort: number;
    [sshdPort, localPort, remotePort, otherPort] = await freePorts(4) as [number, number, number, number];
    // The harness's known_hosts is only known once it runs: trust is pinned afterwards, below.
    config = join(dir, 'tunnels.yaml');
    const yaml = (knownHosts: string) => `tunnels:
  - name: web
    server: { host: 127.0.0.1, port: ${sshdPort}, user: ${userInfo().username}, key_file: ${key}${knownHosts} }
    forwards:
      - local: 127.0.0.1:${localPort}
        to: 127.0.0.1:${bed.echo().port}
      - remote: ${remotePort}
        to: 127.0.0.1:${bed.echo().port}
`;
    writeFileSync(config, yaml(''));
    const r = serverSetup(['--generate-key', key, '-c', config]);
    assert.equal(r.code, 0, r.err);
    assert.equal(statSync(key).mode & 0o777, 0o600, 'the new private key is 0600');
    printed = parsePrinted(r.out);
    server = await bed.sshd({ port: sshdPort, extraConfig: printed.matchBlock });
    writeFileSync(join(server.dir, 'authorized_keys'), printed.keyLine + '\n');
    writeFileSync(config, yaml(`, known_hosts_file: ${server.knownHostsPath}`));
  });

  it('prints a key line restricted to this tunnel\'s forwards and a narrow Match block', () => {
    assert.match(printed.keyLine, new RegExp(`^restrict,port-forwarding,command="/bin/false",permitlisten="${remotePort}",permitopen="127\\.0\\.0\\.1:\\d+" ssh-ed25519 `));
    assert.ok(printed.matchBlock.includes('    AllowTcpForwarding yes'));
    assert.ok(printed.matchBlock.includes('    PermitTTY no'));
    assert.ok(printed.matchBlock.includes('    ForceCommand /bin/false'));
    assert.ok(printed.matchBlock.includes('    GatewayPorts no'), 'no -R binds beyond loopback');
  });

  it('the tunnel carries data both ways', async () => {
    const r = bed.run({ AUTOTUNNEL_LOG_FORMAT: 'json', SSH_AUTH_SOCK: undefined }, ['run', '-c', config]);
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await roundTrip('127.0.0.1', localPort), true, '-L');
    assert.equal(await roundTrip('127.0.0.1', remotePort), true, '-R');
    r.cli.signal('SIGTERM');
    assert.equal((await r.cli.exited(5_000)).code, 0);
  });

  it('a shell or a command is refused', () => {
    const r = sshWithKey(server, key, ['echo', 'SHELL-RAN']);
    assert.equal(r.stdout.includes('SHELL-RAN'), false, 'no command ran');
    assert.notEqual(r.status, 0);
  });

  it('another -L target is refused', () => {
    const r = sshWithKey(server, key, ['-W', `127.0.0.1:${server.port}`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /administratively prohibited/);
  });

  it('another -R port is refused', () => {
    const r = sshWithKey(server, key, ['-N', '-R', `${otherPort}:127.0.0.1:${bed.echo().port}`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`remote port forwarding failed for listen port ${otherPort}`));
  });

  it('a dead -R session (the client vanished without a word) frees its port within the printed budget', async () => {
    const proxy = await FaultProxy.start('127.0.0.1', server.port);
    try {
      const client = spawn('ssh', [
        '-F', '/dev/null', '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
        '-o', `UserKnownHostsFile=${server.knownHostsPath}`, '-o', `HostKeyAlias=[127.0.0.1]:${server.port}`,
        '-o', 'ServerAliveInterval=0', '-o', 'ExitOnForwardFailure=yes', '-N', '-R', `${remotePort}:127.0.0.1:${bed.echo().port}`,
        '-p', String(proxy.port), `${server.user}@127.0.0.1`,
      ], { stdio: 'ignore' });
      await waitFor(() => roundTrip('127.0.0.1', remotePort, { timeoutMs: 1000 }), { timeoutMs: UP_TIMEOUT_MS, what: 'the -R port through the proxy' });
      // The link goes dead, then the client dies without the server hearing of it.
      proxy.freeze();
      client.kill('SIGKILL');
      const deadAt = Date.now();
      const boundMs = (printed.budgetSec + 10) * 1000;
      while (!(await portIsFree(remotePort))) {
        assert.ok(Date.now() - deadAt < boundMs, `the port is still held ${boundMs} ms after the client died; sshd's log:\n${server.log().slice(-3000)}`);
        await sleep(250);
      }
      const freedMs = Date.now() - deadAt;
      console.log(`# dead -R session's port freed after ${freedMs} ms (printed budget ${printed.budgetSec} s)`);
      assert.ok(freedMs <= printed.budgetSec * 1000 + 3_000, `freed after ${freedMs} ms, budget ${printed.budgetSec} s`);
    } finally {
      await proxy.close();
    }
  });

  it('an existing key is never overwritten by --generate-key', () => {
    const r = serverSetup(['--generate-key', key, '-c', config]);
    assert.equal(r.code, 78);
    assert.match(r.err, /--generate-key=".*tunnel_ed25519": a key is already there and is never overwritten/);
  });
});

describe('GatewayPorts, seen from the client', () => {
  // The server listens on 127.0.0.2 too: a -R port it keeps on 127.0.0.1 does not answer there.
  const wideRun = async (server: TestSshd, port: number) =>
    bed.run(envFor(server, {
      SSH_REMOTE_HOST: '127.0.0.2',
      SSH_KNOWN_HOSTS_FILE: undefined,
      SSH_HOST_KEY: server.hostKeyLine(),
      SSH_BIND_IP: '0.0.0.0',
      SSH_TUNNEL_PORT: String(port),
      SSH_TARGET_PORT: String(bed.echo().port),
    }));

  it('GatewayPorts no: the tunnel is up, and a warning says the port stayed on the server\'s loopback, with the fix', async () => {
    const server = await bed.sshd({ extraConfig: ['ListenAddress 127.0.0.2'] });
    const port = await freePort();
    const r = await wideRun(server, port);
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    const warning = await waitForLog(r.cli, { gateway_ports: 'not reachable' }, UP_TIMEOUT_MS);
    assert.equal(warning.level, 'warn');
    assert.match(warning.msg, new RegExp(`127\\.0\\.0\\.2:${port} does not answer from here`));
    assert.match(warning.msg, /GatewayPorts clientspecified/);
    assert.equal(logLines(r.cli).filter((l) => l.state === 'backoff').length, 0, 'the tunnel is not failed for it');
  });

  it('GatewayPorts clientspecified: the port answers on the server\'s address, no warning', async () => {
    const server = await bed.sshd({ extraConfig: ['ListenAddress 127.0.0.2', 'GatewayPorts clientspecified'] });
    const port = await freePort();
    const r = await wideRun(server, port);
    await waitForLog(r.cli, { state: 'up' }, UP_TIMEOUT_MS);
    assert.equal(await roundTrip('127.0.0.2', port), true);
    // The check is one connect to a listening port; give it ample time before looking.
    await sleep(2_000);
    assert.equal(logLines(r.cli).some((l) => l.gateway_ports !== undefined), false);
  });
});
