/**
 * Fleet rows (issue 12): many tunnels from one host to one sshd with its default configuration
 * (MaxStartups 10:30:100; on OpenSSH 10 also PerSourcePenalties), a fault that hits them all at
 * once, and the time until EVERY tunnel has carried a round trip again.
 *
 * - `processes`: one autotunnel process per tunnel (env mode, SSH_* variables, one -L each,
 *   AUTOTUNNEL_HTTP=off): the way jnovack/autossh's users deploy, one container per tunnel.
 * - `config`: one autotunnel with a config file holding all the tunnels.
 * autossh is always one jnovack "container" per tunnel (its entrypoint under the restart loop).
 *
 * "Back" is measured from the moment the path returned (sshd listening again; the iptables rules
 * removed) to the end of each tunnel's first round trip started after it. What sshd logged
 * (penalty activations, penalty drops, MaxStartups drops) is added to every row by runJob.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { sshdUnavailable, type SshdVersion } from '../test/harness/openssh-versions.js';
import { now, waitAllUp } from './probe.js';
import {
  QUIET_FAULT_MS,
  QUIET_SETUP_MS,
  Stage,
  describeEvents,
  distinctFreePorts,
  outageJitter,
  startSshdTimed,
  type JobContext,
  type OnServer,
  type Sample,
} from './scenarios.js';
import { configModeAvailable, type ToolName, type ToolRun } from './tools.js';

export interface FleetJob extends OnServer {
  kind: 'fleet';
  tool: ToolName;
  shape: 'processes' | 'config';
  tunnels: number;
  fault: 'restarted' | 'blackhole';
  /** How long sshd stays down, or the link black-holed. */
  outageMs: number;
  /** Everything up this long before the fault (autossh's 30 s gate time for restarts). */
  settleMs: number;
  /** Give up on "every tunnel back" after this long. */
  backLimitMs: number;
}

/** 20 node processes (or 100 autossh + ssh) starting at once on a small machine. */
const FLEET_UP_LIMIT_MS = 180_000;
/** Each pending tunnel probed this often; many-second results need no finer grain. */
const FLEET_PROBE_EVERY_MS = 100;
const FLEET_PROBE_CONCURRENCY = 50;
/** How early a lane asks for the quiet token before the path returns. */
const TOKEN_LEAD_MS = 1_500;

/** e.g. "fleet20-restarted:5s|-L|defaults", "config100-restarted:5s|-L|defaults". */
export function fleetRowId(job: FleetJob): string {
  return `${job.shape === 'config' ? 'config' : 'fleet'}${job.tunnels}-${job.fault}:${job.outageMs / 1000}s|-L|defaults`;
}

export function fleetEstimateMs(job: FleetJob): number {
  return 20_000 + job.tunnels * 300 + job.settleMs + job.outageMs + 30_000;
}

export function fleetLimitMs(job: FleetJob): number {
  return 60_000 + FLEET_UP_LIMIT_MS + job.settleMs + job.outageMs + job.backLimitMs;
}

export async function fleet(job: FleetJob, ctx: JobContext): Promise<Sample[]> {
  const row = `${fleetRowId(job)}@${job.server ?? '9.2'}`;
  const server = job.server ?? '9.2';
  const unavailable = sshdUnavailable(server);
  if (unavailable) return [{ row, tool: job.tool, metrics: {}, notRun: `OpenSSH ${server}: ${unavailable}` }];
  if (job.tool === 'autotunnel' && job.shape === 'config' && !(await configModeAvailable())) {
    return [{ row, tool: job.tool, metrics: {}, notRun: 'config mode not available' }];
  }
  let stage: Stage | undefined;
  try {
    const { tool, ports } = await ctx.quiet(QUIET_SETUP_MS, async () => {
      // sshd's own defaults: the harness raises MaxStartups for its tests.
      const st = (stage = await Stage.create({ extraConfig: ['MaxStartups 10:30:100'], faults: job.fault === 'blackhole', server }));
      const ports = await distinctFreePorts(job.tunnels);
      const tool: ToolRun =
        job.tool === 'autotunnel' && job.shape === 'config'
          ? await st.startAutotunnelConfig(ports.map((p) => ({ local: p, target: st.echo.port })))
          : await st.startTool(job.tool, ports.map((p) => st.vars('-L', p, 'defaults')));
      const up = await waitAllUp(ports, { timeoutMs: FLEET_UP_LIMIT_MS, everyMs: 250, concurrency: FLEET_PROBE_CONCURRENCY });
      const notUp = [...up.values()].filter((v) => v === undefined).length;
      if (notUp) throw new Error(`${notUp} of ${job.tunnels} tunnels not up within ${FLEET_UP_LIMIT_MS / 1000} s; output:\n${tool.output().slice(-3000)}`);
      return { tool, ports };
    });
    const st = stage!;
    await sleep(job.settleMs);
    const restartsBefore = tool.restarts();
    const metrics: Record<string, number | null> = {};
    // The path's return and the probing after it hold the quiet token together: queueing for it
    // in between would add another lane's turn to "back".
    const probeAll = () => waitAllUp(ports, { timeoutMs: job.backLimitMs, everyMs: FLEET_PROBE_EVERY_MS, concurrency: FLEET_PROBE_CONCURRENCY });
    let restoredAt = 0;
    // The token is asked for a little before the outage ends, so that another lane's turn does
    // not lengthen the outage.
    const atOutageEnd = async <T>(endAt: number, fn: () => Promise<T>): Promise<T> => {
      await sleep(Math.max(0, endAt - now() - TOKEN_LEAD_MS));
      return ctx.quiet(QUIET_FAULT_MS + TOKEN_LEAD_MS, async () => {
        await sleep(Math.max(0, endAt - now()));
        return fn();
      });
    };
    let back: Map<number, number | undefined>;
    if (job.fault === 'restarted') {
      let stopAt = 0;
      await ctx.quiet(QUIET_FAULT_MS, async () => {
        stopAt = now();
        await st.sshd.stop();
        // Not in the table; in the log: on a loaded machine stopping and starting sshd take seconds.
        metrics.stopMs = now() - stopAt;
      });
      back = await atOutageEnd(stopAt + job.outageMs + outageJitter(), async () => {
        const startAt = now();
        restoredAt = await startSshdTimed(st.sshd);
        metrics.startMs = now() - startAt;
        return probeAll();
      });
      metrics.outage = restoredAt - stopAt;
    } else {
      const faults = st.faults!;
      await faults.blackhole();
      back = await atOutageEnd(now() + job.outageMs + outageJitter(), async () => {
        await faults.restore();
        restoredAt = now();
        return probeAll();
      });
    }
    const times = [...back.values()].map((t) => (t === undefined ? Infinity : t - restoredAt)).sort((a, b) => a - b);
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    metrics.allBack = finite(times.at(-1)!);
    metrics.medianBack = finite(times[Math.floor(times.length / 2)]!);
    metrics.notBack = times.filter((t) => !Number.isFinite(t)).length;
    if (job.tool === 'autossh') metrics.restarts = tool.restarts() - restartsBefore;
    // For explaining a miss: what holds the local port of a tunnel that did not come back.
    for (const port of ports.filter((p) => back.get(p) === undefined).slice(0, 3)) {
      const ss = spawnSync('ss', ['-Htanp', 'sport', '=', `:${port}`], { encoding: 'utf8', timeout: 5_000 });
      ctx.log(`${row} ${job.tool}: port ${port} not back; ss says: ${(ss.stdout || ss.stderr || '').trim().replace(/\s+/g, ' ') || 'nothing holds it'}`);
    }
    const detail = describeEvents(tool, restoredAt);
    ctx.log(`${row} ${job.tool}: ${Object.entries(metrics).map(([k, v]) => `${k}=${v === null ? '—' : Math.round(v)}`).join(' ')}`);
    return [{ row, tool: job.tool, metrics, ...(detail ? { detail } : {}) }];
  } finally {
    await stage?.close();
  }
}

/**
 * The fleet rows for these servers: 20 processes with sshd restarted after 5 s down and with the
 * link black-holed 15 s; one config with 100 tunnels, sshd restarted after 5 s down (when
 * `configRows`: the full set).
 */
export function fleetJobs(opts: { runs: number; servers: readonly SshdVersion[]; configRows: boolean; settleRestartMs: number; settleLinkMs: number }): FleetJob[] {
  const jobs: FleetJob[] = [];
  const tools: ToolName[] = ['autotunnel', 'autossh'];
  for (const server of opts.servers) {
    for (let i = 0; i < opts.runs; i++) {
      for (const tool of tools) {
        jobs.push({ kind: 'fleet', tool, server, shape: 'processes', tunnels: 20, fault: 'restarted', outageMs: 5_000, settleMs: opts.settleRestartMs, backLimitMs: 180_000 });
        jobs.push({ kind: 'fleet', tool, server, shape: 'processes', tunnels: 20, fault: 'blackhole', outageMs: 15_000, settleMs: opts.settleLinkMs, backLimitMs: 180_000 });
        if (opts.configRows) {
          jobs.push({ kind: 'fleet', tool, server, shape: 'config', tunnels: 100, fault: 'restarted', outageMs: 5_000, settleMs: opts.settleRestartMs, backLimitMs: 180_000 });
        }
      }
    }
  }
  return jobs;
}
