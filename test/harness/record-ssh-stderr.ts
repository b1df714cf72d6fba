/**
 * Records real `ssh -v` stderr for the situations the product's stderr
 * classifier must recognise, into test/fixtures/ssh-stderr/<name>.txt, plus
 * index.json with each capture's argv, exit code/signal and the ssh version.
 *
 * Fixtures recorded from the real client, rather than written by hand, keep
 * the classifier honest about exact message texts. Re-run after an OpenSSH
 * upgrade:
 *
 *   node --import tsx test/harness/record-ssh-stderr.ts
 *
 * `--targets` records only the captures of forwarded connections (target-*.txt), merging them
 * into index.json.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEchoServer, waitFor } from './echo.js';
import { FaultProxy } from './faultproxy.js';
import { freePort, TestSshd } from './sshd.js';

const LOOPBACK = '127.0.0.1';
const SSH_KEYGEN_PATH = '/usr/bin/ssh-keygen';
/** ssh -v prints this once authenticated and the (here: -N) session starts. */
const SESSION_UP = /Entering interactive session/;
const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/ssh-stderr/', import.meta.url));
/** Bound on any single ssh run; the slowest (ConnectTimeout=2, keepalive 1 s x 2) end in ~3 s. */
const SSH_RUN_TIMEOUT_MS = 20_000;
/** After SIGTERM, bound on ssh exiting before it is SIGKILLed. */
const SSH_TERM_TIMEOUT_MS = 5_000;
/** Bound on the first -R holder being established before the competing one runs. */
const HOLDER_UP_TIMEOUT_MS = 10_000;
/** waitFor() poll interval while watching a holder's stderr. */
const HOLDER_POLL_INTERVAL_MS = 50;

interface Capture {
  argv: string[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface RunOptions {
  /** SIGTERM ssh as soon as its stderr matches (for "tunnel is up" captures). */
  until?: RegExp;
  /** Called once stderr matches `trigger` (e.g. to freeze the proxy). */
  trigger?: { re: RegExp; action: () => void };
  /** Once stderr matches `re`, runs `run` (a connection through the tunnel), then SIGTERMs ssh. */
  act?: { re: RegExp; run: () => Promise<void> };
}

/** Runs ssh to completion (or until `until` matches) and returns what it printed. */
function runSsh(argv: string[], opts: RunOptions = {}): Promise<Capture> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let terminated = false;
    let triggered = false;
    const killTimer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ssh ${argv.join(' ')} did not finish in ${SSH_RUN_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, SSH_RUN_TIMEOUT_MS);
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      if (opts.trigger !== undefined && !triggered && opts.trigger.re.test(stderr)) {
        triggered = true;
        opts.trigger.action();
      }
      if (opts.act !== undefined && !triggered && opts.act.re.test(stderr)) {
        triggered = true;
        void opts.act.run().then(() => {
          terminated = true;
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), SSH_TERM_TIMEOUT_MS).unref();
        });
      }
      if (opts.until !== undefined && !terminated && opts.until.test(stderr)) {
        terminated = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), SSH_TERM_TIMEOUT_MS).unref();
      }
    });
    // 'close', not 'exit': only then is all of stderr read.
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      resolve({ argv: ['ssh', ...argv], stderr, code, signal });
    });
    child.once('error', reject);
  });
}

interface ClientSetup {
  knownHosts: string;
  port: number;
  /** Default: the key the server authorizes. */
  key?: string;
  /** Default 'yes'. Passed once: ssh keeps the FIRST value it sees for an option. */
  strict?: 'yes' | 'accept-new';
}

/** Options every capture shares: verbose, never prompt, one identity, strict host keys. */
function clientArgs(sshd: TestSshd, setup: ClientSetup, extra: string[], destination: string): string[] {
  return [
    '-v',
    '-o', 'BatchMode=yes',
    '-i', setup.key ?? sshd.clientKeyPath,
    '-o', `UserKnownHostsFile=${setup.knownHosts}`,
    '-o', `StrictHostKeyChecking=${setup.strict ?? 'yes'}`,
    '-p', String(setup.port),
    ...extra,
    destination,
  ];
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => resolve(server));
  });
}

/** How long a connection through the tunnel stays open: ssh has answered the channel by then. */
const CONNECTION_HOLD_MS = 500;
/** After the connection closed, time for ssh to print what follows (the channel's "free"). */
const AFTER_CLOSE_MS = 300;

/** Opens a connection to `port` (through SOCKS to `socksTarget` when given), holds it a moment, closes it. */
function connectThrough(port: number, socksTarget?: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, LOOPBACK);
    s.on('connect', () => {
      if (socksTarget === undefined) return;
      // SOCKS5, no authentication, CONNECT 127.0.0.1:socksTarget.
      s.write(Buffer.from([5, 1, 0]));
      s.once('data', () => s.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, socksTarget >> 8, socksTarget & 255])));
    });
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    setTimeout(() => s.destroy(), CONNECTION_HOLD_MS);
    s.on('close', () => setTimeout(resolve, AFTER_CLOSE_MS));
  });
}

/** ssh -v on a forwarded connection whose target answers or refuses, for -L, -D and -R. */
async function recordTargets(sshd: TestSshd, echoPort: number, record: (name: string, description: string, capture: Promise<Capture>) => Promise<void>): Promise<void> {
  const direct: ClientSetup = { knownHosts: sshd.knownHostsPath, port: sshd.port };
  const ssh = (extra: string[], opts: RunOptions) => runSsh(clientArgs(sshd, direct, ['-N', '-o', 'ExitOnForwardFailure=yes', ...extra], `${sshd.user}@${LOOPBACK}`), opts);
  const dead = await freePort();
  for (const [what, target] of [['reached', echoPort], ['refused', dead]] as const) {
    const l = await freePort();
    await record(`target-local-${what}`, `-L; one connection through it to a target that ${what === 'reached' ? 'answers' : 'refuses'}`, ssh(['-L', `${LOOPBACK}:${l}:${LOOPBACK}:${target}`], { act: { re: SESSION_UP, run: () => connectThrough(l) } }));
    const d = await freePort();
    await record(`target-dynamic-${what}`, `-D; one SOCKS connection to a target that ${what === 'reached' ? 'answers' : 'refuses'}`, ssh(['-D', `${LOOPBACK}:${d}`], { act: { re: SESSION_UP, run: () => connectThrough(d, target) } }));
    const r = await freePort();
    await record(`target-remote-${what}`, `-R; one connection to the server's port, to a target here that ${what === 'reached' ? 'answers' : 'refuses'}`, ssh(['-R', `${LOOPBACK}:${r}:${LOOPBACK}:${target}`], { act: { re: /remote forward success/, run: () => connectThrough(r) } }));
  }
}

async function main(): Promise<void> {
  await mkdir(FIXTURE_DIR, { recursive: true });
  const sshd = await TestSshd.start();
  const echo = await startEchoServer();
  const proxy = await FaultProxy.start(LOOPBACK, sshd.port);
  const captures: Record<string, Capture & { description: string }> = {};
  const dest = `${sshd.user}@${LOOPBACK}`;
  const direct: ClientSetup = { knownHosts: sshd.knownHostsPath, port: sshd.port };
  const ssh = (setup: ClientSetup, extra: string[], opts?: RunOptions, destination = dest) =>
    runSsh(clientArgs(sshd, setup, extra, destination), opts);

  const record = async (name: string, description: string, capture: Promise<Capture>) => {
    const result = await capture;
    captures[name] = { description, ...result };
    await writeFile(join(FIXTURE_DIR, `${name}.txt`), result.stderr);
    console.log(`${name}: exit ${result.code ?? result.signal}, ${result.stderr.length} bytes`);
  };

  try {
    await recordTargets(sshd, echo.port, record);
    if (process.argv.includes('--targets')) {
      const index = JSON.parse(await readFile(join(FIXTURE_DIR, 'index.json'), 'utf8')) as { captures: Record<string, unknown> };
      await writeFile(join(FIXTURE_DIR, 'index.json'), JSON.stringify({ ...index, captures: { ...index.captures, ...captures } }, null, 2) + '\n');
      return;
    }
    // Through the proxy, known_hosts is keyed by the port dialled: the proxy's.
    const viaProxy: ClientSetup = { knownHosts: join(sshd.dir, 'known_hosts.proxy'), port: proxy.port };
    await writeFile(viaProxy.knownHosts, `[${LOOPBACK}]:${proxy.port} ${sshd.hostKeyLine()}\n`);

    await record('connection-refused', 'nothing listens on the port', ssh({ ...direct, port: await freePort() }, ['-N']));

    const wrongKey = join(sshd.dir, 'wrong_key');
    execFileSync(SSH_KEYGEN_PATH, ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey]);
    await record('permission-denied', 'client key not in authorized_keys', ssh({ ...direct, key: wrongKey }, ['-N']));

    const emptyKnownHosts = join(sshd.dir, 'known_hosts.empty');
    await writeFile(emptyKnownHosts, '');
    await record(
      'host-key-unknown-strict',
      'StrictHostKeyChecking=yes with an empty known_hosts',
      ssh({ ...direct, knownHosts: emptyKnownHosts }, ['-N']),
    );

    const acceptNewKnownHosts = join(sshd.dir, 'known_hosts.accept-new');
    await writeFile(acceptNewKnownHosts, '');
    await record(
      'accept-new-first-connection',
      'StrictHostKeyChecking=accept-new with an empty known_hosts; SIGTERM once the session is up',
      ssh({ ...direct, knownHosts: acceptNewKnownHosts, strict: 'accept-new' }, ['-N'], { until: SESSION_UP }),
    );

    // Two sessions asking for the same remote listen port: the second is refused.
    const remoteSpec = ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${LOOPBACK}:${await freePort()}:${LOOPBACK}:22`];
    const holder = spawn('ssh', clientArgs(sshd, direct, remoteSpec, dest), { stdio: ['ignore', 'ignore', 'pipe'] });
    let holderStderr = '';
    holder.stderr.setEncoding('utf8').on('data', (t: string) => (holderStderr += t));
    try {
      await waitFor(() => /remote forward success/.test(holderStderr), {
        timeoutMs: HOLDER_UP_TIMEOUT_MS,
        intervalMs: HOLDER_POLL_INTERVAL_MS,
        what: 'the first -R session to hold its port',
      });
      await record(
        'remote-forward-failed',
        'second -R for a remote port another session holds; ExitOnForwardFailure=yes',
        ssh(direct, remoteSpec),
      );
    } finally {
      holder.kill('SIGTERM');
    }

    const busyPort = await freePort();
    const busy = await listen(busyPort);
    try {
      await record(
        'local-port-in-use',
        '-L on a local port a Node listener holds; ExitOnForwardFailure=yes',
        ssh(direct, ['-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${LOOPBACK}:${busyPort}:${LOOPBACK}:${echo.port}`]),
      );
    } finally {
      busy.close();
    }

    await record(
      'keepalive-timeout',
      'ServerAliveInterval=1 ServerAliveCountMax=2 through the fault proxy, frozen once the session is up',
      ssh(viaProxy, ['-N', '-o', 'ServerAliveInterval=1', '-o', 'ServerAliveCountMax=2'], {
        trigger: { re: SESSION_UP, action: () => proxy.freeze() },
      }),
    );
    proxy.dropAll();
    proxy.thaw();

    await record(
      'local-forward-up',
      'successful -L; SIGTERM once the session is up after "Local forwarding listening"',
      ssh(direct, ['-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${LOOPBACK}:${await freePort()}:${LOOPBACK}:${echo.port}`], {
        // Not the listening line alone: ssh prints it BEFORE bind(), so it
        // also appears when the port is taken (see local-port-in-use).
        until: /Local forwarding listening[\s\S]*Entering interactive session/,
      }),
    );

    await record(
      'remote-forward-up-port0',
      'successful -R with listen port 0; SIGTERM once the port is allocated',
      ssh(direct, ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${LOOPBACK}:0:${LOOPBACK}:${echo.port}`], {
        until: /Allocated port \d+/,
      }),
    );

    proxy.freeze();
    await record(
      'connect-timeout',
      'ConnectTimeout=2 to the frozen fault proxy (TCP connects, no SSH banner ever arrives)',
      ssh(viaProxy, ['-N', '-o', 'ConnectTimeout=2']),
    );
    proxy.dropAll();
    proxy.thaw();

    await record(
      'could-not-resolve',
      'host name that cannot resolve',
      ssh(direct, ['-N'], {}, `${sshd.user}@nonexistent.invalid`),
    );

    const looseKey = join(sshd.dir, 'client_key_0644');
    await copyFile(sshd.clientKeyPath, looseKey);
    await chmod(looseKey, 0o644);
    await record('unprotected-private-key', 'the authorized key, but mode 0644', ssh({ ...direct, key: looseKey }, ['-N']));

    // Last: it changes the server's key for good.
    await sshd.rotateHostKey();
    await sshd.restart();
    await record('host-key-changed', 'strict checking, server restarted with a new host key', ssh(direct, ['-N']));

    // ssh -V prints to stderr.
    const sshVersion = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
    await writeFile(
      join(FIXTURE_DIR, 'index.json'),
      JSON.stringify({ sshVersion, recordedBy: 'test/harness/record-ssh-stderr.ts', captures }, null, 2) + '\n',
    );
  } finally {
    await proxy.close();
    await echo.close();
    await sshd.cleanup();
  }
}

await main();
