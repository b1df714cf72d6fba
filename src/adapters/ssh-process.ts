/** Starts the real ssh client for the supervisor, with no shell in between. */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SpawnSsh, SshExit, SshProcess } from '../supervisor/world.js';

/** Finds an executable on PATH (or checks an explicit path); undefined when absent. */
export function findExecutable(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  const candidates = name.includes('/') ? [name] : pathEnv.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      // X_OK is also true for a directory, which then fails every spawn with EACCES (exit 126).
      if (!statSync(c).isFile()) continue;
      return c;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export interface SshSpawnOptions {
  /** The ssh binary (absolute path). */
  ssh: string;
  /**
   * util-linux setpriv, to give ssh a parent-death signal: a plain `ssh -N` survives its
   * parent's SIGKILL (it is reparented and keeps the port), so without this a killed
   * autotunnel would leave orphaned tunnels behind.
   */
  setpriv?: string;
  env?: NodeJS.ProcessEnv;
}

export function makeSpawnSsh(opts: SshSpawnOptions): SpawnSsh {
  return (args: string[]): SshProcess => {
    const [command, argv] = opts.setpriv
      ? [opts.setpriv, ['--pdeathsig', 'SIGKILL', '--', opts.ssh, ...args]]
      : [opts.ssh, args];
    // stdin is /dev/null: -N runs no session, and ssh must never wait on a terminal.
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const lineListeners: Array<(line: string) => void> = [];
    const exitListeners: Array<(exit: SshExit) => void> = [];
    let openStreams = 2;
    let exit: SshExit | undefined;
    let reported = false;
    // Report the exit only after both output streams are drained, so the cause line is never lost.
    const maybeReport = () => {
      if (reported || exit === undefined || openStreams > 0) return;
      reported = true;
      for (const l of exitListeners) l(exit);
    };
    for (const stream of [child.stdout, child.stderr]) {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => lineListeners.forEach((l) => l(line)));
      rl.on('close', () => {
        openStreams--;
        maybeReport();
      });
    }
    child.on('error', (err) => {
      exit = { code: null, signal: null, error: err.message };
      openStreams = 0;
      maybeReport();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      maybeReport();
    });
    return {
      pid: child.pid,
      onLine: (l) => lineListeners.push(l),
      onExit: (l) => exitListeners.push(l),
      kill: (signal) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  };
}

/** A process's scheduling state from /proc/PID/stat ('R', 'S', 'T', 'D'…); undefined when unknown. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "PID (COMM) STATE …": COMM may hold spaces and parentheses, so read after the last ')'.
    return /^\s*(\S)/.exec(stat.slice(stat.lastIndexOf(')') + 1))?.[1];
  } catch {
    return undefined;
  }
}
