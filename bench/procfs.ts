/**
 * What the bench reads from /proc: process trees (which ssh belongs to which tool), CPU time and
 * RSS, and the local port of an ssh's connection to the server (for the stale-listener fault).
 * Inside a lane, /proc is the lane's own (unshare --pid --mount-proc), so pids are the lane's.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { listProcesses, type ProcInfo } from '../test/harness/procs.js';

/** Clock ticks per second, for utime/stime. */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

export interface ProcSample {
  pid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  rssKb: number;
  /** Start time in ticks since boot: identifies the process across pid reuse. */
  startTime: string;
  state: string;
}

export function readProc(pid: number): ProcSample | undefined {
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces or parentheses): field 3 is rest[0].
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return {
    pid,
    cpuTicks: utime + stime,
    rssKb: rss ? Number(rss[1]) : 0,
    startTime: rest[19] ?? '',
    state: rest[0] ?? '?',
  };
}

/** Alive and not a zombie, and still the same process (same start time). */
export function processAlive(pid: number, startTime: string): boolean {
  const p = readProc(pid);
  return p !== undefined && p.startTime === startTime && p.state !== 'Z' && p.state !== 'X';
}

/** Every live descendant of rootPid (not rootPid itself). */
export function descendants(rootPid: number, all: ProcInfo[] = listProcesses()): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const out: ProcInfo[] = [];
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.shift()!;
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

export function isSsh(p: ProcInfo): boolean {
  return p.argv[0] !== undefined && basename(p.argv[0]) === 'ssh';
}

/** Sums CPU ticks and RSS over pids (those that have exited count as zero). */
export function sumProcs(pids: number[]): { cpuTicks: number; rssKb: number; count: number } {
  let cpuTicks = 0;
  let rssKb = 0;
  let count = 0;
  for (const pid of pids) {
    const p = readProc(pid);
    if (!p) continue;
    cpuTicks += p.cpuTicks;
    rssKb += p.rssKb;
    count++;
  }
  return { cpuTicks, rssKb, count };
}

/**
 * Local ports of pid's TCP connections to remotePort on loopback, read from the socket inodes
 * it holds and /proc/net/tcp (which shows the reader's own network namespace).
 */
export function localPortsTo(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  let table = '';
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return [];
  }
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const [, local, remote, , , , , , , inode] = cols;
    if (!inode || !inodes.has(inode)) continue;
    const rport = parseInt(remote!.split(':')[1]!, 16);
    if (rport === remotePort) ports.push(parseInt(local!.split(':')[1]!, 16));
  }
  return ports;
}

/** Socket inodes listening on 127.0.0.1:port (an -R forward's listener lives in the server's sshd). */
export function listenerInodes(port: number): string[] {
  let table = '';
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[3] !== '0A') continue;
    if (parseInt(cols[1]!.split(':')[1]!, 16) === port) out.push(cols[9]!);
  }
  return out;
}
