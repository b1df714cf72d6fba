/** What `autotunnel status` and `autotunnel health` share: where to ask, and asking with a bounded wait. */
import { UsageError } from '../config/errors.js';
import { parseHttpSettings } from '../config/settings.js';
import { baseUrl } from '../net/address.js';

/** Probes run often and must answer fast; a healthy autotunnel answers in milliseconds. */
export const CLIENT_TIMEOUT_MS = 2_000;

/** The running autotunnel could not be asked: nothing listens, no answer, or not autotunnel. */
export class UnreachableError extends Error {}

export interface ClientArgs {
  base: string;
  flags: Set<string>;
}

/** Parses `--url URL` and the command's own flags; without --url the address comes from AUTOTUNNEL_HTTP. */
export function parseClientArgs(command: string, args: string[], flags: readonly string[], env: Record<string, string | undefined>): ClientArgs {
  const seen = new Set<string>();
  let url: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--url' || arg.startsWith('--url=')) {
      url = arg === '--url' ? args[++i] : arg.slice('--url='.length);
      if (!url) throw new UsageError(`${command}: --url needs a value, e.g. --url http://127.0.0.1:9810`);
    } else if (flags.includes(arg)) seen.add(arg);
    else throw new UsageError(`${command}: unknown argument "${arg}"; expected ${[...flags, '--url URL'].join(', ')}`);
  }
  if (url !== undefined) {
    if (!/^https?:\/\/[^/\s]+/.test(url)) throw new UsageError(`${command}: --url "${url}" is not an http:// URL (e.g. http://127.0.0.1:9810)`);
    return { base: url.replace(/\/+$/, ''), flags: seen };
  }
  const { address } = parseHttpSettings(env);
  if (!address) throw new UnreachableError('AUTOTUNNEL_HTTP=off: the HTTP listener is turned off, so there is nothing to ask (turn it on, or pass --url)');
  return { base: baseUrl(address), flags: seen };
}

/** GETs JSON; any answer with a JSON body counts (a 503 from /readyz is an answer, not a failure). */
export async function getJson<T>(base: string, path: string): Promise<{ status: number; body: T }> {
  const url = base + path;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (e) {
    throw new UnreachableError(explainFetchError(e, url));
  }
  try {
    return { status: res.status, body: (await res.json()) as T };
  } catch {
    throw new UnreachableError(`${url} answered HTTP ${res.status} without autotunnel's JSON: is that address autotunnel's?`);
  }
}

function explainFetchError(e: unknown, url: string): string {
  const err = e as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer from ${url} within ${CLIENT_TIMEOUT_MS / 1000} s`;
  switch (err.cause?.code) {
    case 'ECONNREFUSED':
      return `nothing listens on ${url} (connection refused): is autotunnel running, with the same AUTOTUNNEL_HTTP?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host of ${url}`;
    default:
      return `cannot reach ${url}: ${err.cause?.message ?? err.message ?? String(e)}`;
  }
}
