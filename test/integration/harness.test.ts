/**
 * Tests of the test harness itself, against a real sshd and real ssh
 * clients. If these fail, no product integration test can be trusted: each
 * one pins down a harness behaviour the product tests rely on.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliProcess, killAllCli } from '../harness/cli.js';
import { HeldConnection, roundTrip, socksRoundTrip, startEchoServer, waitFor, type EchoServer } from '../harness/echo.js';
import { FaultProxy } from '../harness/faultproxy.js';
import { listProcesses, sshClientsFor, waitForNoProcess } from '../harness/procs.js';
import { SSHD_VERSIONS, skipUnless, type SshdVersion } from '../harness/openssh-versions.js';
import { freePort, TestSshd } from '../harness/sshd.js';

const LOOPBACK = '127.0.0.1';
/** Bound for one test that starts ssh sessions. */
const SSH_TEST_TIMEOUT_MS = 30_000;
/** Bound for one test that only uses local sockets or processes. */
const LOCAL_TEST_TIMEOUT_MS = 10_000;
/** ssh -N on loopback is up in ~200 ms; generous for loaded CI machines. */
const TUNNEL_UP_TIMEOUT_MS = 10_000;
/** How long ssh may take to notice its server is gone after stop(). */
const SSH_EXIT_AFTER_STOP_MS = 5_000;
/** Short probe timeout for proving that a frozen link carries nothing. */
const FROZEN_PROBE_TIMEOUT_MS = 500;
/** ServerAliveInterval=1 x ServerAliveCountMax=2 gives up after ~3 s; allow slack. */
const KEEPALIVE_EXIT_TIMEOUT_MS = 15_000;
/** Bound for a one-shot ssh command (connect, auth, run `true`). */
const SSH_COMMAND_TIMEOUT_MS = 10_000;
/** How long ssh gets to act on SIGTERM before terminate() SIGKILLs it. */
const SSH_TERM_GRACE_MS = 2_000;
/** Bound for a spawned helper process to exit after being told to. */
const PROCESS_EXIT_TIMEOUT_MS = 5_000;
/** Large enough to fill socket buffers, so freeze() has bytes to hold back. */
const BULK_PAYLOAD_BYTES = 8 * 1024 * 1024;
/** How long the CLI fixture sleeps unless killed: far longer than any test. */
const IDLE_CHILD_SECONDS = 60;

interface SshRun {
  child: ChildProcess;
  pid: number;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts an ssh client and keeps track of it so after() can kill it. */
function startSsh(args: string[], running: Set<ChildProcess>): SshRun {
  const child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.ok(child.pid !== undefined, 'ssh did not spawn');
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // 'close', not 'exit': only then has all of stderr been read.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, pid: child.pid, stderr: () => stderr, exit };
}

interface SshTarget {
  /** Default: sshd.knownHostsPath. */
  knownHosts?: string;
  /** Port to dial; default sshd.port (differs when going through a proxy). */
  port?: number;
  /** Remote command, placed after the destination. */
  command?: string[];
}

/** argv for a non-interactive, strict ssh client that trusts only `sshd`. */
function strictSshArgs(sshd: TestSshd, options: string[], target: SshTarget = {}): string[] {
  return [
    '-o', 'BatchMode=yes',
    '-i', sshd.clientKeyPath,
    '-o', `UserKnownHostsFile=${target.knownHosts ?? sshd.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-p', String(target.port ?? sshd.port),
    ...options,
    `${sshd.user}@${LOOPBACK}`,
    ...(target.command ?? []),
  ];
}

async function exitWithin(run: SshRun, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // The message is built at timeout, so it shows everything ssh printed.
    timer = setTimeout(() => reject(new Error(`ssh ${run.pid} did not exit within ${ms} ms; stderr:\n${run.stderr()}`)), ms);
  });
  try {
    return await Promise.race([run.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends an ssh the test no longer needs. SIGTERM is what a supervisor would
 * send, but OpenSSH 9.2's client loop can miss it: the handler only sets a
 * flag, and a signal landing between the flag check and a plain poll() goes
 * unnoticed until poll() wakes up, which with -N and no keepalive may be
 * never. Hence the SIGKILL fallback (seen about once in 80 loaded runs).
 */
async function terminate(run: SshRun): Promise<void> {
  run.child.kill('SIGTERM');
  const exited = await Promise.race([run.exit.then(() => true), sleep(SSH_TERM_GRACE_MS).then(() => false)]);
  if (!exited) {
    run.child.kill('SIGKILL');
    await exitWithin(run, PROCESS_EXIT_TIMEOUT_MS);
  }
}

async function killAll(running: Set<ChildProcess>): Promise<void> {
  const stillRunning = [...running].filter((child) => child.exitCode === null && child.signalCode === null);
  await Promise.all(
    stillRunning.map((child) => {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      return exited;
    }),
  );
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, LOOPBACK, () => server.close(() => resolve(true)));
  });
}

for (const version of SSHD_VERSIONS) describe(`TestSshd (OpenSSH ${version}) with real ssh clients`, { skip: skipUnless(version) }, () => {
  const running = new Set<ChildProcess>();
  let sshd: TestSshd;
  let echo: EchoServer;

  before(async () => {
    sshd = await TestSshd.start({ version });
    echo = await startEchoServer();
  });

  after(async () => {
    await killAll(running);
    await sshd?.cleanup();
    await echo?.close();
  });

  /** Starts `ssh -N -L` to the echo server and waits until it carries bytes. */
  async function localForward(): Promise<{ run: SshRun; localPort: number }> {
    const localPort = await freePort();
    const run = startSsh(strictSshArgs(sshd, ['-N', '-L', `${LOOPBACK}:${localPort}:${LOOPBACK}:${echo.port}`]), running);
    await waitFor(() => roundTrip(LOOPBACK, localPort), {
      timeoutMs: TUNNEL_UP_TIMEOUT_MS,
      what: `-L tunnel on ${localPort} (ssh stderr: ${run.stderr()})`,
    });
    return { run, localPort };
  }

  test('ssh -N -L through the server carries an echo round trip', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    const { run } = await localForward();
    assert.deepEqual(
      sshClientsFor(sshd.port).map((p) => p.pid),
      [run.pid],
      'sshClientsFor() should find exactly our ssh',
    );
    assert.ok(echo.accepted() > 0);
    assert.match(sshd.log(), /Accepted publickey for /);
    await terminate(run);
  });

  test('stop() cuts live sessions, ssh exits, the port is freed', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    const { run, localPort } = await localForward();
    const held = await HeldConnection.open(LOOPBACK, localPort);
    assert.equal(await held.alive(), true);

    await sshd.stop();

    const { code } = await exitWithin(run, SSH_EXIT_AFTER_STOP_MS);
    assert.equal(code, 255);
    assert.match(run.stderr(), /closed by remote host/);
    assert.equal(await held.alive(FROZEN_PROBE_TIMEOUT_MS), false);
    held.close();
    assert.equal(await portIsFree(sshd.port), true);
    assert.equal(await roundTrip(LOOPBACK, sshd.port, { timeoutMs: FROZEN_PROBE_TIMEOUT_MS }), false);
    // The listener's argv names our temp dir; nothing of it may be left.
    assert.deepEqual(listProcesses((p) => p.argv.join(' ').includes(sshd.dir)), []);
    await waitForNoProcess((p) => p.pid === run.pid, PROCESS_EXIT_TIMEOUT_MS);
  });

  test('start() after stop() serves the same port and keys again', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    await sshd.start();
    const { run } = await localForward();
    await terminate(run);
  });

  test('rotateHostKey() + restart() makes strict ssh refuse the server', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    const oldKey = sshd.hostKeyLine();
    await sshd.rotateHostKey();
    assert.notEqual(sshd.hostKeyLine(), oldKey);

    // Not yet in effect: the running server still presents the old key.
    const before = startSsh(strictSshArgs(sshd, [], { command: ['true'] }), running);
    assert.equal((await exitWithin(before, SSH_COMMAND_TIMEOUT_MS)).code, 0, before.stderr());

    await sshd.restart();
    const refused = startSsh(strictSshArgs(sshd, [], { command: ['true'] }), running);
    assert.equal((await exitWithin(refused, SSH_COMMAND_TIMEOUT_MS)).code, 255);
    assert.match(refused.stderr(), /REMOTE HOST IDENTIFICATION HAS CHANGED/);

    // hostKeyLine() is the key now served: trusting it lets ssh in again.
    const updated = join(sshd.dir, 'known_hosts.updated');
    await writeFile(updated, `[${LOOPBACK}]:${sshd.port} ${sshd.hostKeyLine()}\n`);
    const accepted = startSsh(strictSshArgs(sshd, [], { knownHosts: updated, command: ['true'] }), running);
    assert.equal((await exitWithin(accepted, SSH_COMMAND_TIMEOUT_MS)).code, 0, accepted.stderr());
  });

  test('socksRoundTrip() through ssh -N -D', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    // After the rotation test the original known_hosts is stale: trust the current key.
    const knownHosts = join(sshd.dir, 'known_hosts.socks');
    await writeFile(knownHosts, `[${LOOPBACK}]:${sshd.port} ${sshd.hostKeyLine()}\n`);
    const socksPort = await freePort();
    const run = startSsh(strictSshArgs(sshd, ['-N', '-D', `${LOOPBACK}:${socksPort}`], { knownHosts }), running);
    await waitFor(() => socksRoundTrip(socksPort, LOOPBACK, echo.port), {
      timeoutMs: TUNNEL_UP_TIMEOUT_MS,
      what: `SOCKS round trip via ${socksPort} (ssh stderr: ${run.stderr()})`,
    });
    // A target nobody listens on must come back as false, not throw.
    const deadPort = await freePort();
    assert.equal(await socksRoundTrip(socksPort, LOOPBACK, deadPort), false);
    await terminate(run);
  });

  test('ssh keepalives give up on a frozen FaultProxy', { timeout: SSH_TEST_TIMEOUT_MS }, async (t) => {
    const knownHosts = join(sshd.dir, 'known_hosts.proxy');
    const proxy = await FaultProxy.start(LOOPBACK, sshd.port);
    t.after(() => proxy.close());
    // known_hosts is keyed by the port ssh dials, i.e. the proxy's.
    await writeFile(knownHosts, `[${LOOPBACK}]:${proxy.port} ${sshd.hostKeyLine()}\n`);
    const localPort = await freePort();
    const run = startSsh(
      strictSshArgs(
        sshd,
        [
          '-N',
          '-o', 'ServerAliveInterval=1',
          '-o', 'ServerAliveCountMax=2',
          '-L', `${LOOPBACK}:${localPort}:${LOOPBACK}:${echo.port}`,
        ],
        { knownHosts, port: proxy.port },
      ),
      running,
    );
    await waitFor(() => roundTrip(LOOPBACK, localPort), { timeoutMs: TUNNEL_UP_TIMEOUT_MS, what: 'tunnel via proxy' });
    assert.equal(proxy.activeConnections(), 1);

    const frozenAt = Date.now();
    proxy.freeze();
    const { code } = await exitWithin(run, KEEPALIVE_EXIT_TIMEOUT_MS);
    const elapsed = Date.now() - frozenAt;
    assert.equal(code, 255);
    assert.match(run.stderr(), /Timeout, server 127\.0\.0\.1 not responding\./);
    t.diagnostic(`ssh gave up ${elapsed} ms after freeze()`);
  });
});

/** Plain TCP connections to `port`, each closed as soon as it is accepted, one after the other. */
async function connectAndClose(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: LOOPBACK, port });
    await once(socket, 'connect');
    socket.destroy();
  }
}

/** OpenSSH >= 9.8 penalises connections closed before authentication; the harness must see it. */
const PENALTY_VERSION: SshdVersion = '10';

describe('TestSshd (OpenSSH 10): penalties are visible in its log', { skip: skipUnless(PENALTY_VERSION) }, () => {
  test('sshd -T shows the default PerSourcePenalties and MaxStartups', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    const sshd = await TestSshd.start({ version: PENALTY_VERSION, extraConfig: ['MaxStartups 10:30:100'] });
    try {
      const config = await sshd.effectiveConfig();
      assert.match(config, /^persourcepenalties crash:90 authfail:5 noauth:1 grace-exceeded:10 .*max:600 min:15/m);
      assert.match(config, /^maxstartups 10:30:100$/m);
      assert.match(sshd.log(), /Server listening on 127\.0\.0\.1 port/);
    } finally {
      await sshd.cleanup();
    }
  });

  test('start() and restart() never connect, so they earn no penalty', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    const sshd = await TestSshd.start({ version: PENALTY_VERSION });
    try {
      for (let i = 0; i < 3; i++) await sshd.restart();
      // The first connection without authentication would log "new 127.0.0.1/32 deferred penalty".
      assert.doesNotMatch(sshd.log(), /srclimit_penalise|Connection from/);
      assert.deepEqual(sshd.logCounts(), { penaltyActivations: 0, penaltyDrops: 0, maxStartupsDrops: 0 });
    } finally {
      await sshd.cleanup();
    }
  });

  test('20 plain TCP connect+close make sshd activate a penalty, and logCounts() counts it', { timeout: SSH_TEST_TIMEOUT_MS }, async (t) => {
    const sshd = await TestSshd.start({ version: PENALTY_VERSION });
    try {
      const mark = sshd.log().length;
      await connectAndClose(sshd.port, 20);
      // sshd charges a connection when its child exits: wait for the log to catch up.
      await waitFor(async () => sshd.logCounts(mark).penaltyActivations > 0, { timeoutMs: 10_000, what: `a penalty activation in the log:\n${sshd.log().slice(-2000)}` });
      assert.match(sshd.log(), /activating ipv4 penalty of \d+ seconds for penalty: connections without attempting authentication/);
      // While it is active, sshd refuses every connection from 127.0.0.1 before the banner.
      await connectAndClose(sshd.port, 1);
      await waitFor(async () => sshd.logCounts(mark).penaltyDrops > 0, { timeoutMs: 10_000, what: 'a penalty drop in the log' });
      const counts = sshd.logCounts(mark);
      t.diagnostic(`sshd log counts after 21 connect+close: ${JSON.stringify(counts)}`);
      assert.equal(counts.penaltyActivations, 1);
      assert.equal(counts.maxStartupsDrops, 0);
    } finally {
      await sshd.cleanup();
    }
  });
});

describe('TestSshd configuration', () => {
  const running = new Set<ChildProcess>();
  after(() => killAll(running));

  test('extraConfig lines override the defaults', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    const sshd = await TestSshd.start({ extraConfig: ['AllowTcpForwarding no'] });
    try {
      const run = startSsh(
        strictSshArgs(sshd, ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${LOOPBACK}:0:${LOOPBACK}:${await freePort()}`]),
        running,
      );
      assert.equal((await exitWithin(run, SSH_COMMAND_TIMEOUT_MS)).code, 255);
      assert.match(run.stderr(), /remote port forwarding failed/);
    } finally {
      await sshd.cleanup();
    }
  });

  test('start() rejects with sshd\'s log when sshd cannot start', { timeout: SSH_TEST_TIMEOUT_MS }, async () => {
    await assert.rejects(TestSshd.start({ extraConfig: ['NoSuchOption yes'] }), /Bad configuration option: NoSuchOption/);
  });
});

describe('FaultProxy in front of an echo server', () => {
  let echo: EchoServer;
  let proxy: FaultProxy;

  before(async () => {
    echo = await startEchoServer();
    proxy = await FaultProxy.start(LOOPBACK, echo.port);
  });

  after(async () => {
    await proxy?.close();
    await echo?.close();
  });

  test('carries a round trip', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    assert.equal(await roundTrip(LOOPBACK, proxy.port), true);
  });

  test('freeze() stalls a live connection without closing it; thaw() resumes it', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    const held = await HeldConnection.open(LOOPBACK, proxy.port);
    try {
      assert.equal(await held.alive(), true);
      proxy.freeze();
      assert.equal(await held.alive(FROZEN_PROBE_TIMEOUT_MS), false);
      assert.equal(await roundTrip(LOOPBACK, proxy.port, { timeoutMs: FROZEN_PROBE_TIMEOUT_MS }), false);
      assert.ok(proxy.activeConnections() >= 1, 'the frozen connection must stay open');
      proxy.thaw();
      // The probe sent while frozen is delivered late; alive() skips its echo.
      assert.equal(await held.alive(), true);
    } finally {
      held.close();
      proxy.thaw();
    }
  });

  test('connections accepted while frozen reach upstream only after thaw()', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    proxy.freeze();
    const acceptedBefore = echo.accepted();
    const held = await HeldConnection.open(LOOPBACK, proxy.port);
    try {
      assert.equal(await held.alive(FROZEN_PROBE_TIMEOUT_MS), false);
      assert.equal(echo.accepted(), acceptedBefore, 'no upstream connection while frozen');
      proxy.thaw();
      assert.equal(await held.alive(), true);
      assert.equal(echo.accepted(), acceptedBefore + 1);
    } finally {
      held.close();
      proxy.thaw();
    }
  });

  test('bytes held across freeze()/thaw() arrive intact and in order', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    const payload = randomBytes(BULK_PAYLOAD_BYTES);
    const socket = connect(proxy.port, LOOPBACK);
    try {
      await once(socket, 'connect');
      const received: Buffer[] = [];
      let length = 0;
      const complete = new Promise<void>((resolve) =>
        socket.on('data', (chunk: Buffer) => {
          received.push(chunk);
          length += chunk.length;
          if (length >= payload.length) resolve();
        }),
      );
      socket.write(payload);
      proxy.freeze();
      // Bytes already handed to the kernel still land; after that, nothing moves.
      await sleep(FROZEN_PROBE_TIMEOUT_MS);
      const settled = length;
      await sleep(FROZEN_PROBE_TIMEOUT_MS);
      assert.equal(length, settled, 'no bytes may move while frozen');
      proxy.thaw();
      await complete;
      assert.ok(Buffer.concat(received).equals(payload));
    } finally {
      socket.destroy();
      proxy.thaw();
    }
  });

  test('dropAll() closes every connection', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    const held = await HeldConnection.open(LOOPBACK, proxy.port);
    assert.equal(await held.alive(), true);
    proxy.dropAll();
    assert.equal(await held.alive(FROZEN_PROBE_TIMEOUT_MS), false);
    assert.equal(proxy.activeConnections(), 0);
    await waitFor(() => echo.connections() === 0, { timeoutMs: PROCESS_EXIT_TIMEOUT_MS, what: 'echo side to close' });
    held.close();
  });

  test('an unreachable upstream closes the client side', { timeout: LOCAL_TEST_TIMEOUT_MS }, async (t) => {
    const nowhere = await FaultProxy.start(LOOPBACK, await freePort());
    t.after(() => nowhere.close());
    assert.equal(await roundTrip(LOOPBACK, nowhere.port), false);
    await waitFor(() => nowhere.activeConnections() === 0, { timeoutMs: PROCESS_EXIT_TIMEOUT_MS, what: 'link cleanup' });
  });
});

describe('waitFor()', () => {
  test('resolves with the first truthy value', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `after ${calls}` : undefined), { timeoutMs: 2_000, intervalMs: 10, what: 'x' });
    assert.equal(value, 'after 3');
  });

  test('rejects naming what it waited for', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    await assert.rejects(waitFor(() => false, { timeoutMs: 100, intervalMs: 10, what: 'the moon' }), {
      message: /^timed out after 100 ms waiting for the moon/,
    });
  });
});

describe('procs', () => {
  const running = new Set<ChildProcess>();
  after(() => killAll(running));

  test('sshClientsFor() recognises every way of giving the port', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    const port = await freePort();
    // Fake "ssh" processes: node with argv[0] = "ssh" and the port forms as
    // script arguments. Node runs no child process, so killing it leaves nothing.
    const idle = ['-e', `setTimeout(() => {}, ${IDLE_CHILD_SECONDS * 1000})`, '--'];
    const fakeSsh = (args: string[]) => {
      const child = spawn(process.execPath, [...idle, ...args], { argv0: 'ssh', stdio: 'ignore' });
      running.add(child);
      child.once('exit', () => running.delete(child));
      return child;
    };
    const forms = [['-p', String(port)], [`-p${port}`], ['-o', `Port=${port}`], [`-oport=${port}`], ['-o', `Port ${port}`]];
    const pids = forms.map((form) => fakeSsh(form).pid);
    const decoy = fakeSsh(['-p', String(port + 1)]);

    const found = await waitFor(
      () => {
        const pidsFound = sshClientsFor(port).map((p) => p.pid);
        return pidsFound.length === forms.length ? pidsFound : undefined;
      },
      { timeoutMs: PROCESS_EXIT_TIMEOUT_MS, what: 'fake ssh processes to show up' },
    );
    assert.deepEqual([...found].sort(), [...pids].sort());
    assert.ok(!found.includes(decoy.pid as number));

    await killAll(running);
    await waitForNoProcess((p) => pids.includes(p.pid), PROCESS_EXIT_TIMEOUT_MS);
  });

  test('waitForNoProcess() rejects listing survivors', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    await assert.rejects(waitForNoProcess((p) => p.pid === process.pid, 100), { message: /still running:\n.*\d+/ });
  });
});

describe('CliProcess', () => {
  after(() => killAllCli());

  // A stand-in CLI: prints, handles SIGTERM with a distinctive exit code.
  const fakeCli = [
    '-e',
    `console.log('ready');
     process.on('SIGTERM', () => { console.error('got SIGTERM'); process.exit(3); });
     setTimeout(() => {}, ${IDLE_CHILD_SECONDS * 1000});`,
  ];

  test('waits for output, signals, reports the exit', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    const cli = CliProcess.spawn(fakeCli, { env: { AUTOTUNNEL_HARNESS_TEST: '1' } });
    await cli.waitForOutput(/ready/, PROCESS_EXIT_TIMEOUT_MS);
    const mark = cli.mark();
    await assert.rejects(cli.waitForOutput(/ready/, 100, mark), /timed out after 100 ms .*\n.*ready/s);
    cli.signal('SIGTERM');
    const [line] = await cli.waitForOutput(/got (\w+)/g, PROCESS_EXIT_TIMEOUT_MS, mark);
    assert.equal(line, 'got SIGTERM');
    const exit = await cli.exited(PROCESS_EXIT_TIMEOUT_MS);
    assert.equal(exit.code, 3);
    assert.equal(exit.signal, null);
    assert.ok(exit.ms >= 0);
    await assert.rejects(cli.waitForOutput(/never printed/, PROCESS_EXIT_TIMEOUT_MS), /exited \(code 3\)/);
  });

  test('env entries set and delete variables', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    const cli = CliProcess.spawn(['-e', 'console.log(JSON.stringify([process.env.A_SET, process.env.PATH]))'], {
      env: { A_SET: 'yes', PATH: undefined },
    });
    await cli.waitForOutput(/\["yes",null\]/, PROCESS_EXIT_TIMEOUT_MS);
    assert.equal((await cli.exited(PROCESS_EXIT_TIMEOUT_MS)).code, 0);
  });

  test('killAllCli() SIGKILLs what is still running', { timeout: LOCAL_TEST_TIMEOUT_MS }, async () => {
    const cli = CliProcess.spawn(fakeCli);
    await cli.waitForOutput(/ready/, PROCESS_EXIT_TIMEOUT_MS);
    await killAllCli();
    assert.deepEqual(await cli.exited(PROCESS_EXIT_TIMEOUT_MS).then(({ code, signal }) => ({ code, signal })), {
      code: null,
      signal: 'SIGKILL',
    });
  });
});
