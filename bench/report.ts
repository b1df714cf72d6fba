/**
 * Turns samples into the results table (median and max per tool, autotunnel's target beside each
 * value) and appends it, with date, commit and machine, to bench/RESULTS.md — always at the end,
 * so sections others wrote stay as they are.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import type { Sample } from './scenarios.js';

export const RESULTS_HEADING = '# Benchmark results';

interface Target {
  /** Met when value ≤ max (or ≥ min). */
  max?: number;
  min?: number;
  text: string;
}

type Unit = 'ms' | 'mibs' | 'ratio' | 'mb' | 'pct' | 'count' | 'secs';

interface MetricSpec {
  key: string;
  label: string;
  unit: Unit;
  /** How a null reads (the thing did not happen in time). */
  nullText?: string;
  target?: Target;
}

interface RowSpec {
  order: number;
  /** Which OpenSSH the row ran against (the row id's "@…"). */
  server: string;
  scenario: string;
  mode: string;
  env: string;
  metrics: MetricSpec[];
}

const SEC = 1000;

/** -R only: when sshd closed the old session's listener, from the link's return (negative: during the outage). */
const FREED: MetricSpec = { key: 'freed', label: 'server freed the old -R listener', unit: 'ms', nullText: 'not freed' };

/** What a row id (scenarios.ts rowId) means, and autotunnel's targets for it. */
export function describeRow(row: string): RowSpec {
  const [body = '', server = '9.2'] = row.split('@');
  const spec = describeBody(body);
  return { ...spec, server, order: spec.order * 10 + (server === '10' ? 1 : 0) };
}

function describeBody(row: string): Omit<RowSpec, 'server'> {
  const [head = '', mode = '', variant = ''] = row.split('|');
  const [scenario = '', param = ''] = head.split(':');
  const env = variant === 'ka10x3' ? '10 s × 3' : variant === 'rto1s' ? 'defaults; tcp_rto_max_ms=1000, no CAP_NET_ADMIN' : variant === 'defaults' ? 'defaults' : '';
  const modeOrder = mode === '-R' ? 1 : 0;
  const envOrder = variant === 'ka10x3' ? 1 : variant === 'rto1s' ? 2 : 0;
  const back = (text: string, max: number): MetricSpec => ({ key: 'back', label: 'back (round trip OK)', unit: 'ms', nullText: 'never', target: { max, text } });
  const order = (n: number, sub = 0) => n * 1000 + sub * 10 + envOrder * 2 + modeOrder;
  switch (scenario) {
    case 'killed':
      return { order: order(1), scenario: 'ssh client killed (SIGKILL)', mode, env, metrics: [back('≤ 0.5 s', 0.5 * SEC)] };
    case 'restarted':
      return {
        order: order(2),
        scenario: 'sshd restarted',
        mode,
        env,
        metrics: [back('≤ 0.5 s', 0.5 * SEC), { key: 'outage', label: 'server away (stop → listening)', unit: 'ms' }],
      };
    case 'down':
      return { order: order(3, parseInt(param)), scenario: `sshd down ${param}`, mode, env, metrics: [back('≤ 1 s', SEC)] };
    case 'start-down':
      return { order: order(4), scenario: `server down at start, ${param}`, mode, env, metrics: [back('≤ 1 s', SEC)] };
    case 'blackhole':
      return {
        order: order(5, parseInt(param)),
        scenario: `link black-holed ${param}`,
        mode,
        env,
        metrics: [
          {
            key: 'noticed',
            label: 'dead link noticed',
            unit: 'ms',
            nullText: 'not during the outage',
            ...(variant === 'defaults' ? { target: { max: 10 * SEC, text: '≤ 10 s' } } : {}),
          },
          back('≤ 1 s after the link returns', SEC),
          FREED,
        ],
      };
    case 'stale': {
      const [secs = '', cai = ''] = param.split('/');
      const caiText = cai === 'cai0' ? 'ClientAliveInterval unset' : `ClientAliveInterval ${cai.replace('cai', '')} s`;
      return {
        order: order(6, cai === 'cai0' ? 0 : 1),
        scenario: `stale -R listener after ${secs} black-hole, server ${caiText}`,
        mode,
        env,
        metrics: [
          { key: 'noticed', label: 'dead link noticed', unit: 'ms', nullText: 'not during the outage' },
          back('≤ 1 s after the link returns', SEC),
          FREED,
        ],
      };
    }
    case 'throughput':
      return {
        order: order(10),
        scenario: `throughput, -L, ${formatBytes(Number(param))} per transfer`,
        mode: '-L',
        env: 'defaults',
        metrics: [
          { key: 'mbps', label: 'MiB/s', unit: 'mibs' },
          { key: 'ratio', label: 'ratio to plain ssh -L in the same round', unit: 'ratio', target: { min: 0.98, text: '≥ 0.98 (median)' } },
          { key: 'supCpuMsPerGiB', label: 'supervisor CPU during the transfer (ms per GiB)', unit: 'count' },
        ],
      };
    case 'footprint': {
      const n = Number(param);
      return {
        order: order(11, n),
        // Many tunnels run from a config file; autotunnel's has notify: (2 receivers) and control: too.
        scenario: n > 1 ? `${n} idle tunnels (autotunnel: notifications and control configured)` : '1 idle tunnel',
        mode: '-L',
        env: 'defaults',
        metrics: [
          { key: 'supRssMb', label: 'supervisor RSS', unit: 'mb', ...(n === 100 ? { target: { max: 60, text: '≤ 60 MB' } } : {}) },
          { key: 'supCpuPct', label: 'supervisor CPU (% of a core)', unit: 'pct', target: { max: 1, text: '≈ 0 (≤ 1 %)' } },
          { key: 'sshRssMb', label: 'ssh clients RSS (sum)', unit: 'mb' },
          { key: 'sshCpuPct', label: 'ssh clients CPU (% of a core)', unit: 'pct' },
        ],
      };
    }
    case 'scale': {
      const n = Number(param);
      return {
        order: order(12, n),
        scenario: `${n} tunnels to one sshd (MaxStartups 10:30:100)`,
        mode: '-L',
        env: 'defaults',
        metrics: [
          { key: 'allUp', label: 'all up (each carried a round trip)', unit: 'ms', nullText: 'not all up', ...(n >= 500 ? { target: { max: 30 * SEC, text: '≤ 30 s' } } : {}) },
          { key: 'drops', label: 'connections sshd dropped', unit: 'count', ...(n >= 500 ? { target: { max: 0, text: '0' } } : {}) },
          { key: 'restarts', label: 'restarts by the Docker-style loop', unit: 'count' },
          { key: 'supCpuUpS', label: 'supervisor CPU until all up (s)', unit: 'secs' },
        ],
      };
    }
    default: {
      const fleet = /^(fleet|config)(\d+)-(restarted|blackhole)$/.exec(scenario);
      if (fleet) return describeFleet(fleet[1] === 'config', Number(fleet[2]), fleet[3] as 'restarted' | 'blackhole', param, order(13, fleet[1] === 'config' ? 2 : fleet[3] === 'restarted' ? 0 : 1));
      return { order: 99_999, scenario: row, mode, env, metrics: [] };
    }
  }
}

/** Fleet rows (bench/fleet.ts); the targets are issue 12's. */
function describeFleet(config: boolean, n: number, fault: 'restarted' | 'blackhole', param: string, order: number): Omit<RowSpec, 'server'> {
  const who = config ? `one config with ${n} tunnels (autossh: ${n} containers)` : `fleet of ${n} processes`;
  const what = fault === 'restarted' ? `sshd down ${param}, restarted` : `link black-holed ${param}`;
  const target = fault === 'restarted' ? (config ? { max: 3 * SEC, text: '≤ 3 s' } : { max: 2 * SEC, text: '≤ 2 s' }) : undefined;
  return {
    order,
    scenario: `${who}: ${what}`,
    mode: '-L',
    env: 'defaults',
    metrics: [
      { key: 'allBack', label: 'all back (each carried a round trip)', unit: 'ms', nullText: 'not all back', ...(target ? { target } : {}) },
      { key: 'medianBack', label: 'median tunnel back', unit: 'ms', nullText: 'never' },
      { key: 'notBack', label: 'tunnels not back within the limit', unit: 'count', target: { max: 0, text: '0' } },
      { key: 'restarts', label: 'restarts by the Docker-style loop', unit: 'count' },
      ...(fault === 'restarted' ? [{ key: 'outage', label: 'server away (stop → listening)', unit: 'ms' as const }] : []),
    ],
  };
}

/**
 * What the row's sshd logged, summed over the row's runs for one tool: penalty activations /
 * connections dropped for a penalty / connections dropped past MaxStartups.
 */
function sshdLogCell(samples: Sample[], row: string, tool: string): string {
  const logs = samples.filter((s) => s.row === row && s.tool === tool && s.sshdLog).map((s) => s.sshdLog!);
  if (!logs.length) return '';
  const sum = (k: 'penaltyActivations' | 'penaltyDrops' | 'maxStartupsDrops') => logs.reduce((a, l) => a + l[k], 0);
  return `${sum('penaltyActivations')} / ${sum('penaltyDrops')} / ${sum('maxStartupsDrops')}`;
}

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${n / 2 ** 30} GiB` : `${n / 2 ** 20} MiB`;
}

export function formatValue(v: number | null | undefined, unit: Unit, nullText = 'none'): string {
  if (v === undefined) return '';
  if (v === null || !Number.isFinite(v)) return nullText;
  switch (unit) {
    case 'ms':
      return v < 10 * SEC ? `${(v / SEC).toFixed(2)} s` : `${(v / SEC).toFixed(1)} s`;
    case 'mibs':
      return `${v.toFixed(0)}`;
    case 'ratio':
      return v.toFixed(3);
    case 'mb':
      return `${v.toFixed(1)} MB`;
    case 'pct':
      return `${v.toFixed(2)} %`;
    case 'count':
      return `${Math.round(v)}`;
    case 'secs':
      return `${v.toFixed(2)} s`;
  }
}

/** Median and max; a null (did not happen in time) counts as infinitely late. */
export function stats(values: Array<number | null>): { median: number | null; max: number | null; n: number } | undefined {
  if (!values.length) return undefined;
  const xs = values.map((v) => (v === null ? Infinity : v)).sort((a, b) => a - b);
  const mid = xs.length / 2;
  const median = xs.length % 2 ? xs[Math.floor(mid)]! : (xs[mid - 1]! + xs[mid]!) / 2;
  const max = xs[xs.length - 1]!;
  const fix = (x: number) => (Number.isFinite(x) ? x : null);
  return { median: fix(median), max: fix(max), n: values.length };
}

function cellsFor(samples: Sample[], row: string, tool: string, metric: MetricSpec): { median: string; max: string; stat?: ReturnType<typeof stats>; note?: string } {
  const mine = samples.filter((s) => s.row === row && s.tool === tool);
  const notRun = mine.find((s) => s.notRun);
  if (notRun) return { median: `not run: ${notRun.notRun}`, max: '' };
  if (metric.key === 'ratio') {
    // Per round (each tool's transfer next to plain ssh's): median, and the lowest in the max column.
    const st = stats(mine.filter((s) => s.metrics.ratio !== undefined).map((s) => s.metrics.ratio ?? null));
    if (!st) return { median: '', max: '' };
    const min = Math.min(...mine.filter((s) => s.metrics.ratio !== undefined).map((s) => s.metrics.ratio!));
    return { median: formatValue(st.median, 'ratio'), max: `lowest ${formatValue(min, 'ratio')}`, stat: st };
  }
  const values = mine.filter((s) => !s.error && s.metrics[metric.key] !== undefined).map((s) => s.metrics[metric.key]!);
  const errors = mine.filter((s) => s.error).length;
  const st = stats(values);
  if (!st) return { median: errors ? `error (${errors})` : '', max: '' };
  const suffix = errors ? ` (+${errors} error${errors > 1 ? 's' : ''})` : '';
  return { median: formatValue(st.median, metric.unit, metric.nullText) + suffix, max: formatValue(st.max, metric.unit, metric.nullText), stat: st };
}

function meets(target: Target | undefined, st: { median: number | null; max: number | null } | undefined): string {
  if (!target || !st) return '';
  // Judged on the worst run: the max for "≤" targets, the median ratio for "≥".
  if (target.max !== undefined) {
    if (st.max === null) return '✗';
    return st.max <= target.max ? '✓' : st.median !== null && st.median <= target.max ? '✗ (median ✓)' : '✗';
  }
  if (target.min !== undefined) return st.median !== null && st.median >= target.min ? '✓' : '✗';
  return '';
}

export interface RunMeta {
  set: 'quick' | 'full';
  startedAt: Date;
  durationMs: number;
  lanes: number;
  faults: 'netns' | 'proxy';
  runs: number;
  blackholeSec: number;
}

export function machineLine(): string {
  const cpu = cpus();
  const ver = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '?';
  };
  return [
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}`,
    `${Math.round(totalmem() / 2 ** 30)} GiB RAM`,
    `Linux ${release()}`,
    `Node ${process.version}`,
    ver('ssh', ['-V']),
    `autossh ${ver('autossh', ['-V']).replace(/^autossh\s*/, '')}`,
  ].join(', ');
}

export function commitLine(repo: string): string {
  try {
    const sha = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return `${sha}${dirty ? ' (+ uncommitted changes)' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The markdown section for one bench run. */
export function renderSection(samples: Sample[], meta: RunMeta, repo: string): string {
  const rows = [...new Set(samples.map((s) => s.row))].map((row) => ({ row, spec: describeRow(row) })).sort((a, b) => a.spec.order - b.spec.order);
  const lines: string[] = [];
  const date = meta.startedAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  lines.push(`## ${date} — ${meta.set} set — commit ${commitLine(repo)}`, '');
  lines.push(`Machine: ${machineLine()}.`, '');
  lines.push(
    `Setup: ${meta.faults === 'netns' ? 'each job in its own network + PID namespace (unshare), link faults with iptables DROP on the namespace loopback (both directions of the sshd port)' : 'not root: link faults through the TCP fault proxy (test/harness/faultproxy.ts)'}; ` +
      `${meta.lanes} jobs at a time (throughput and scale alone); ${meta.runs} runs per cell; round trip probed every 50 ms; ` +
      `black-hole ${meta.blackholeSec} s${meta.set === 'quick' ? ' (quick set; the full set uses 60 s)' : ''}; every outage lasts its nominal length plus 0–1 s at random (so the path returns at a random point of each tool's retry cycle); ` +
      `idle footprint measured over ${meta.set === 'quick' ? '10 s (1 tunnel) and 5 s (100 tunnels)' : '60 s'}; run took ${Math.round(meta.durationMs / 1000)} s. ` +
      'autossh column: autossh 1.4 as jnovack/autossh runs it (its entrypoint\'s command and AUTOSSH_GATETIME=30 POLL=30 FIRST_POLL=30 LOGLEVEL=0, key in an ssh-agent) under a loop that restarts it like Docker\'s `restart: always`; ' +
      'sshd restarts come after 32 s up (past autossh\'s 30 s gate time, within which an ssh exit makes autossh itself exit), kills and black-holes after 2 s (a SIGKILLed ssh makes autossh exit whatever its age; a black-holed ssh outlives the gate anyway). ' +
      'autotunnel: env mode (`node bin/autotunnel.js`, SSH_* variables) for one tunnel, config mode (`autotunnel run -c FILE.yaml`) for 100 and 500. Both tools get the same sshd, target and SSH_* variables.',
    '',
  );
  lines.push('| Scenario | Server | Mode | SSH_SERVER_ALIVE_* | Metric | autotunnel median | autotunnel max | autossh median | autossh max | Target (autotunnel) | Met | sshd log, autotunnel runs ‡ | sshd log, autossh runs ‡ |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const misses: string[] = [];
  let usedDagger = false;
  for (const { row, spec } of rows) {
    let logCells = [sshdLogCell(samples, row, 'autotunnel'), sshdLogCell(samples, row, 'autossh')];
    for (const metric of spec.metrics) {
      const at = cellsFor(samples, row, 'autotunnel', metric);
      let as = cellsFor(samples, row, 'autossh', metric);
      if (!as.median && /\|(ka10x3|rto1s)(@[\d.]+)?$/.test(row)) {
        // jnovack's defaults are 10 s × 3: setting them gives autossh the identical command. The
        // rto1s rows change autotunnel's machine only: autossh's defaults row is its comparison.
        const same = cellsFor(samples, row.replace(/\|(ka10x3|rto1s)(@[\d.]+)?$/, '|defaults$2'), 'autossh', metric);
        if (same.median) {
          as = { ...same, median: `${same.median} †`, max: same.max ? `${same.max} †` : '' };
          usedDagger = true;
        }
      }
      if (!at.median && !as.median) continue;
      const met = meets(metric.target, at.stat);
      if (met.startsWith('✗')) misses.push(`${spec.scenario} (OpenSSH ${spec.server}) ${spec.mode} ${spec.env}: ${metric.label} median ${at.median}, max ${at.max} (target ${metric.target!.text})`);
      const label = metric.key === 'mbps' ? `${metric.label} (plain ssh -L: ${cellsFor(samples, row, 'ssh', metric).median})` : metric.label;
      // The sshd log counts are the row's, not a metric's: on its first line only.
      lines.push(`| ${spec.scenario} | ${spec.server} | ${spec.mode} | ${spec.env} | ${label} | ${at.median} | ${at.max} | ${as.median} | ${as.max} | ${metric.target?.text ?? ''} | ${met} | ${logCells[0]} | ${logCells[1]} |`);
      logCells = ['', ''];
    }
  }
  lines.push('');
  lines.push('‡ What the sshd of the row\'s jobs logged (LogLevel VERBOSE), summed over its runs, setup included: penalty activations ("activating … penalty", OpenSSH ≥ 9.8 PerSourcePenalties) / connections dropped for a penalty / connections dropped past MaxStartups. Server 9.2: the machine\'s sshd; 10: Debian 13\'s OpenSSH 10.0 (scripts/openssh10-tree.sh), both with sshd\'s default MaxStartups in the fleet and scale rows. Throughput: one sshd served all three tunnels, each column shows it whole. Issue 12\'s target: 0 penalty activations anywhere.', '');
  if (usedDagger) lines.push('† jnovack\'s defaults are SSH_SERVER_ALIVE_INTERVAL=10 and SSH_SERVER_ALIVE_COUNT_MAX=3: with them set, autossh runs the identical command, so its defaults runs stand for both rows.', '');
  lines.push('"back": from the moment the path returned (kill; sshd accepting again; iptables rules removed) to the end of the first round trip through the tunnel to the echo target. "never": not within the job\'s limit. "not during the outage": the ssh that carried the tunnel was still running when the link returned (TCP then resumes the old connection). "server freed the old -R listener": when sshd closed the listening socket of the session from before the fault, from the link\'s return (negative: during the outage); "not freed": it was still open at the end (the old session resumed, or the server never noticed it was dead). Met: judged on the worst run (max); "✗ (median ✓)": the median meets it, the worst run does not.', '');
  if (misses.length) {
    lines.push('Targets missed by autotunnel in this run:', '', ...misses.map((m) => `- ${m}`), '');
  }
  const errors = samples.filter((s) => s.error);
  if (errors.length) {
    lines.push('Errors:', '', ...errors.map((s) => `- ${s.row} ${s.tool}: ${s.error!.split('\n')[0]}`), '');
  }
  return lines.join('\n');
}

/** What autotunnel did in the runs behind each row (its own log), for explaining misses; not written to RESULTS.md. */
export function renderDetails(samples: Sample[]): string {
  return samples
    .filter((s) => s.detail)
    .map((s) => `${s.row} ${s.tool} ${JSON.stringify(s.metrics)}: ${s.detail}`)
    .join('\n');
}

export function appendResults(path: string, section: string): void {
  if (!existsSync(path) || readFileSync(path, 'utf8').trim() === '') {
    writeFileSync(path, `${RESULTS_HEADING}\n\nWritten by \`npm run bench\` (quick set) and \`npm run bench -- --full\`; each run appends a section. Run by hand, results committed.\n\n`);
  }
  const current = readFileSync(path, 'utf8');
  appendFileSync(path, `${current.endsWith('\n\n') ? '' : current.endsWith('\n') ? '\n' : '\n\n'}${section}\n`);
}
