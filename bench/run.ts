/**
 * autotunnel's benchmark: recovery, detection, overhead and scale, side by side with autossh as
 * the jnovack/autossh image runs it. Run by hand; results are appended to bench/RESULTS.md.
 *
 *   npm run bench                   quick set (about 8 minutes: 4.5 single-tunnel, 3.5 fleets)
 *   npm run bench -- --full         everything, at the durations (about an hour)
 *
 * Options: --jobs N (jobs at a time, default 10), --runs N (default 3), --only REGEX (row ids, e.g.
 * 'killed|restarted', 'fleet20-restarted', '@10$'), --server 9.2|10|both (run the selected rows
 * against that OpenSSH; default: single-tunnel rows against the machine's 9.2, fleet rows against
 * both), --no-write (print only). `--lane` is internal (see lanes.ts).
 *
 * Row ids end in the server: "killed|-L|defaults@9.2", "fleet20-restarted:5s|-L|defaults@10".
 * OpenSSH 10 comes from the tree scripts/openssh10-tree.sh builds (rows say "not run" without it).
 */
import { createWriteStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LANE_FLAG, killAllLanes, laneMain, namespacesAvailable, runPool } from './lanes.js';
import { appendResults, renderDetails, renderSection } from './report.js';
import { buildJobs, estimateMs, rowId, type Job, type Sample } from './scenarios.js';
import { REPO } from './tools.js';
import type { SshdVersion } from '../test/harness/openssh-versions.js';

interface Args {
  full: boolean;
  jobs: number;
  runs: number;
  only?: RegExp;
  servers?: SshdVersion[];
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { full: false, jobs: 10, runs: 3, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--full') args.full = true;
    else if (a === '--quick') args.full = false;
    else if (a === '--jobs') args.jobs = Math.max(1, Number(value()));
    else if (a === '--runs') args.runs = Math.max(1, Number(value()));
    else if (a === '--only') args.only = new RegExp(value());
    else if (a === '--server') {
      const v = value();
      if (v === 'both') args.servers = ['9.2', '10'];
      else if (v === '9.2' || v === '10') args.servers = [v];
      else throw new Error(`--server ${v}: expected 9.2, 10 or both`);
    } else if (a === '--no-write') args.write = false;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npm run bench [-- --full] [--jobs N] [--runs N] [--only REGEX] [--server 9.2|10|both] [--no-write]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** Fleet jobs at a time: each starts tens of processes; two keep the quick set near 8 minutes. */
const FLEET_LANES = 2;

function eta(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run "npm run build" first (npm run bench does)');
  }
  const netns = namespacesAvailable();
  const startedAt = new Date();
  const t0 = Date.now();
  const { parallel, exclusive, fleet } = buildJobs({ full: args.full, runs: args.runs, netns, ...(args.servers ? { servers: args.servers } : {}) });
  const keep = (j: Job) => !args.only || args.only.test(rowId(j));
  const par = parallel.filter(keep).map((job) => ({ job, estimateMs: estimateMs(job) }));
  const exc = exclusive.filter(keep).map((job) => ({ job, estimateMs: estimateMs(job) }));
  const flt = fleet.filter(keep).map((job) => ({ job, estimateMs: estimateMs(job) }));
  const fleetLanes = Math.min(FLEET_LANES, args.jobs);
  const logPath = join(tmpdir(), `autotunnel-bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.log`);
  const log = createWriteStream(logPath);
  const parallelMs = par.reduce((a, j) => a + j.estimateMs, 0) / Math.min(args.jobs, Math.max(1, par.length));
  const exclusiveMs = exc.reduce((a, j) => a + j.estimateMs, 0);
  const fleetMs = flt.reduce((a, j) => a + j.estimateMs, 0) / Math.min(fleetLanes, Math.max(1, flt.length));
  process.stdout.write(
    `autotunnel bench, ${args.full ? 'full' : 'quick'} set: ${par.length + exc.length + flt.length} jobs, ${args.jobs} at a time (fleets ${fleetLanes}), ` +
      `faults via ${netns ? 'network namespaces + iptables' : 'TCP fault proxy (not root)'}; about ${eta(parallelMs + exclusiveMs + fleetMs)}.\n` +
      `Log: ${logPath}\n`,
  );

  const interrupted = () => {
    process.stderr.write('\ninterrupted: stopping every lane\n');
    killAllLanes();
    setTimeout(() => process.exit(130), 3_000).unref();
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);

  const onDone = (job: Job, samples: Sample[], done: number, total: number) => {
    const tool = 'tool' in job ? job.tool : '';
    const summary = samples
      .map((s) => s.error ? `error: ${s.error.split('\n')[0]}` : s.notRun ? `not run: ${s.notRun}` : Object.entries(s.metrics).map(([k, v]) => `${k}=${v === null ? '—' : Math.round(v * 100) / 100}`).join(' '))
      .join('; ');
    process.stdout.write(`[${done}/${total} +${Math.round((Date.now() - t0) / 1000)} s] ${rowId(job)} ${tool}: ${summary}\n`);
  };
  const samples: Sample[] = [];
  if (par.length) samples.push(...(await runPool(par, { lanes: args.jobs, netns, log, onDone })));
  if (exc.length) {
    await sleep(1_000);
    samples.push(...(await runPool(exc, { lanes: 1, netns, log, onDone })));
  }
  if (flt.length) {
    await sleep(1_000);
    samples.push(...(await runPool(flt, { lanes: fleetLanes, netns, log, onDone })));
  }

  const blackhole = parallel.find((j) => j.kind === 'recovery' && j.scenario === 'blackhole');
  const section = renderSection(
    samples,
    {
      set: args.full ? 'full' : 'quick',
      startedAt,
      durationMs: Date.now() - t0,
      lanes: args.jobs,
      faults: netns ? 'netns' : 'proxy',
      runs: args.runs,
      blackholeSec: blackhole && blackhole.kind === 'recovery' ? blackhole.outageMs / 1000 : 0,
    },
    REPO,
  );
  process.stdout.write(`\n${section}\n`);
  const details = renderDetails(samples);
  log.write(`\n== autotunnel's own account of each run ==\n${details}\n\n== samples ==\n${JSON.stringify(samples, null, 1)}\n`);
  await new Promise<void>((r) => log.end(() => r()));
  if (args.write) {
    const path = join(REPO, 'bench', 'RESULTS.md');
    appendResults(path, section);
    process.stdout.write(`Appended to ${path}\n`);
  }
  process.stdout.write(`Details (autotunnel's log per run, raw samples): ${logPath}\n`);
}

if (process.argv.includes(LANE_FLAG)) {
  await laneMain();
} else {
  try {
    await main();
    process.exit(0);
  } catch (e) {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
