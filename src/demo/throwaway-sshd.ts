/**
 * A disposable OpenSSH server on loopback for `autotunnel demo`: generated host and user keys,
 * a free port, everything in one temp dir that is removed afterwards.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { probeTcp } from '../adapters/tcp-probe.js';
import { findExecutable } from '../adapters/ssh-process.js';
import { throwawaySshdConfig } from './sshd-config.js';

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
const START_TIMEOUT_MS = 10_000;
const POLL_MS = 25;

/** Every process below `root`, from /proc (Linux). */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parentOf) if (parent === pid) found.push(child), walk(child);
  };
  walk(root);
  return found;
}

export class ThrowawaySshd {
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly clientKey: string,
    private readonly config: string,
  ) {}

  static async create(port: number): Promise<ThrowawaySshd> {
    if (!existsSync(SSHD_PATH)) {
      throw new Error(`the demo needs OpenSSH's server at ${SSHD_PATH}: run scripts/demo.sh, or apt-get install openssh-server`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'autotunnel-demo-'));
    try {
      const hostKey = join(dir, 'host_ed25519');
      const clientKey = join(dir, 'client_ed25519');
      for (const key of [hostKey, clientKey]) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'autotunnel-demo', '-f', key]);
      copyFileSync(`${clientKey}.pub`, join(dir, 'authorized_keys'));
      const config = join(dir, 'sshd_config');
      const lines = throwawaySshdConfig({ port, listen: '127.0.0.1', hostKey, authorizedKeys: join(dir, 'authorized_keys') });
      writeFileSync(config, [...lines, `AllowUsers ${userInfo().username}`].join('\n') + '\n');
      if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
      return new ThrowawaySshd(dir, port, clientKey, config);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  async start(): Promise<void> {
    const setpriv = findExecutable('setpriv');
    const args = ['-D', '-e', '-f', this.config];
    // Own process group, so stop() also ends the per-connection children (cutting live sessions).
    this.child = spawn(setpriv ?? SSHD_PATH, setpriv ? ['--pdeathsig', 'SIGKILL', SSHD_PATH, ...args] : args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    this.child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await probeTcp('127.0.0.1', this.port, 500))) {
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the demo's sshd did not start on port ${this.port}:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Stops the server and every session it forked, as a crash or reboot of the server would. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    // sshd's per-connection processes setsid() away from its group: find them by parentage
    // before the listener dies (they are reparented after that).
    for (const pid of [child.pid, ...descendants(child.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
    while (await probeTcp('127.0.0.1', this.port, 200)) await new Promise((r) => setTimeout(r, POLL_MS));
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
