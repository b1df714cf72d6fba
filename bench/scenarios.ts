/**
 * The scenarios: what each job sets up, which fault it injects and what it measures. Every job
 * gets its own sshd, echo target and temp dir, and cleans them up (and every process it started)
 * whatever happens. Times are from the monotonic clock (probe.ts `now`), in milliseconds.
 *
 * "Back" is always the end of the first real round trip through the tunnel to the target that
 * started after the fault, measured from the moment the path returned: the kill (client killed),
 * sshd accepting connections again (restart, down, down at start), the iptables rules gone
 * (black-hole). "Noticed" is the moment the ssh that carried the tunnel exited.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestSshd, freePort } from '../test/harness/sshd.js';
import { SSHD_VERSIONS, listening, type SshdLogCounts, type SshdVersion } from '../test/harness/openssh-versions.js';
import { fleet, fleetEstimateMs, fleetJobs, fleetLimitMs, fleetRowId, type FleetJob } from './fleet.js';
import { startEchoServer, type EchoServer } from '../test/harness/echo.js';
import { listProcesses } from '../test/harness/procs.js';
import { faultKind, linkFaults, type LinkFaults } from './faults.js';
import { CLK_TCK, listenerInodes, localPortsTo, readProc, sumProcs } from './procfs.js';
import { Prober, now, pushThrough, startSink, waitAllUp, waitGone, waitListenerGone, waitRoundTrip, waitSinkReachable } from './probe.js';
import {
  AUTOSSH_MISSING,
  allOf,
  configModeAvailable,
  startAgent,
  startAutossh,
  startAutotunnel,
  startPlainSsh,
  sshVars,
  writeTunnelsYaml,
  type Env,
  type Mode,
  type ToolName,
  type ToolRun,
} from './tools.js';

/**
 * rto1s: the defaults, on a machine where autotunnel has no CAP_NET_ADMIN (so it cannot abort a
 * dead connection) and net.ipv4.tcp_rto_max_ms=1000, once thought a cure for a stale -R port
 * without the capability. Kept as the measurement that it is not (2026-11-30: freed 6.3 s after
 * the link returned, as with no cure at all). Namespaced lanes only.
 */
export type Variant = 'defaults' | 'ka10x3' | 'rto1s';
/** The second environment of every scenario: jnovack's own keepalive values, set explicitly for both tools. */
export const VARIANT_VARS: Record<Variant, Env> = {
  defaults: {},
  ka10x3: { SSH_SERVER_ALIVE_INTERVAL: '10', SSH_SERVER_ALIVE_COUNT_MAX: '3' },
  rto1s: {},
};

export type Scenario = 'killed' | 'restarted' | 'down' | 'start-down' | 'blackhole' | 'stale';

export interface OnServer {
  /** Which OpenSSH the job's sshd is (test/harness/openssh-versions.ts); default '9.2', the machine's. */
  server?: SshdVersion;
}

export interface RecoveryJob extends OnServer {
  kind: 'recovery';
  scenario: Scenario;
  tool: ToolName;
  mode: Mode;
  variant: Variant;
  /** Faults injected (and measured) one after the other in this job. */
  reps: number;
  /** Outage length for down, start-down, blackhole and stale. */
  outageMs: number;
  /** Up this long before the first fault (autossh's gate time is 30 s: see buildJobs). */
  settleFirstMs: number;
  /** Up this long between faults. */
  settleMs: number;
  /** stale: the server's ClientAliveInterval (undefined: unset, sshd's default). */
  clientAliveSec?: number;
  /** Give up on "back" after this long. */
  backLimitMs: number;
}
export interface ThroughputJob extends OnServer {
  kind: 'throughput';
  bytes: number;
  reps: number;
}
export interface FootprintJob extends OnServer {
  kind: 'footprint';
  tool: ToolName;
  tunnels: number;
  windowMs: number;
}
export interface ScaleJob extends OnServer {
  kind: 'scale';
  tool: ToolName;
  tunnels: number;
  limitMs: number;
  /** Once all are up: idle window for the footprint:N row. */
  footprintWindowMs: number;
}
export type Job = RecoveryJob | ThroughputJob | FootprintJob | ScaleJob | FleetJob;
export type { FleetJob } from './fleet.js';

/** One measurement. `row` names the table row; metrics are null when the thing did not happen in time. */
export interface Sample {
  row: string;
  tool: ToolName | 'ssh';
  metrics: Record<string, number | null>;
  notRun?: string;
  error?: string;
  /** What the tool said meanwhile (autotunnel's causes and delays), for explaining misses. */
  detail?: string;
  /**
   * What the job's sshd logged over the whole job (setup included): on the first sample of each
   * row and tool only, so that summing a row's samples gives the total over its runs.
   */
  sshdLog?: SshdLogCounts;
}

/** The row a job measures: what, and against which server ("@9.2", "@10": `--only 'fleet.*@10'`). */
export function rowId(job: Job): string {
  return `${baseRowId(job)}@${job.server ?? '9.2'}`;
}

function baseRowId(job: Job): string {
  switch (job.kind) {
    case 'fleet':
      return fleetRowId(job);
    case 'recovery': {
      const param =
        job.scenario === 'stale'
          ? `${job.outageMs / 1000}s/cai${job.clientAliveSec ?? 0}`
          : job.scenario === 'down' || job.scenario === 'start-down' || job.scenario === 'blackhole'
            ? `${job.outageMs / 1000}s`
            : '';
      return `${job.scenario}${param ? `:${param}` : ''}|${job.mode}|${job.variant}`;
    }
    case 'throughput':
      return `throughput:${job.bytes}`;
    case 'footprint':
      return `footprint:${job.tunnels}`;
    case 'scale':
      return `scale:${job.tunnels}`;
  }
}

/** Rough wall time of a job, for scheduling longest first and for the lane watchdog. */
export function estimateMs(job: Job): number {
  switch (job.kind) {
    case 'fleet':
      return fleetEstimateMs(job);
    case 'recovery':
      return 4_000 + job.settleFirstMs + job.reps * (job.outageMs + job.settleMs + 8_000);
    case 'throughput':
      return 10_000 + (job.bytes / 2 ** 20) * 3 * (job.reps + 1) * 10;
    case 'footprint':
      return 20_000 + job.windowMs + job.tunnels * 100;
    case 'scale':
      return 30_000 + job.footprintWindowMs + job.tunnels * 100;
  }
}

/** Upper bound after which the job is abandoned. */
export function limitMs(job: Job): number {
  switch (job.kind) {
    case 'fleet':
      return fleetLimitMs(job);
    case 'recovery':
      return 60_000 + job.settleFirstMs + job.reps * (job.outageMs + job.settleMs + job.backLimitMs + 30_000);
    case 'throughput':
      return 120_000 + (job.bytes / 2 ** 20) * 3 * (job.reps + 1) * 100;
    case 'footprint':
      return 180_000 + job.windowMs;
    case 'scale':
      return job.limitMs + job.footprintWindowMs + 120_000;
  }
}

// ── the stage: sshd, target, faults, temp dir ─────────────────────────────

/** The sshd log counts of every stage closed during the current job (a lane runs one job at a time). */
let closedStages: SshdLogCounts[] | undefined;

export class Stage {
  readonly #cleanups: Array<() => Promise<unknown>> = [];
  readonly tools: ToolRun[] = [];

  private constructor(
    readonly dir: string,
    readonly sshd: TestSshd,
    readonly echo: EchoServer,
    readonly faults: LinkFaults | undefined,
  ) {}

  static async create(opts: { extraConfig?: string[]; faults?: boolean; server?: SshdVersion }): Promise<Stage> {
    const dir = await mkdtemp(join(tmpdir(), 'autotunnel-bench-'));
    const undo: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
    try {
      const sshd = await TestSshd.start({ extraConfig: opts.extraConfig ?? [], version: opts.server ?? '9.2' });
      undo.unshift(() => sshd.cleanup());
      const echo = await startEchoServer();
      undo.unshift(() => echo.close());
      let faults: LinkFaults | undefined;
      if (opts.faults) {
        faults = await linkFaults({ sshdPort: sshd.port, hostKeyLine: sshd.hostKeyLine(), dir, sshdKnownHosts: sshd.knownHostsPath });
        const f = faults;
        undo.unshift(() => f.close());
      }
      const stage = new Stage(dir, sshd, echo, faults);
      stage.#cleanups.push(...undo);
      return stage;
    } catch (e) {
      for (const u of undo) await u().catch(() => {});
      throw e;
    }
  }

  /** Where tools connect: the sshd itself, or (without namespaces, for link faults) the fault proxy. */
  get serverPort(): number {
    return this.faults?.serverPort ?? this.sshd.port;
  }

  get knownHosts(): string {
    return this.faults?.knownHostsFile ?? this.sshd.knownHostsPath;
  }

  vars(mode: Mode, tunnelPort: number, variant: Variant, targetPort = this.echo.port): Env {
    return sshVars({
      serverPort: this.serverPort,
      user: this.sshd.user,
      keyFile: this.sshd.clientKeyPath,
      knownHostsFile: this.knownHosts,
      mode,
      tunnelPort,
      targetPort,
      extra: VARIANT_VARS[variant],
    });
  }

  async startTool(tool: ToolName, varsList: Env[], opts: { dropNetAdmin?: boolean } = {}): Promise<ToolRun> {
    let run: ToolRun;
    if (tool === 'autotunnel') {
      // Env mode is one tunnel per process: several variable sets are a fleet of processes, each
      // without its status listener (on one host they would all want the same port).
      const fleetVars: Env = varsList.length > 1 ? { AUTOTUNNEL_HTTP: 'off' } : {};
      const runs: ToolRun[] = [];
      for (const vars of varsList) runs.push(startAutotunnel({ ...vars, ...fleetVars }, { stateDir: await mkdtemp(join(this.dir, 'state-')), ...(opts.dropNetAdmin ? { dropNetAdmin: true } : {}) }));
      run = runs.length === 1 ? runs[0]! : allOf(runs);
    } else {
      const agent = await startAgent(this.dir, this.sshd.clientKeyPath);
      this.#cleanups.unshift(() => agent.stop());
      run = startAutossh(varsList, { agentSock: agent.sock, dir: this.dir });
    }
    this.tools.push(run);
    this.#cleanups.unshift(() => run.stop());
    return run;
  }

  /** `operate`: with two webhook receivers and a control token configured (the footprint rows). */
  async startAutotunnelConfig(forwards: Array<{ local: number; target: number }>, opts: { operate?: boolean } = {}): Promise<ToolRun> {
    const yaml = join(this.dir, 'tunnels.yaml');
    const tokenFile = join(this.dir, 'control-token');
    if (opts.operate) await writeFile(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    await writeTunnelsYaml(
      yaml,
      forwards.map((f, i) => ({
        name: `t${i + 1}`,
        serverPort: this.serverPort,
        user: this.sshd.user,
        keyFile: this.sshd.clientKeyPath,
        knownHostsFile: this.knownHosts,
        local: `127.0.0.1:${f.local}`,
        to: `127.0.0.1:${f.target}`,
      })),
      // Receivers nobody calls while the tunnels stay up: what is measured is their cost at rest.
      opts.operate ? { notifyUrls: [`http://127.0.0.1:${this.echo.port}/hook`, `http://127.0.0.1:${this.echo.port}/slack`], controlTokenFile: tokenFile } : undefined,
    );
    const run = startAutotunnel({}, { stateDir: await mkdtemp(join(this.dir, 'state-')), args: ['run', '-c', yaml] });
    this.tools.push(run);
    this.#cleanups.unshift(() => run.stop());
    return run;
  }

  addCleanup(fn: () => Promise<unknown>): void {
    this.#cleanups.unshift(fn);
  }

  async close(): Promise<void> {
    // Read before the cleanups remove the log with the temp dir.
    if (this.#cleanups.length) closedStages?.push(this.sshd.logCounts());
    for (const c of this.#cleanups.splice(0)) await c().catch(() => {});
  }
}

export async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/**
 * Starts sshd and returns the moment its socket was listening (checked every 5 ms alongside the
 * harness's own, slower readiness check), so "back" is measured from when the path returned.
 * Read from /proc/net/tcp, not by connecting: OpenSSH >= 9.8 counts a connection closed before
 * authentication against the source address (PerSourcePenalties), and the bench must not add any.
 */
export async function startSshdTimed(sshd: TestSshd): Promise<number> {
  let listenedAt: number | undefined;
  let stop = false;
  const watcher = (async () => {
    while (!stop && listenedAt === undefined) {
      if (listening(sshd.port)) listenedAt = now();
      else await sleep(5);
    }
  })();
  await sshd.start();
  const resolvedAt = now();
  stop = true;
  await watcher;
  return Math.min(listenedAt ?? resolvedAt, resolvedAt);
}

/** The ssh that carries the tunnel now (the tool's only one). */
function currentSsh(tool: ToolRun): { pid: number; start: string } {
  const pids = tool.sshPids();
  if (pids.length !== 1) throw new Error(`expected one ssh under ${tool.tool}, found ${pids.length}: ${tool.output().slice(-2000)}`);
  const p = readProc(pids[0]!);
  if (!p) throw new Error('ssh vanished');
  return { pid: p.pid, start: p.startTime };
}

export function describeEvents(tool: ToolRun, since: number): string | undefined {
  const ev = tool.events().filter((e) => e.at >= since);
  if (!ev.length) return undefined;
  return ev.map((e) => `${((e.at - since) / 1000).toFixed(2)}s ${e.state}${e.cause ? `(${e.cause}${e.delayMs !== undefined ? `, wait ${e.delayMs} ms` : ''})` : ''}`).join(' → ');
}

// ── recovery ──────────────────────────────────────────────────────────────

export const UP_TIMEOUT_MS = 30_000;

/**
 * Bounds on holding the quiet token (lanes.ts): setup ends once the tunnel is up; a fault's
 * window covers the part of a recovery where a tenth of a second matters for the targets.
 */
export const QUIET_SETUP_MS = 8_000;
export const QUIET_FAULT_MS = 1_500;
/**
 * Outages last their nominal length plus 0–1 s at random, so the path returns at a random point
 * of each tool's retry cycle (a fixed length would hit the same phase of a 1 s probe every time).
 */
export const outageJitter = (): number => Math.random() * 1_000;

async function recovery(job: RecoveryJob, ctx: JobContext): Promise<Sample[]> {
  const row = rowId(job);
  const linkFault = job.scenario === 'blackhole' || job.scenario === 'stale';
  const extraConfig = job.clientAliveSec ? [`ClientAliveInterval ${job.clientAliveSec}`] : [];
  let stage: Stage | undefined;
  try {
    const startedAt = now();
    // Setup under the quiet token: sshd, target, the tool starting and bringing the tunnel up.
    const { tool, tunnelPort, prober } = await ctx.quiet(QUIET_SETUP_MS, async () => {
      stage = await Stage.create({ extraConfig, faults: linkFault, server: job.server });
      if (job.scenario === 'stale' && !stage.faults?.canKeepOldDropped) return { tool: undefined, tunnelPort: 0, prober: undefined };
      const tunnelPort = await freePort();
      const prober = new Prober('127.0.0.1', tunnelPort);
      stage.addCleanup(async () => prober.stop());
      if (job.scenario === 'start-down') await stage.sshd.stop();
      // The lane's own network namespace: this changes nothing outside it.
      if (job.variant === 'rto1s') execFileSync('sysctl', ['-qw', 'net.ipv4.tcp_rto_max_ms=1000']);
      const tool = await stage.startTool(job.tool, [stage.vars(job.mode, tunnelPort, job.variant)], { dropNetAdmin: job.variant === 'rto1s' });
      if (job.scenario !== 'start-down' && (await waitRoundTrip(tunnelPort, UP_TIMEOUT_MS)) === undefined) {
        throw new Error(`${job.tool} did not bring the tunnel up within ${UP_TIMEOUT_MS / 1000} s; output:\n${tool.output().slice(-3000)}`);
      }
      return { tool, tunnelPort, prober };
    });
    if (!tool || !prober || !stage) {
      return [{ row, tool: job.tool, metrics: {}, notRun: 'needs root (network namespace): the fault proxy cannot keep only the old connection dropped' }];
    }
    const st = stage;

    if (job.scenario === 'start-down') {
      await sleep(Math.max(0, job.outageMs + outageJitter() - (now() - startedAt)));
      return await ctx.quiet(QUIET_FAULT_MS, async () => {
        prober.start();
        const restoredAt = await startSshdTimed(st.sshd);
        const back = await prober.firstSuccess(startedAt, job.backLimitMs);
        prober.stop();
        const detail = describeEvents(tool, restoredAt);
        ctx.log(`${row} ${job.tool}: back ${fmt(back, restoredAt)}`);
        return [{ row, tool: job.tool, metrics: { back: back === undefined ? null : back - restoredAt, outage: restoredAt - startedAt }, ...(detail ? { detail } : {}) }];
      });
    }

    const samples: Sample[] = [];
    for (let rep = 0; rep < job.reps; rep++) {
      await sleep(rep === 0 ? job.settleFirstMs : job.settleMs);
      // Faults are injected on a working tunnel only.
      if ((await waitRoundTrip(tunnelPort, UP_TIMEOUT_MS)) === undefined) throw new Error(`tunnel not up before fault ${rep + 1}`);
      const metrics: Record<string, number | null> = {};
      let mark = now();
      switch (job.scenario) {
        case 'killed':
          await ctx.quiet(QUIET_FAULT_MS, async () => {
            const ssh = currentSsh(tool);
            prober.start();
            const killedAt = now();
            mark = killedAt;
            process.kill(ssh.pid, 'SIGKILL');
            const back = await prober.firstSuccess(killedAt, job.backLimitMs);
            metrics.back = back === undefined ? null : back - killedAt;
          });
          break;
        case 'restarted':
        case 'down': {
          const stopAt = now();
          let stoppedAt = stopAt;
          const restore = async () => {
            prober.start();
            const restoredAt = await startSshdTimed(st.sshd);
            mark = restoredAt;
            const back = await prober.firstSuccess(stoppedAt, job.backLimitMs);
            metrics.back = back === undefined ? null : back - restoredAt;
            metrics.outage = restoredAt - stopAt;
          };
          if (job.scenario === 'restarted') {
            await ctx.quiet(QUIET_FAULT_MS, async () => {
              await st.sshd.stop();
              stoppedAt = now();
              await restore();
            });
          } else {
            await ctx.quiet(QUIET_FAULT_MS, async () => {
              await st.sshd.stop();
              stoppedAt = now();
            });
            await sleep(Math.max(0, job.outageMs + outageJitter() - (now() - stopAt)));
            await ctx.quiet(QUIET_FAULT_MS, restore);
          }
          break;
        }
        case 'blackhole':
        case 'stale': {
          const faults = st.faults!;
          const ssh = currentSsh(tool);
          const oldPorts = job.scenario === 'stale' ? localPortsTo(ssh.pid, st.sshd.port) : [];
          if (job.scenario === 'stale' && oldPorts.length === 0) throw new Error("could not find the ssh connection's local port");
          // -R: the listener is the server's; note when the server closes the old session's one.
          const [oldListener] = job.mode === '-R' ? listenerInodes(tunnelPort) : [];
          await faults.blackhole();
          const holedAt = now();
          const outageMs = job.outageMs + outageJitter();
          const gone = waitGone(ssh.pid, ssh.start, outageMs);
          const freedWatch = { cancelled: false };
          const freed = oldListener ? waitListenerGone(tunnelPort, oldListener, outageMs + job.backLimitMs, freedWatch) : undefined;
          await sleep(outageMs);
          await ctx.quiet(QUIET_FAULT_MS, async () => {
            if (job.scenario === 'stale') await faults.restoreExcept(oldPorts);
            else await faults.restore();
            const restoredAt = now();
            mark = restoredAt;
            prober.start();
            const goneAt = await gone;
            metrics.noticed = goneAt === undefined ? null : goneAt - holedAt;
            const back = await prober.firstSuccess(restoredAt, job.backLimitMs);
            metrics.back = back === undefined ? null : back - restoredAt;
          });
          if (freed) {
            // Once back, the old listener is either gone or (the old session resumed) still the one in use.
            freedWatch.cancelled = listenerInodes(tunnelPort).includes(oldListener!);
            const freedAt = await freed;
            metrics.freed = freedAt === undefined ? null : freedAt - mark;
          }
          if (job.scenario === 'stale') await faults.restore();
          break;
        }
      }
      prober.stop();
      const detail = describeEvents(tool, mark);
      samples.push({ row, tool: job.tool, metrics, ...(detail ? { detail } : {}) });
      ctx.log(`${row} ${job.tool} #${rep + 1}: ${Object.entries(metrics).map(([k, v]) => `${k}=${v === null ? '—' : Math.round(v)}`).join(' ')}`);
      if (metrics.back === null) break; // the tunnel did not come back: later faults would measure nothing
    }
    return samples;
  } finally {
    await stage?.close();
  }
}

function fmt(t: number | undefined, from: number): string {
  return t === undefined ? 'never' : `${Math.round(t - from)} ms`;
}

// ── throughput ────────────────────────────────────────────────────────────

function sshdPids(): number[] {
  return listProcesses((p) => p.argv[0] !== undefined && /(^|\/)sshd(:|$)|^sshd:/.test(p.argv[0])).map((p) => p.pid);
}

/** Pins every thread of these processes to CPU 0 (taskset); false when taskset is missing or fails. */
function pinToOneCpu(pids: number[]): boolean {
  let ok = true;
  for (const pid of pids) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
    if (r.status !== 0) ok = false;
  }
  return ok && pids.length > 0;
}

async function throughput(job: ThroughputJob, { log }: JobContext): Promise<Sample[]> {
  const row = rowId(job);
  const stage = await Stage.create({ server: job.server });
  try {
    const sink = await startSink();
    stage.addCleanup(() => sink.close());
    const [pPlain, pAt, pAs] = await distinctFreePorts(3);
    const tunnels: Array<{ tool: ToolName | 'ssh'; port: number; run: ToolRun }> = [
      {
        tool: 'ssh',
        port: pPlain!,
        run: startPlainSsh({ serverPort: stage.serverPort, user: stage.sshd.user, keyFile: stage.sshd.clientKeyPath, knownHostsFile: stage.knownHosts, mode: '-L', tunnelPort: pPlain!, targetPort: sink.port }),
      },
      { tool: 'autotunnel', port: pAt!, run: await stage.startTool('autotunnel', [stage.vars('-L', pAt!, 'defaults', sink.port)]) },
      { tool: 'autossh', port: pAs!, run: await stage.startTool('autossh', [stage.vars('-L', pAs!, 'defaults', sink.port)]) },
    ];
    stage.addCleanup(() => tunnels[0]!.run.stop());
    for (const t of tunnels) {
      if (!(await waitSinkReachable(t.port, UP_TIMEOUT_MS))) throw new Error(`${t.tool}: the sink is not reachable through the tunnel`);
      await pushThrough(t.port, job.bytes, 600_000); // warm-up at full size
    }
    // Everything on the data path (ssh clients, sshd and its sessions, this process as sender and
    // sink) shares one CPU: throughput is then set by the total CPU cost per byte, which is what a
    // supervisor could add to, instead of by how the scheduler spreads four busy processes over
    // the cores (which varies by ±30 % from one transfer to the next on a small VM).
    // Only with a PID namespace: there every sshd in sight is this job's.
    const pinned = faultKind() === 'netns' && pinToOneCpu([process.pid, ...tunnels.flatMap((t) => [...t.run.sshPids(), ...t.run.supervisorPids()]), ...sshdPids()]);
    const samples: Sample[] = [];
    for (let rep = 0; rep < job.reps; rep++) {
      // Rotate the order so no tool always goes first (or right after another's transfer).
      const order = tunnels.map((_, i) => tunnels[(i + rep) % tunnels.length]!);
      const perRep: Partial<Record<string, number>> = {};
      const supCpu: Partial<Record<string, number>> = {};
      for (const t of order) {
        const sup = t.run.supervisorPids();
        const before = sumProcs(sup).cpuTicks;
        const ms = await pushThrough(t.port, job.bytes, 600_000);
        perRep[t.tool] = job.bytes / 2 ** 20 / (ms / 1000);
        // The supervisor's own CPU while its tunnel carried the bytes: it never touches them.
        supCpu[t.tool] = (((sumProcs(sup).cpuTicks - before) / CLK_TCK) * 1000) / (job.bytes / 2 ** 30);
      }
      for (const t of tunnels) {
        const mbps = perRep[t.tool]!;
        // Ratio to plain ssh in the same round: slow and fast periods of the machine cancel out.
        samples.push({ row, tool: t.tool, metrics: { mbps, ...(t.tool !== 'ssh' ? { ratio: mbps / perRep.ssh!, supCpuMsPerGiB: supCpu[t.tool]! } : {}) } });
      }
      log(`${row} #${rep + 1}${pinned ? ' (one CPU)' : ''}: ${tunnels.map((t) => `${t.tool} ${perRep[t.tool]!.toFixed(0)} MiB/s`).join(', ')}`);
    }
    return samples;
  } finally {
    await stage.close();
  }
}

// ── footprint (RSS, idle CPU) ─────────────────────────────────────────────

/**
 * With every tunnel up and idle: RSS at the end of the window, and CPU (user + system) used during
 * it as a percentage of one core — for the supervisor (autotunnel's node; every autossh) and,
 * separately, for the ssh clients (the same program under both tools).
 */
async function measureIdle(tool: ToolRun, windowMs: number): Promise<Record<string, number>> {
  await sleep(2_000);
  const sup = tool.supervisorPids();
  const ssh = tool.sshPids();
  const a = { t: now(), sup: sumProcs(sup), ssh: sumProcs(ssh) };
  await sleep(windowMs);
  const b = { t: now(), sup: sumProcs(sup), ssh: sumProcs(ssh) };
  const secs = (b.t - a.t) / 1000;
  const pct = (ticks: number) => (ticks / CLK_TCK / secs) * 100;
  return {
    supRssMb: b.sup.rssKb / 1024,
    supCpuPct: pct(b.sup.cpuTicks - a.sup.cpuTicks),
    sshRssMb: b.ssh.rssKb / 1024,
    sshCpuPct: pct(b.ssh.cpuTicks - a.ssh.cpuTicks),
    processes: b.sup.count,
    sshProcesses: b.ssh.count,
  };
}

async function footprint(job: FootprintJob, ctx: JobContext): Promise<Sample[]> {
  const row = rowId(job);
  if (job.tool === 'autotunnel' && job.tunnels > 1 && !(await configModeAvailable())) {
    return [{ row, tool: job.tool, metrics: {}, notRun: 'config mode not available' }];
  }
  let stage: Stage | undefined;
  try {
    const tool = await ctx.quiet(QUIET_SETUP_MS, async () => {
      const st = (stage = await Stage.create({ server: job.server }));
      const ports = await distinctFreePorts(job.tunnels);
      const tool =
        job.tool === 'autotunnel' && job.tunnels > 1
          ? await st.startAutotunnelConfig(ports.map((p) => ({ local: p, target: st.echo.port })))
          : await st.startTool(job.tool, ports.map((p) => st.vars('-L', p, 'defaults')));
      const up = await waitAllUp(ports, { timeoutMs: 120_000, everyMs: 250, concurrency: 50 });
      const notUp = [...up.values()].filter((v) => v === undefined).length;
      if (notUp) throw new Error(`${notUp} of ${job.tunnels} tunnels not up; output:\n${tool.output().slice(-3000)}`);
      return tool;
    });
    const metrics = await measureIdle(tool, job.windowMs);
    ctx.log(`${row} ${job.tool}: ${JSON.stringify(metrics)}`);
    return [{ row, tool: job.tool, metrics }];
  } finally {
    await stage?.close();
  }
}

// ── scale: N tunnels to one sshd at its default MaxStartups ──────────────

/**
 * Starts N tunnels at once against one sshd with its default MaxStartups (10:30:100: beyond 10
 * unauthenticated connections sshd drops new ones at random), measures how long until every one
 * carried a round trip and how many connections sshd dropped; then, with all of them idle, the
 * footprint (RSS, CPU) of the N-tunnel set, reported as the footprint:N row.
 */
async function scale(job: ScaleJob, { log }: JobContext): Promise<Sample[]> {
  const row = rowId(job);
  const fpRow = `footprint:${job.tunnels}`;
  if (job.tool === 'autotunnel' && !(await configModeAvailable())) {
    const notRun = 'config mode not available';
    return [
      { row, tool: job.tool, metrics: {}, notRun },
      { row: fpRow, tool: job.tool, metrics: {}, notRun },
    ];
  }
  // The harness raises MaxStartups for its tests; a keyword set here replaces the harness's line.
  const stage = await Stage.create({ extraConfig: ['MaxStartups 10:30:100'], server: job.server });
  try {
    const ports = await distinctFreePorts(job.tunnels);
    const startedAt = now();
    // With notifications and control configured: the 60 MB budget holds for a fully set-up file.
    const tool =
      job.tool === 'autotunnel'
        ? await stage.startAutotunnelConfig(ports.map((p) => ({ local: p, target: stage.echo.port })), { operate: true })
        : await stage.startTool('autossh', ports.map((p) => stage.vars('-L', p, 'defaults')));
    const up = await waitAllUp(ports, { timeoutMs: job.limitMs, everyMs: 250, concurrency: 50 });
    const times = [...up.values()];
    const upCount = times.filter((t) => t !== undefined).length;
    const last = upCount === job.tunnels ? Math.max(...(times as number[])) - startedAt : null;
    const drops = stage.sshd.logCounts().maxStartupsDrops;
    // CPU the supervisor itself spent from its start until all were up (the machine's CPU is what limits this row).
    const supCpuUpS = sumProcs(tool.supervisorPids()).cpuTicks / CLK_TCK;
    const metrics = { allUp: last, up: upCount, drops, restarts: tool.restarts(), supCpuUpS };
    log(`${row} ${job.tool}: ${JSON.stringify(metrics)}`);
    const samples: Sample[] = [{ row, tool: job.tool, metrics }];
    if (upCount === job.tunnels) samples.push({ row: fpRow, tool: job.tool, metrics: await measureIdle(tool, job.footprintWindowMs) });
    return samples;
  } finally {
    await stage.close();
  }
}

/** What a job gets from its lane: a log line to the parent, and the quiet token (lanes.ts). */
export interface JobContext {
  log(msg: string): void;
  /** Runs fn while no other lane runs a timed or CPU-heavy step; the token is held for capMs at most. */
  quiet<T>(capMs: number, fn: () => Promise<T>): Promise<T>;
}

export async function runJob(job: Job, ctx: JobContext): Promise<Sample[]> {
  const stages: SshdLogCounts[] = (closedStages = []);
  let samples: Sample[];
  try {
    samples = await runKind(job, ctx);
  } catch (e) {
    const tool = 'tool' in job ? job.tool : 'autotunnel';
    samples = [{ row: rowId(job), tool, metrics: {}, error: e instanceof Error ? e.message : String(e) }];
  } finally {
    closedStages = undefined;
  }
  return withSshdLog(samples, stages);
}

async function runKind(job: Job, ctx: JobContext): Promise<Sample[]> {
  if ('tool' in job && job.tool === 'autossh' && AUTOSSH_MISSING) return [{ row: rowId(job), tool: job.tool, metrics: {}, notRun: AUTOSSH_MISSING }];
  switch (job.kind) {
    case 'recovery':
      return recovery(job, ctx);
    case 'throughput':
      return throughput(job, ctx);
    case 'footprint':
      return footprint(job, ctx);
    case 'scale':
      return scale(job, ctx);
    case 'fleet':
      return fleet(job, ctx);
  }
}

/**
 * Every row reports what its sshd logged: the job's counts go on the first sample of each row and
 * tool (a throughput job's one sshd served all three tunnels: each tool's column shows it whole).
 */
function withSshdLog(samples: Sample[], stages: SshdLogCounts[]): Sample[] {
  if (!stages.length) return samples;
  const total: SshdLogCounts = { penaltyActivations: 0, penaltyDrops: 0, maxStartupsDrops: 0 };
  for (const c of stages) for (const k of Object.keys(total) as Array<keyof SshdLogCounts>) total[k] += c[k];
  const seen = new Set<string>();
  return samples.map((s) => {
    const key = `${s.row}\u0000${s.tool}`;
    if (s.notRun || seen.has(key)) return s;
    seen.add(key);
    return { ...s, sshdLog: total };
  });
}

// ── the sets ──────────────────────────────────────────────────────────────

export interface SetOptions {
  full: boolean;
  runs: number;
  /**
   * `--server`: run every row against these servers. Unset: the single-tunnel rows against the
   * machine's sshd (9.2), the fleet rows against 9.2 and OpenSSH 10.
   */
  servers?: SshdVersion[];
  /** Lanes run in their own network namespaces (root): rows that change the namespace can run. */
  netns?: boolean;
}

/**
 * autossh's gate time: with AUTOSSH_GATETIME=30 an ssh that exits within 30 s of autossh's
 * start makes autossh itself exit. A tunnel that has been up for a while is the case users care
 * about, so faults that make ssh exit are injected after 32 s up (the same for both tools), and
 * later faults in the same job 12 s after the previous recovery (past both tools' 10 s resets).
 */
const PAST_GATE_MS = 32_000;
const SETTLE_BETWEEN_MS = 12_000;
/**
 * Link faults need no such wait: ssh only exits once its keepalives give up, at least 8 s into
 * the outage for autotunnel and 40 s for autossh (10 s × (3 + 1)), i.e. past the gate anyway.
 */
const LINK_SETTLE_MS = 2_000;

export function buildJobs(opts: SetOptions): { parallel: Job[]; exclusive: Job[]; fleet: Job[] } {
  const tools: ToolName[] = ['autotunnel', 'autossh'];
  const modes: Mode[] = ['-L', '-R'];
  const parallel: Job[] = [];
  const rec = (j: Omit<RecoveryJob, 'kind'>, fresh: boolean) => {
    // "fresh": each measurement in its own job (own sshd, tool started anew); else one job, runs in a row.
    if (fresh) for (let i = 0; i < opts.runs; i++) parallel.push({ kind: 'recovery', ...j, reps: 1 });
    else parallel.push({ kind: 'recovery', ...j, reps: opts.runs });
  };
  // jnovack's defaults ARE 10 s × 3: with the variables set, autossh gets the identical command, so
  // its "ka10x3" rows are its defaults rows (report.ts says so) and are not run twice.
  const variantsFor = (tool: ToolName): Variant[] => (opts.full && tool === 'autotunnel' ? ['defaults', 'ka10x3'] : ['defaults']);
  const blackholeMs = opts.full ? 60_000 : 15_000;

  for (const tool of tools) {
    for (const mode of modes) {
      for (const variant of variantsFor(tool)) {
        rec({ scenario: 'killed', tool, mode, variant, reps: 1, outageMs: 0, settleFirstMs: 2_000, settleMs: 0, backLimitMs: 60_000 }, true);
        rec({ scenario: 'restarted', tool, mode, variant, reps: 1, outageMs: 0, settleFirstMs: PAST_GATE_MS, settleMs: SETTLE_BETWEEN_MS, backLimitMs: 120_000 }, false);
        rec({ scenario: 'start-down', tool, mode, variant, reps: 1, outageMs: 20_000, settleFirstMs: 0, settleMs: 0, backLimitMs: 120_000 }, true);
        rec({ scenario: 'blackhole', tool, mode, variant, reps: 1, outageMs: blackholeMs, settleFirstMs: LINK_SETTLE_MS, settleMs: 0, backLimitMs: 180_000 }, true);
        if (opts.full) {
          for (const down of [20_000, 300_000]) {
            rec({ scenario: 'down', tool, mode, variant, reps: 1, outageMs: down, settleFirstMs: PAST_GATE_MS, settleMs: 0, backLimitMs: 180_000 }, true);
          }
          if (mode === '-R') {
            for (const cai of [undefined, 5]) {
              rec({ scenario: 'stale', tool, mode, variant, reps: 1, outageMs: 60_000, settleFirstMs: LINK_SETTLE_MS, settleMs: 0, ...(cai ? { clientAliveSec: cai } : {}), backLimitMs: cai ? 120_000 : 90_000 }, true);
            }
          }
        }
      }
      // Quick set: the 10 s × 3 environment only where it changes autotunnel's behaviour most.
      if (!opts.full && tool === 'autotunnel') {
        rec({ scenario: 'blackhole', tool, mode, variant: 'ka10x3', reps: 1, outageMs: blackholeMs, settleFirstMs: LINK_SETTLE_MS, settleMs: 0, backLimitMs: 180_000 }, true);
      }
      // The stale -R port's cure without CAP_NET_ADMIN (the non-root image's): only with namespaces.
      if (tool === 'autotunnel' && mode === '-R' && opts.netns) {
        rec({ scenario: 'blackhole', tool, mode, variant: 'rto1s', reps: 1, outageMs: blackholeMs, settleFirstMs: LINK_SETTLE_MS, settleMs: 0, backLimitMs: 180_000 }, true);
      }
    }
  }

  const windowMs = opts.full ? 60_000 : 10_000;
  // One idle tunnel barely loads the machine: these run alongside the recovery jobs.
  for (const tool of tools) for (let i = 0; i < opts.runs; i++) parallel.push({ kind: 'footprint', tool, tunnels: 1, windowMs });
  // Throughput (wall time of a transfer) and scale (hundreds of handshakes at once) run alone.
  // Transfers on a small VM vary by ±10 % from one to the next: many paired rounds, median ratio.
  const exclusive: Job[] = [{ kind: 'throughput', bytes: opts.full ? 2 ** 30 : 256 * 2 ** 20, reps: Math.max(opts.runs, 9) }];
  for (const tunnels of opts.full ? [100, 500] : [100]) {
    for (let i = 0; i < opts.runs; i++) {
      // (Quick set: a 5 s idle window for the 100-tunnel footprint, to stay under 5 minutes.)
      for (const tool of tools) exclusive.push({ kind: 'scale', tool, tunnels, limitMs: opts.full ? 300_000 : 120_000, footprintWindowMs: opts.full ? windowMs : 5_000 });
    }
  }
  const onServers = (jobs: Job[]) => (opts.servers ?? ['9.2']).flatMap((server) => jobs.map((j): Job => ({ ...j, server })));
  // Fleet rows: tens of processes starting and reconnecting at once, so they run after the
  // others, two at a time (run.ts). The quick set runs each once (about 3.5 minutes); the full
  // set --runs times, plus the 100-tunnel config.
  const fleet = fleetJobs({
    runs: opts.full ? opts.runs : 1,
    servers: opts.servers ?? SSHD_VERSIONS,
    configRows: opts.full,
    settleRestartMs: PAST_GATE_MS,
    settleLinkMs: LINK_SETTLE_MS,
  });
  return { parallel: onServers(parallel), exclusive: onServers(exclusive), fleet };
}
