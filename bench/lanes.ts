/**
 * Lanes: where jobs run. As root, each lane is this same bench program re-executed under
 *
 *   setpriv --pdeathsig KILL unshare --net --pid --fork --mount-proc --kill-child node … run.ts --lane
 *
 * i.e. in its own network namespace (its own loopback and iptables, so a black-hole there touches
 * nothing else and lanes never share ports) and its own PID namespace (the lane is PID 1 there:
 * when it exits or is killed, the kernel kills every sshd, ssh, autossh and autotunnel it started,
 * so nothing can leak even if a job hangs). Without root a lane is a plain child process and link
 * faults go through the TCP fault proxy.
 *
 * Protocol: the parent writes one JSON object per line to the lane's stdin ({type:'job', id, job},
 * {type:'grant'}); the lane answers on stdout ({type:'ready'}, {type:'log', msg}, {type:'result',
 * id, samples}, {type:'acquire'}, {type:'release'}). The lane's stderr goes to a log file. The
 * parent kills a lane that overruns its job's limit.
 *
 * Lanes run side by side to keep the bench short, but the moments that are timed to the tenth of
 * a second — a fault and the recovery after it, a tool starting, a job tearing down — must not
 * compete for the CPU with another lane's (the machine may have two cores). Those run under a
 * "quiet" token the parent hands to one lane at a time (JobContext.quiet); the long idle parts
 * (waiting for an outage to end, settling) overlap freely. A holder keeps the token for a bounded
 * time only, so a slow recovery (seconds) does not stall the other lanes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NETNS_ENV, faultKind, setupNamespace } from './faults.js';
import { limitMs, rowId, runJob, type Job, type JobContext, type Sample } from './scenarios.js';

export const LANE_FLAG = '--lane';
const RUN_TS = fileURLToPath(new URL('./run.ts', import.meta.url));
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

type ToLane = { type: 'job'; id: number; job: Job } | { type: 'grant' };
type FromLane = { type: 'ready' } | { type: 'log'; msg: string } | { type: 'result'; id: number; samples: Sample[] } | { type: 'acquire' } | { type: 'release' };

// ── inside a lane ───────────────────────────────────────────────────────────

export async function laneMain(): Promise<void> {
  // Without a PID namespace, a signal must still run the 'exit' hooks that kill what we started.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => process.exit(143));
  const send = (m: FromLane) => process.stdout.write(JSON.stringify(m) + '\n');
  if (faultKind() === 'netns') {
    await setupNamespace();
    privateScratch();
  }
  const grants: Array<() => void> = [];
  const quiet = async <T>(capMs: number, fn: () => Promise<T>): Promise<T> => {
    await new Promise<void>((resolve) => {
      grants.push(resolve);
      send({ type: 'acquire' });
    });
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      send({ type: 'release' });
    };
    const cap = setTimeout(release, capMs);
    try {
      return await fn();
    } finally {
      clearTimeout(cap);
      release();
    }
  };
  const ctx: JobContext = { log: (m) => send({ type: 'log', msg: m }), quiet };
  send({ type: 'ready' });
  const rl = createInterface({ input: process.stdin });
  const jobs: Array<Extract<ToLane, { type: 'job' }>> = [];
  let wake: (() => void) | undefined;
  let closed = false;
  rl.on('line', (line) => {
    if (!line.trim()) return;
    const msg = JSON.parse(line) as ToLane;
    if (msg.type === 'grant') grants.shift()?.();
    else {
      jobs.push(msg);
      wake?.();
    }
  });
  rl.on('close', () => {
    closed = true;
    wake?.();
  });
  for (;;) {
    const msg = jobs.shift();
    if (!msg) {
      if (closed) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
      continue;
    }
    const samples = await runJob(msg.job, ctx);
    send({ type: 'result', id: msg.id, samples });
  }
  // stdin closed: the parent is done with us (or gone).
  process.exit(0);
}

// ── the parent's side ───────────────────────────────────────────────────────

/**
 * A namespaced lane is a host of its own: its own /tmp and /dev/shm (the lane's mount namespace
 * is private). Shared ones would let a process of one lane take another lane's files for a dead
 * process's: pids are per PID namespace, so pid 57 in lane 1 is not pid 57 in lane 2. autotunnel's
 * start-up sweep of its private dirs does exactly that (issue 12 bench, first runs on f03155a).
 */
function privateScratch(): void {
  for (const dir of ['/tmp', '/dev/shm']) {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=1777', 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) process.stderr.write(`lane: could not mount a private ${dir}: ${r.stderr}`);
  }
}

/** Root, and unshare works here: lanes get their own namespaces. */
export function namespacesAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('unshare', ['--net', '--pid', '--fork', '--mount-proc', '--kill-child', 'true'], { timeout: 10_000 });
  const ipt = spawnSync('unshare', ['--net', 'iptables', '-w', '-S', 'INPUT'], { timeout: 10_000 });
  return r.status === 0 && ipt.status === 0;
}

const lanes = new Set<Lane>();

/** The quiet token: one holder at a time, waiters served in order. */
class Token {
  #holder: Lane | undefined;
  readonly #queue: Lane[] = [];
  acquire(lane: Lane): void {
    if (this.#holder === undefined) {
      this.#holder = lane;
      lane.grant();
    } else this.#queue.push(lane);
  }
  release(lane: Lane): void {
    const i = this.#queue.indexOf(lane);
    if (i !== -1) this.#queue.splice(i, 1);
    if (this.#holder !== lane) return;
    this.#holder = undefined;
    while (this.#queue.length) {
      const next = this.#queue.shift()!;
      if (!next.alive) continue;
      this.#holder = next;
      next.grant();
      return;
    }
  }
}

/** Parent interrupted: every lane gets SIGTERM (a namespaced lane takes all its processes with it). */
export function killAllLanes(): void {
  for (const lane of lanes) lane.kill('SIGTERM');
}

class Lane {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (s: Sample[]) => void; reject: (e: Error) => void }>();
  #ready: Promise<void>;
  #dead: Error | undefined;

  constructor(
    readonly index: number,
    netns: boolean,
    log: WriteStream,
    onLog: (msg: string) => void,
    token: Token,
  ) {
    const node = [process.execPath, ...process.execArgv, RUN_TS, LANE_FLAG];
    const inner = netns ? ['unshare', '--net', '--pid', '--fork', '--mount-proc', '--kill-child', '--', ...node] : node;
    const [cmd, ...args] = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...inner] : inner;
    this.#child = spawn(cmd!, args, {
      env: { ...process.env, [NETNS_ENV]: netns ? '1' : '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stderr?.on('data', (d: Buffer) => log.write(`[lane ${index}] ${d.toString()}`));
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.#ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.#ready.catch(() => {});
    const rl = createInterface({ input: this.#child.stdout! });
    rl.on('line', (line) => {
      let msg: FromLane;
      try {
        msg = JSON.parse(line) as FromLane;
      } catch {
        log.write(`[lane ${index} stdout] ${line}\n`);
        return;
      }
      if (msg.type === 'ready') readyResolve();
      else if (msg.type === 'log') {
        log.write(`[lane ${index}] ${msg.msg}\n`);
        onLog(msg.msg);
      } else if (msg.type === 'acquire') token.acquire(this);
      else if (msg.type === 'release') token.release(this);
      else if (msg.type === 'result') {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        p?.resolve(msg.samples);
      }
    });
    this.#child.once('exit', (code, signal) => {
      this.#dead = new Error(`lane ${index} exited (${signal ?? code})`);
      token.release(this);
      readyReject(this.#dead);
      for (const p of this.#pending.values()) p.reject(this.#dead);
      this.#pending.clear();
    });
    this.#child.stdin?.on('error', () => {});
    lanes.add(this);
    this.#child.once('exit', () => lanes.delete(this));
  }

  grant(): void {
    this.#child.stdin?.write(JSON.stringify({ type: 'grant' } satisfies ToLane) + '\n');
  }

  get alive(): boolean {
    return this.#dead === undefined;
  }

  async run(id: number, job: Job): Promise<Sample[]> {
    await this.#ready;
    if (this.#dead) throw this.#dead;
    const limit = limitMs(job);
    return new Promise<Sample[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.kill();
        reject(new Error(`job did not finish within ${Math.round(limit / 1000)} s; lane ${this.index} killed`));
      }, limit);
      this.#pending.set(id, {
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.stdin!.write(JSON.stringify({ type: 'job', id, job } satisfies ToLane) + '\n');
    });
  }

  /** Closing stdin makes the lane exit; a lane in its own PID namespace takes everything with it. */
  async close(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.stdin?.end();
    const t = setTimeout(() => this.kill(), 30_000);
    await exited;
    clearTimeout(t);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.#child.kill(signal);
  }
}

export interface PoolOptions {
  lanes: number;
  netns: boolean;
  log: WriteStream;
  onLog?: (msg: string) => void;
  onDone?: (job: Job, samples: Sample[], done: number, total: number) => void;
}

/** Runs the jobs on up to `lanes` lanes at once, longest first; a lane that dies is replaced. */
export async function runPool(jobs: Array<{ job: Job; estimateMs: number }>, opts: PoolOptions): Promise<Sample[]> {
  const queue = [...jobs].sort((a, b) => b.estimateMs - a.estimateMs);
  const all: Sample[] = [];
  let nextId = 0;
  let done = 0;
  let laneNo = 0;
  const token = new Token();
  const worker = async () => {
    let lane: Lane | undefined;
    try {
      for (;;) {
        const item = queue.shift();
        if (!item) return;
        if (!lane || !lane.alive) lane = new Lane(laneNo++, opts.netns, opts.log, opts.onLog ?? (() => {}), token);
        let samples: Sample[];
        try {
          samples = await lane.run(nextId++, item.job);
        } catch (e) {
          const tool = 'tool' in item.job ? item.job.tool : 'autotunnel';
          samples = [{ row: rowId(item.job), tool, metrics: {}, error: e instanceof Error ? e.message : String(e) }];
        }
        all.push(...samples);
        done++;
        opts.onDone?.(item.job, samples, done, jobs.length);
      }
    } finally {
      await lane?.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.lanes, jobs.length)) }, worker));
  return all;
}
