/**
 * Process inspection through /proc, for tests that must prove that no stray
 * `ssh` (or `sshd`) process outlives the thing that was supposed to own it.
 *
 * Everything here reads /proc directly rather than shelling out to `ps`, so
 * the results do not depend on which procps flavour the machine has, and the
 * reads are synchronous so they can also run inside a process 'exit' hook.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcInfo {
  pid: number;
  ppid: number;
  argv: string[];
}

/** How often waitForNoProcess() re-reads /proc. */
const PROCESS_POLL_INTERVAL_MS = 50;

/** What /proc/<pid>/stat tells us beyond argv. */
interface ProcStat {
  pid: number;
  ppid: number;
  /** One-letter state: R, S, D, T, Z (zombie), X (dead), ... */
  state: string;
  /** Clock ticks since boot; with the pid, identifies a process across pid reuse. */
  startTime: string;
}

/** A process we intend to signal later, pinned by start time so a recycled pid is never hit. */
export interface ProcessHandle {
  pid: number;
  startTime: string;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // vanished between readdir and read
  }
  // comm (field 2) is in parentheses and may itself contain spaces or ')',
  // so the fixed-position fields are only reliable after the LAST ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid] = rest;
  const startTime = rest[19]; // field 22 of proc(5); rest[0] is field 3
  if (state === undefined || ppid === undefined || startTime === undefined) return undefined;
  return { pid, ppid: Number(ppid), state, startTime };
}

function readArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const argv = raw.split('\0');
    // Processes that rewrite their title (sshd: "sshd: root") pad it with NULs.
    while (argv.at(-1) === '') argv.pop();
    return argv;
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Zombies are already dead: they only wait to be reaped (and PID 1 here never reaps orphans). */
function isDead(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

/**
 * Live processes, optionally filtered. Zombies and kernel threads are left
 * out (neither has an argv, and neither can hold a socket open).
 */
export function listProcesses(filter?: (p: ProcInfo) => boolean): ProcInfo[] {
  const result: ProcInfo[] = [];
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (stat === undefined || isDead(stat)) continue;
    const argv = readArgv(pid);
    if (argv === undefined || argv.length === 0) continue;
    const info: ProcInfo = { pid, ppid: stat.ppid, argv };
    if (filter === undefined || filter(info)) result.push(info);
  }
  return result;
}

function isSshClientArgv(argv: string[]): boolean {
  const [first] = argv;
  if (first === undefined) return false;
  if (basename(first) === 'ssh') return true;
  // The product may launch ssh through `setpriv --pdeathsig ... ssh ...`; for
  // the instant before setpriv execs, the process still shows as setpriv.
  return basename(first) === 'setpriv' && argv.slice(1).some((a) => basename(a) === 'ssh');
}

function argvTargetsPort(argv: string[], port: number): boolean {
  const p = String(port);
  // ssh option keywords are case-insensitive and accept "Port=N" or "Port N",
  // either as a separate argument after -o or glued on as -oPort=N.
  const portOption = new RegExp(`^(?:-o)?\\s*port(?:\\s*=\\s*|\\s+)${p}$`, 'i');
  const sshUrl = new RegExp(`^ssh://[^/]*:${p}/?$`);
  return argv.some(
    (arg, i) =>
      (arg === '-p' && argv[i + 1] === p) ||
      arg === `-p${p}` ||
      portOption.test(arg) ||
      sshUrl.test(arg),
  );
}

/** `ssh` client processes that connect to the given port. */
export function sshClientsFor(port: number): ProcInfo[] {
  return listProcesses((p) => isSshClientArgv(p.argv) && argvTargetsPort(p.argv, port));
}

/** Resolves once no live process matches; rejects listing the survivors. */
export async function waitForNoProcess(filter: (p: ProcInfo) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const survivors = listProcesses(filter);
    if (survivors.length === 0) return;
    if (Date.now() >= deadline) {
      const list = survivors.map((p) => `  ${p.pid} (ppid ${p.ppid}): ${p.argv.join(' ')}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for processes to exit; still running:\n${list}`);
    }
    await sleep(PROCESS_POLL_INTERVAL_MS);
  }
}

/** Upper bound on /proc rescans in freezeProcessTree(); a real tree settles in 2-3. */
const MAX_FREEZE_PASSES = 50;

/**
 * SIGSTOPs `rootPid` and every descendant, rescanning until no new one shows
 * up, and returns them all. Stopping first matters: a running parent could
 * fork a child after we looked, and if the parent then died the child would
 * be reparented to PID 1 and lost to us. A stopped process cannot fork.
 * Also why descendants are found through ppid rather than process group:
 * sshd calls setsid() in every per-connection child.
 *
 * Synchronous so it can run from a process 'exit' hook.
 */
export function freezeProcessTree(rootPid: number): ProcessHandle[] {
  const frozen = new Map<number, ProcessHandle>();
  for (let pass = 0; pass < MAX_FREEZE_PASSES; pass++) {
    let foundNew = false;
    for (const pid of allPids()) {
      if (frozen.has(pid)) continue;
      const stat = readStat(pid);
      if (stat === undefined || isDead(stat)) continue;
      if (pid !== rootPid && !frozen.has(stat.ppid)) continue;
      if (!sendSignal(pid, 'SIGSTOP')) continue;
      frozen.set(pid, { pid, startTime: stat.startTime });
      foundNew = true;
    }
    if (!foundNew) break;
  }
  return [...frozen.values()];
}

/** True if the handle's process still exists and is not a zombie. */
export function isAlive(handle: ProcessHandle): boolean {
  const stat = readStat(handle.pid);
  return stat !== undefined && !isDead(stat) && stat.startTime === handle.startTime;
}

/** Signals each still-alive handle; a process that is already gone is not an error. */
export function signalProcesses(handles: ProcessHandle[], signal: NodeJS.Signals): void {
  for (const h of handles) {
    if (isAlive(h)) sendSignal(h.pid, signal);
  }
}

function sendSignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false; // ESRCH: exited meanwhile
  }
}
