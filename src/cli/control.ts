/**
 * `autotunnel start|stop|restart NAME`: acts on one tunnel of the running autotunnel through its
 * HTTP listener (POST /api/tunnels/NAME/ACTION with the control token).
 */
import { MAX_CONFIG_BYTES, readBoundedText, readSecretFile } from '../adapters/bounded-read.js';
import { isMap, parseDocument } from 'yaml';
import { CONTROL_TOKEN_VARIABLE, readControlToken } from '../config/control-settings.js';
import { ConfigError, EXIT_CONFIG, EXIT_USAGE, UsageError } from '../config/errors.js';
import type { ControlAction } from '../supervisor/control.js';
import { UnreachableError, parseClientArgs, requestJson } from './observe-client.js';

/** Stopping waits for ssh to be gone (up to a second and a little, with SIGKILL). */
export const CONTROL_TIMEOUT_MS = 10_000;

export const CONTROL_HELP = `Usage: autotunnel start|stop|restart NAME [--token-file FILE] [--url URL]
  acts on one tunnel of the running autotunnel, without touching the others:
  stop       stops its ssh; it stays stopped until "start", or until a reload changes
             its definition
  start      starts a stopped tunnel, or one with "enabled: false"
  restart    restarts its ssh now (a stopped tunnel is started)
  --token-file FILE  the control token; default: AUTOTUNNEL_CONTROL_TOKEN_FILE, else
             control.token_file of the tunnels file (-c FILE or AUTOTUNNEL_CONFIG)
  -c FILE    the tunnels file to take control.token_file from
  --url URL  the instance to ask; default from AUTOTUNNEL_HTTP (http://127.0.0.1:9810)
Exit 0 done; 1 autotunnel unreachable or the action failed; 64 no such tunnel or bad
arguments; 78 no token, an unreadable or empty token file, a refused token, or control off.

Examples:
  autotunnel restart db
  docker exec tunnels autotunnel stop web --token-file /run/secrets/autotunnel_control`;

export async function runControl(action: ControlAction, args: string[], env: Record<string, string | undefined>): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(CONTROL_HELP + '\n');
    return 0;
  }
  const rest: string[] = [];
  let tokenFile: string | undefined;
  let configFile: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (flag: string) => {
      const v = a === flag ? args[++i] : a.slice(flag.length + 1);
      if (!v) throw new UsageError(`${action}: ${flag} needs a value`);
      return v;
    };
    if (a === '--token-file' || a.startsWith('--token-file=')) tokenFile = value('--token-file');
    else if (a === '-c' || a === '--config' || a.startsWith('--config=')) configFile = value(a === '-c' ? '-c' : '--config');
    else if (a === '--url') rest.push(a, args[++i] ?? '');
    else if (a.startsWith('-')) rest.push(a);
    else names.push(a);
  }
  if (names.length !== 1) throw new UsageError(`${action}: expected one tunnel name, e.g. "autotunnel ${action} db"${names.length ? ` (got ${names.length})` : ''}`);
  const name = names[0]!;
  let base: string;
  try {
    base = parseClientArgs(action, rest, [], env).base;
  } catch (e) {
    if (!(e instanceof UnreachableError)) throw e;
    process.stderr.write(`autotunnel ${action}: ${e.message}\n`);
    return 1;
  }
  const token = findToken(tokenFile, configFile ?? (env.AUTOTUNNEL_CONFIG?.trim() || undefined), env);
  let res: { status: number; body: { message?: string; error?: string } };
  try {
    res = await requestJson(base, `/api/tunnels/${encodeURIComponent(name)}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, timeoutMs: CONTROL_TIMEOUT_MS });
  } catch (e) {
    if (!(e instanceof UnreachableError)) throw e;
    process.stderr.write(`autotunnel ${action}: ${e.message}\n`);
    return 1;
  }
  const { body } = res;
  if (res.status === 200) {
    process.stdout.write(`${body.message ?? 'done'}\n`);
    return 0;
  }
  process.stderr.write(`autotunnel ${action}: ${body.error ?? `HTTP ${res.status}`}\n`);
  if (res.status === 404) return EXIT_USAGE;
  if (res.status === 401 || res.status === 403) return EXIT_CONFIG;
  return 1;
}

/** --token-file, else AUTOTUNNEL_CONTROL_TOKEN_FILE, else the tunnels file's control.token_file. */
function findToken(tokenFile: string | undefined, configFile: string | undefined, env: Record<string, string | undefined>): string {
  if (tokenFile) return readControlToken(tokenFile, '--token-file', readSecretFile).token;
  const fromEnv = env[CONTROL_TOKEN_VARIABLE]?.trim();
  if (fromEnv) return readControlToken(fromEnv, CONTROL_TOKEN_VARIABLE, readSecretFile).token;
  const fromFile = configFile ? tokenFileOf(configFile) : undefined;
  if (fromFile) return readControlToken(fromFile, `${configFile} control.token_file`, readSecretFile).token;
  throw new ConfigError([{ where: CONTROL_TOKEN_VARIABLE, expected: 'no control token: pass --token-file FILE, or set AUTOTUNNEL_CONTROL_TOKEN_FILE (or control.token_file in the tunnels file) as for the running autotunnel' }]);
}

/** control.token_file of a tunnels file, read without validating the rest (the CLI only needs this). */
function tokenFileOf(configFile: string): string | undefined {
  let text: string;
  try {
    text = readBoundedText(configFile, MAX_CONFIG_BYTES);
  } catch {
    return undefined;
  }
  const control = parseDocument(text).get('control');
  const file = isMap(control) ? control.get('token_file') : undefined;
  return typeof file === 'string' && file.trim() ? file.trim() : undefined;
}
