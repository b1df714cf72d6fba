/**
 * A real OpenSSH server on loopback, owned by one test file.
 *
 * Tests of an ssh supervisor are only meaningful against the real thing: the
 * exact stderr texts, exit codes and timing of OpenSSH are what the product
 * has to cope with. Everything (keys, config, log) lives in a private temp
 * dir so parallel test files never share state.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { countSshdLog, listening as isListening, sshdCommand, type SshdLogCounts, type SshdVersion } from './openssh-versions.js';
import { freezeProcessTree, isAlive, signalProcesses, type ProcessHandle } from './procs.js';
import { throwawaySshdConfig } from '../../src/demo/sshd-config.js';

const execFileAsync = promisify(execFile);

const SSH_KEYGEN_PATH = '/usr/bin/ssh-keygen';
/** util-linux setpriv, used only for --pdeathsig; sshd runs without it if missing. */
const SETPRIV_PATH = '/usr/bin/setpriv';
/** sshd's privilege-separation chroot; it refuses to start as root without it. */
const PRIVSEP_DIR = '/run/sshd';
const LOOPBACK = '127.0.0.1';

/** Bound on sshd coming up (key loading plus bind is well under 100 ms normally). */
const START_TIMEOUT_MS = 10_000;
/** How often start() looks at the log and the port while waiting. */
const START_POLL_INTERVAL_MS = 25;
/** How long sshd processes get to act on SIGTERM before they are SIGKILLed. */
const STOP_GRACE_MS = 2_000;
/** Bound on the SIGKILLed processes disappearing and the port being bindable again. */
const STOP_TIMEOUT_MS = 10_000;
/** How often stop() checks for survivors and for the port being free. */
const STOP_POLL_INTERVAL_MS = 25;

export interface SshdOptions {
  /** Default: a free loopback port. */
  port?: number;
  /** Extra sshd_config lines, e.g. ['ClientAliveInterval 5']. */
  extraConfig?: string[];
  /**
   * Which OpenSSH: '9.2' (default) is the machine's /usr/sbin/sshd, '10' Debian 13's from the
   * tree scripts/openssh10-tree.sh builds (see openssh-versions.ts; sshdUnavailable() says
   * whether it can run here).
   */
  version?: SshdVersion;
}

/** Paths of everything the server keeps in its temp dir (the host key's varies, see rotateHostKey()). */
interface SshdFiles {
  clientKey: string;
  authorizedKeys: string;
  knownHosts: string;
  config: string;
  log: string;
}

/** One run of the sshd listener, from start() to stop(). */
interface SshdRun {
  child: ChildProcess;
  exited: Promise<void>;
}

export class TestSshd {
  readonly host = LOOPBACK;
  readonly port: number;
  readonly dir: string;
  readonly user: string;
  readonly version: SshdVersion;
  /** ed25519 private key (mode 0600, no passphrase) authorized for `user`. */
  readonly clientKeyPath: string;
  /**
   * known_hosts with the host key TestSshd.start() generated. Deliberately NOT rewritten by
   * rotateHostKey(): it models what a client learnt earlier.
   */
  readonly knownHostsPath: string;

  readonly #files: SshdFiles;
  readonly #extraConfig: string[];
  /** Private key the next start() serves; a new file per rotation, see rotateHostKey(). */
  #hostKeyPath: string;
  #hostKeyGeneration = 0;
  #run: SshdRun | undefined;
  /**
   * Best-effort cleanup for a test process that exits without cleanup():
   * kill whatever is still running and remove the temp dir. Synchronous,
   * because nothing asynchronous runs in an 'exit' handler.
   */
  readonly #exitHook = () => {
    const child = this.#run?.child;
    // Only while unreaped: after Node reaps sshd its pid may be reused.
    if (child?.pid !== undefined && isRunning(child)) killTreeNow(child.pid);
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(port: number, dir: string, files: SshdFiles, extraConfig: string[], version: SshdVersion) {
    this.port = port;
    this.version = version;
    this.dir = dir;
    this.user = userInfo().username;
    this.clientKeyPath = files.clientKey;
    this.knownHostsPath = files.knownHosts;
    this.#files = files;
    this.#extraConfig = extraConfig;
    this.#hostKeyPath = hostKeyPathFor(dir, this.#hostKeyGeneration);
  }

  static async start(opts: SshdOptions = {}): Promise<TestSshd> {
    const dir = await mkdtemp(join(tmpdir(), 'autotunnel-sshd-'));
    let sshd: TestSshd | undefined;
    try {
      const port = opts.port ?? (await freePort());
      const files: SshdFiles = {
        clientKey: join(dir, 'client_ed25519'),
        authorizedKeys: join(dir, 'authorized_keys'),
        knownHosts: join(dir, 'known_hosts'),
        config: join(dir, 'sshd_config'),
        log: join(dir, 'sshd.log'),
      };
      sshd = new TestSshd(port, dir, files, opts.extraConfig ?? [], opts.version ?? '9.2');
      process.on('exit', sshd.#exitHook);
      await generateKey(sshd.#hostKeyPath);
      await generateKey(files.clientKey);
      await copyFile(`${files.clientKey}.pub`, files.authorizedKeys);
      await ensurePrivsepDir();
      await writeFile(files.knownHosts, `${knownHostsPattern(LOOPBACK, port)} ${sshd.hostKeyLine()}\n`);
      await sshd.start();
      return sshd;
    } catch (err) {
      if (sshd !== undefined) process.off('exit', sshd.#exitHook);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * The host public key as "ssh-ed25519 AAAA..." (no host pattern, no
   * comment): the newest one, i.e. after rotateHostKey() the key that the
   * next start() will serve.
   */
  hostKeyLine(): string {
    const [type, key] = readFileSync(`${this.#hostKeyPath}.pub`, 'utf8').trim().split(/\s+/);
    return `${type} ${key}`;
  }

  /** sshd's own log (all runs so far, VERBOSE), including anything it wrote to stderr. */
  log(): string {
    try {
      return readFileSync(this.#files.log, 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * Penalty activations, penalty drops and MaxStartups drops in the log (all runs so far, or
   * from a character offset: `const mark = sshd.log().length` before the part to count).
   */
  logCounts(from = 0): SshdLogCounts {
    return countSshdLog(this.log().slice(from));
  }

  /**
   * `sshd -T`: the configuration this server runs with, every keyword lower-case with its
   * effective value (defaults included), from the config file start() writes.
   */
  async effectiveConfig(): Promise<string> {
    await writeFile(this.#files.config, sshdConfig(this.port, this.#hostKeyPath, this.#files, this.#extraConfig));
    const [command, args] = sshdCommand(this.version, this.dir, ['-T', '-f', this.#files.config]);
    const { stdout } = await execFileAsync(command, args, { timeout: START_TIMEOUT_MS });
    return stdout;
  }

  /** Starts sshd (again) on the same port with the current keys; no-op if running. */
  async start(): Promise<void> {
    if (this.#run !== undefined) return;
    await writeFile(this.#files.config, sshdConfig(this.port, this.#hostKeyPath, this.#files, this.#extraConfig));
    // -E sends the log to a file; stderr goes to the same file so that errors
    // sshd prints before it opens the log (bad config, say) are not lost.
    // Both descriptors are O_APPEND, so the writes interleave safely.
    const sshdArgs = ['-D', '-E', this.#files.log, '-f', this.#files.config];
    const [sshdPath, sshdArgv] = sshdCommand(this.version, this.dir, sshdArgs);
    const logStart = this.log().length;
    const stderrFd = openSync(this.#files.log, 'a');
    let child: ChildProcess;
    try {
      // setpriv --pdeathsig makes the kernel kill the listener if this test
      // process dies without running its exit hooks (SIGKILL, runner timeout).
      // setpriv execs sshd in place, so the pid is sshd's own.
      const [command, args] = existsSync(SETPRIV_PATH)
        ? [SETPRIV_PATH, ['--pdeathsig', 'KILL', sshdPath, ...sshdArgv]]
        : [sshdPath, sshdArgv];
      // detached: its own session and process group, so a terminal signal
      // aimed at the test run's group (Ctrl-C) cannot kill sshd underneath a
      // test that is still cleaning up; its lifetime is stop()'s business.
      // (stop() does not kill by group: per-connection children setsid()
      // out of it, so it walks the process tree instead.)
      child = spawn(command, args, { detached: true, stdio: ['ignore', 'ignore', stderrFd] });
    } finally {
      closeSync(stderrFd);
    }
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // A failed spawn emits 'error' and possibly no 'exit'.
      child.once('error', () => resolve());
    });
    this.#run = { child, exited };

    try {
      await this.#waitUntilListening(logStart);
    } catch (err) {
      // Not stop(): if the port is taken by someone else (a likely cause of
      // the failure), waiting for it to be free would only mask the error.
      await this.#stopProcesses().catch(() => {});
      throw err;
    }
  }

  /**
   * Stops the listener AND every per-connection process, so live ssh sessions
   * are cut as if the server had gone down. Resolves once the port is free.
   */
  async stop(): Promise<void> {
    if (this.#run === undefined) return;
    await this.#stopProcesses();
    await waitPortFree(this.port, STOP_TIMEOUT_MS);
  }

  async #stopProcesses(): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    const { child, exited } = run;
    if (child.pid !== undefined && isRunning(child)) {
      // Freeze the whole tree first so that nothing forks behind our back,
      // then let every process act on SIGTERM: sshd session processes close
      // their connections cleanly, which is what clients see when a real
      // server shuts down.
      const tree = freezeProcessTree(child.pid);
      // The listener goes first, at once: continued with SIGTERM pending, it could still finish
      // an accept() it was stopped in and fork one more session (serving the old host key to a
      // client that reconnects at that instant) that no one would then stop. Seen as a client
      // back "up" on the old key right after rotateHostKey() + restart().
      signalProcesses(tree.filter((h) => h.pid === child.pid), 'SIGKILL');
      const sessions = tree.filter((h) => h.pid !== child.pid);
      signalProcesses(sessions, 'SIGTERM');
      signalProcesses(sessions, 'SIGCONT');
      if (!(await waitAllGone(tree, STOP_GRACE_MS))) {
        signalProcesses(tree, 'SIGKILL');
        if (!(await waitAllGone(tree, STOP_TIMEOUT_MS))) {
          throw new Error(`sshd on port ${this.port}: processes survived SIGKILL: ${survivorPids(tree)}`);
        }
      }
    }
    await exited;
    this.#run = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /**
   * Generates a new host key, served from the next start()/restart() on.
   * knownHostsPath keeps the old key on purpose.
   *
   * The new key goes to a NEW file, and only the config written by start()
   * points at it: sshd re-execs itself for every connection and each child
   * loads the host key from disk, so overwriting the file in place would
   * switch keys for new connections to the running server immediately.
   */
  async rotateHostKey(): Promise<void> {
    const next = hostKeyPathFor(this.dir, this.#hostKeyGeneration + 1);
    await generateKey(next);
    this.#hostKeyGeneration++;
    this.#hostKeyPath = next;
  }

  /** stop() and delete the temp dir with keys and logs. */
  async cleanup(): Promise<void> {
    try {
      await this.stop();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
      process.off('exit', this.#exitHook);
    }
  }

  async #waitUntilListening(logStart: number): Promise<void> {
    const child = this.#run?.child;
    // sshd prints this once bind() + listen() succeeded.
    const listening = `Server listening on ${LOOPBACK} port ${this.port}.`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child === undefined || child.pid === undefined || !isRunning(child)) {
        throw new Error(
          `sshd exited (code ${child?.exitCode}, signal ${child?.signalCode}) before listening on port ${this.port}; log:\n${this.log()}`,
        );
      }
      // This run's line (the log is appended to), and the socket in LISTEN
      // state: no test connection, which OpenSSH >= 9.8 would count against
      // 127.0.0.1 as one that never tried to authenticate (a penalty point).
      if (this.log().slice(logStart).includes(listening) && isListening(this.port)) return;
      await sleep(START_POLL_INTERVAL_MS);
    }
    throw new Error(`sshd did not accept connections on port ${this.port} within ${START_TIMEOUT_MS} ms; log:\n${this.log()}`);
  }
}

/** A currently free TCP port on 127.0.0.1 (free when checked; callers race other binders). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no port assigned')) : resolve(port)));
    });
  });
}

function hostKeyPathFor(dir: string, generation: number): string {
  return join(dir, generation === 0 ? 'ssh_host_ed25519_key' : `ssh_host_ed25519_key.${generation}`);
}

/** sshd_config keywords whose lines add up rather than replace one another. */
const CUMULATIVE_KEYWORDS = new Set(['listenaddress', 'port', 'hostkey', 'hostcertificate', 'acceptenv', 'setenv', 'subsystem', 'allowusers', 'denyusers', 'allowgroups', 'denygroups']);

function sshdConfig(port: number, hostKeyPath: string, files: SshdFiles, extraConfig: string[]): string {
  // sshd uses the FIRST value it reads for most keywords, so caller lines
  // must come before our defaults to be able to override them. A Match block
  // swallows every line after it, so anything from the first Match on goes last.
  const matchAt = extraConfig.findIndex((line) => /^\s*Match\s/i.test(line));
  const overrides = matchAt === -1 ? extraConfig : extraConfig.slice(0, matchAt);
  const matchBlocks = matchAt === -1 ? [] : extraConfig.slice(matchAt);
  const defaults = [
    ...throwawaySshdConfig({ port, listen: LOOPBACK, hostKey: hostKeyPath, authorizedKeys: files.authorizedKeys }),
    'GatewayPorts no',
    'LogLevel VERBOSE',
    // The default 10:30:100 randomly drops new connections once 10 are
    // unauthenticated, which a reconnect storm in a test easily reaches.
    'MaxStartups 100',
  ];
  // Not every keyword is first-wins (MaxStartups is last-wins in 9.2 and 10): a default whose
  // keyword the caller set is left out, unless sshd adds up that keyword's lines (a caller's
  // 'ListenAddress 127.0.0.2' is one more address, not instead of 127.0.0.1).
  const keyword = (line: string) => line.trim().split(/\s+/)[0]!.toLowerCase();
  const callerSets = new Set(overrides.map(keyword).filter((k) => !CUMULATIVE_KEYWORDS.has(k)));
  return [...overrides, ...defaults.filter((line) => !callerSets.has(keyword(line))), ...matchBlocks].join('\n') + '\n';
}

/** known_hosts host pattern: bare for port 22, "[host]:port" otherwise. */
function knownHostsPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

async function generateKey(path: string): Promise<void> {
  await execFileAsync(SSH_KEYGEN_PATH, ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
}

async function ensurePrivsepDir(): Promise<void> {
  try {
    await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  } catch {
    // Not root: sshd only needs the dir when it runs as root, and if it does
    // need it, its own error in the log says so more clearly than ours would.
  }
}

/** True once nothing holds the port: binding it ourselves is the direct test. */
function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function waitPortFree(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portIsFree(LOOPBACK, port))) {
    if (Date.now() >= deadline) throw new Error(`port ${port} still in use ${timeoutMs} ms after stopping sshd`);
    await sleep(STOP_POLL_INTERVAL_MS);
  }
}

async function waitAllGone(tree: ProcessHandle[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!tree.some(isAlive)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(STOP_POLL_INTERVAL_MS);
  }
}

/** Not yet reaped by Node, so its pid still names it. */
function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Synchronous, for the process 'exit' hook: no waiting possible there. */
function killTreeNow(rootPid: number): void {
  signalProcesses(freezeProcessTree(rootPid), 'SIGKILL');
}

function survivorPids(tree: ProcessHandle[]): string {
  return tree
    .filter(isAlive)
    .map((h) => h.pid)
    .join(', ');
}
