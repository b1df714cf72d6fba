/** What `autotunnel status` and `autotunnel health` share: where to ask, and asking with a bounded wait. */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
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

/**
 * GETs JSON; any answer with a JSON body counts (a 503 from /readyz is an answer, not a failure).
 * node:http rather than fetch: a listener that resets connections left fetch's promise pending
 * with only an unref'd timeout timer, and Node exited 13 (unsettled top-level await) with no
 * word said. Here every outcome settles the promise, and the deadline timer keeps us alive.
 */
export function getJson<T>(base: string, path: string): Promise<{ status: number; body: T }> {
  return requestJson<T>(base, path);
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** As getJson, with a method, headers and a deadline of the caller's (`autotunnel stop` POSTs). */
export function requestJson<T>(base: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; body: T }> {
  const url = base + path;
  const timeoutMs = opts.timeoutMs ?? CLIENT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req?.destroy();
      reject(new UnreachableError(why));
    };
    const deadline = setTimeout(() => fail(`no answer from ${url} within ${timeoutMs / 1000} s`), timeoutMs);
    try {
      req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method: opts.method ?? 'GET', headers: { accept: 'application/json', ...opts.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(explainError(e, url)));
        // 'close' after 'end' finds the promise settled; before it, the answer was cut off.
        res.on('close', () => fail(`${url}: the connection was closed before the whole answer came`));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T });
          } catch {
            reject(new UnreachableError(`${url} answered HTTP ${res.statusCode} without autotunnel's JSON: is that address autotunnel's?`));
          }
        });
      });
      req.on('error', (e) => fail(explainError(e, url)));
      req.end();
    } catch (e) {
      fail(`cannot ask ${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

function explainError(e: unknown, url: string): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `nothing listens on ${url} (connection refused): is autotunnel running, with the same AUTOTUNNEL_HTTP?`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `${url} reset the connection (a listener that is full or not autotunnel's)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host of ${url}`;
    default:
      return `cannot reach ${url}: ${err.message ?? String(e)}`;
  }
}
