/**
 * /metrics in the Prometheus text format (version 0.0.4), rendered from the state store's
 * snapshot at scrape time, so metrics can never disagree with the API or the page. Written
 * here rather than with prom-client: the format is small and stable, and prom-client would add
 * about 7.5 MB of resident memory to a process that otherwise needs about 48 MB.
 */
import { TUNNEL_STATES } from '../supervisor/events.js';
import { CONNECT_BUCKETS_SECONDS, type Snapshot } from './state-store.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface BuildInfo {
  version: string;
  node: string;
}

/** Facts about this process, read at scrape time by the caller (the renderer stays pure). */
export interface ProcessFacts {
  startTimeSeconds: number;
  residentMemoryBytes: number;
}

type Labels = Record<string, string>;
interface Sample {
  suffix?: string;
  labels: Labels;
  value: number;
}
interface Family {
  name: string;
  type: 'gauge' | 'counter' | 'histogram';
  help: string;
  samples: Sample[];
}

export function renderMetrics(snapshot: Snapshot, build: BuildInfo, proc: ProcessFacts): string {
  const { tunnels } = snapshot;
  const per = (name: string, type: Family['type'], help: string, samples: (t: Snapshot['tunnels'][number]) => Sample[]): Family => ({
    name,
    type,
    help,
    samples: tunnels.flatMap(samples),
  });
  const families: Family[] = [
    { name: 'autotunnel_build_info', type: 'gauge', help: 'Always 1; the labels say which autotunnel and Node.js run.', samples: [{ labels: { version: build.version, node: build.node }, value: 1 }] },
    { name: 'autotunnel_ready', type: 'gauge', help: '1 when every required tunnel is up (what /readyz answers), else 0.', samples: [{ labels: {}, value: snapshot.readiness.ready ? 1 : 0 }] },
    per('autotunnel_tunnel_up', 'gauge', '1 when every forward of the tunnel works, else 0.', (t) => [{ labels: { tunnel: t.info.name }, value: t.state === 'up' ? 1 : 0 }]),
    per('autotunnel_tunnel_required', 'gauge', '1 when readiness waits for the tunnel, else 0.', (t) => [{ labels: { tunnel: t.info.name }, value: t.info.required ? 1 : 0 }]),
    per('autotunnel_tunnel_state', 'gauge', 'The state the tunnel is in: 1 for the current one, 0 for the others.', (t) =>
      TUNNEL_STATES.map((s) => ({ labels: { tunnel: t.info.name, state: s }, value: t.state === s ? 1 : 0 })),
    ),
    per('autotunnel_tunnel_restarts_total', 'counter', 'Times ssh ended and was started again, by cause.', (t) =>
      Object.entries(t.restartsByCause).map(([cause, n]) => ({ labels: { tunnel: t.info.name, cause }, value: n ?? 0 })),
    ),
    per('autotunnel_tunnel_connect_duration_seconds', 'histogram', 'Time from starting ssh to every forward confirmed working.', (t) => {
      const labels = { tunnel: t.info.name };
      let cumulative = 0;
      const buckets = [...CONNECT_BUCKETS_SECONDS, Infinity].map((le, i) => {
        cumulative += t.connect.counts[i] ?? 0;
        return { suffix: '_bucket', labels: { ...labels, le: formatNumber(le) }, value: cumulative };
      });
      return [...buckets, { suffix: '_sum', labels, value: t.connect.sumSeconds }, { suffix: '_count', labels, value: t.connect.count }];
    }),
    per('autotunnel_tunnel_last_state_change_timestamp_seconds', 'gauge', 'When the tunnel last changed state (Unix time).', (t) => [{ labels: { tunnel: t.info.name }, value: t.since / 1000 }]),
    per('autotunnel_tunnel_backoff_seconds', 'gauge', 'The wait before the next attempt while the tunnel is down; 0 otherwise.', (t) => [
      { labels: { tunnel: t.info.name }, value: t.state === 'backoff' ? (t.backoffMs ?? 0) / 1000 : 0 },
    ]),
    per('autotunnel_tunnel_target_errors_total', 'counter', 'Forwarded connections whose target could not be reached (ssh said so; the link stays up).', (t) => [
      { labels: { tunnel: t.info.name }, value: t.target.errors },
    ]),
    per('autotunnel_tunnel_target_reachable', 'gauge', '0 when the last forwarded connection could not reach the target; 1 when it did, or before any.', (t) => [
      { labels: { tunnel: t.info.name }, value: t.target.reachable === false ? 0 : 1 },
    ]),
    { name: 'process_start_time_seconds', type: 'gauge', help: 'Start time of the process since unix epoch in seconds.', samples: [{ labels: {}, value: proc.startTimeSeconds }] },
    { name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident memory size in bytes.', samples: [{ labels: {}, value: proc.residentMemoryBytes }] },
  ];
  return families.map(renderFamily).join('');
}

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) lines.push(`${f.name}${s.suffix ?? ''}${renderLabels(s.labels)} ${formatNumber(s.value)}`);
  return lines.join('\n') + '\n';
}

function renderLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}
