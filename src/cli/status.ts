/** `autotunnel status`: every tunnel of the running autotunnel as a table, or the API's JSON. */
import type { ApiTunnel, ApiTunnels } from '../observe/api.js';
import { STATE_WORDS, formatDuration } from '../observe/format.js';
import { UnreachableError, getJson, parseClientArgs } from './observe-client.js';

export const STATUS_HELP = `Usage: autotunnel status [--json] [--url URL]
  prints every tunnel: name, state, since when, restarts, last cause
  --json     the same as GET /api/tunnels
  --url URL  the instance to ask; default from AUTOTUNNEL_HTTP (http://127.0.0.1:9810)
Exit 0 when autotunnel answered, 1 when it could not be reached.

Examples:
  autotunnel status
  autotunnel status --json | jq '.tunnels[] | select(.state != "up")'
  docker exec proxy_server autotunnel status`;

const COLOR: Partial<Record<ApiTunnel['state'], string>> = { up: '32', backoff: '31', connecting: '33', starting: '33' };
/** Amber: the link works, the service behind it does not. */
const TARGET_UNREACHABLE_COLOR = '33';

export async function runStatus(args: string[], env: Record<string, string | undefined>): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(STATUS_HELP + '\n');
    return 0;
  }
  try {
    const { base, flags } = parseClientArgs('status', args, ['--json'], env);
    const { status, body } = await getJson<ApiTunnels>(base, '/api/tunnels');
    if (status !== 200 || !Array.isArray(body.tunnels)) throw new UnreachableError(`${base}/api/tunnels answered HTTP ${status}`);
    const color = Boolean(process.stdout.isTTY) && !env.NO_COLOR;
    process.stdout.write(flags.has('--json') ? JSON.stringify(body, null, 2) + '\n' : formatStatus(body, { color }));
    return 0;
  } catch (e) {
    if (!(e instanceof UnreachableError)) throw e;
    process.stderr.write(`autotunnel status: ${e.message}\n`);
    return 1;
  }
}

/** The table, then the readiness line. */
export function formatStatus(api: ApiTunnels, opts: { color: boolean }): string {
  const now = Date.parse(api.now);
  const header = ['TUNNEL', 'STATE', 'SINCE', 'RESTARTS', 'LAST CAUSE'];
  const rows = api.tunnels.map((t) => [
    t.required ? t.name : `${t.name} (optional)`,
    stateText(t),
    `${formatDuration(now - Date.parse(t.since))} ago`,
    String(t.restarts),
    causeText(t, now),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], state?: ApiTunnel['state']) =>
    cells
      .map((c, i) => {
        const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
        const code = i === 1 && state && opts.color ? (c.startsWith('up, target') ? TARGET_UNREACHABLE_COLOR : COLOR[state]) : undefined;
        return code ? `\x1b[${code}m${padded}\x1b[0m` : padded;
      })
      .join('  ')
      .trimEnd();
  const table = [line(header), ...rows.map((r, i) => line(r, api.tunnels[i]!.state))].join('\n');
  return `${table}\n\n${api.readiness}\n`;
}

/** "up, target unreachable" when the link is up but ssh said the last connection could not reach the target. */
export function targetUnreachable(t: ApiTunnel): boolean {
  return t.up && t.target?.reachable === false;
}

function stateText(t: ApiTunnel): string {
  return targetUnreachable(t) ? 'up, target unreachable' : (STATE_WORDS[t.state] ?? t.state);
}

function causeText(t: ApiTunnel, now: number): string {
  if (targetUnreachable(t) && t.target.lastError) {
    return `${t.target.lastError.summary} (${formatDuration(now - Date.parse(t.target.lastError.at))} ago, ${t.target.errors} failed connection${t.target.errors === 1 ? '' : 's'} so far)`;
  }
  if (t.state === 'disabled') return `enabled: false in the configuration ("autotunnel start ${t.name}" runs it)`;
  if (t.held) return `stopped on request ("autotunnel start ${t.name}" runs it again)`;
  const c = t.lastCause;
  if (t.state === 'backoff') {
    const retry = t.nextAttemptAt ? Date.parse(t.nextAttemptAt) - now : undefined;
    const when = retry === undefined ? '' : retry > 0 ? `; retry in ${formatDuration(retry)}` : '; retrying';
    return `${c?.summary ?? 'ssh exited'}${when}`;
  }
  if (!c) return '-';
  return `${t.up ? 'last down' : 'down'} ${formatDuration(now - Date.parse(c.at))} ago: ${c.summary}`;
}
