/**
 * Delivers notifications to one webhook receiver, never in supervision's way: messages wait in a
 * bounded queue (the oldest is dropped when it is full), one request at a time (so "down" never
 * overtakes its "back up"), each with a timeout, retried with backoff, then given up. A failing
 * receiver is logged once per burst of failures, and again when it gets through; its URL only
 * ever redacted (it often holds a token).
 */
import type { NotifyReceiver } from '../config/notify-settings.js';
import { redactUrl } from '../config/notify-settings.js';
import type { Logger } from '../observe/logger.js';
import type { RenderedMessage } from '../observe/notify.js';

/** A receiver that answers at all answers within a second or two; a hung one holds the queue this long. */
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Waits before each retry of one message; after the last, it is given up (about 35 s of trying). */
export const WEBHOOK_RETRY_DELAYS_MS = [1_000, 4_000, 15_000];
/** Messages waiting per receiver; an outage of 100 tunnels fits, a flood does not grow memory. */
export const WEBHOOK_QUEUE_LIMIT = 200;

export interface PostResult {
  ok: boolean;
  /** Why not, in a few words: "HTTP 500", "no answer within 5 s", "connection refused". */
  error?: string;
}

/**
 * One POST with a timeout covering the whole exchange; never rejects. node:http/https rather
 * than fetch: fetch loads undici, which added about 20 MB of resident memory to 100 tunnels
 * (78 MB instead of 54 MB, measured with notifications configured); https is loaded only for
 * https URLs. Redirects are not followed (a 3xx counts as a failure, as it says where to go).
 */
export async function postMessage(url: string, message: RenderedMessage, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<PostResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, error: 'not a URL' };
  }
  const { request } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const headers: Record<string, string | number> = { 'content-type': message.contentType, 'content-length': Buffer.byteLength(message.body), 'user-agent': 'autotunnel' };
  // user:password in the URL become Basic authentication, as curl does.
  if (target.username || target.password) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
  target.username = '';
  target.password = '';
  return new Promise<PostResult>((resolve) => {
    let done = false;
    const finish = (r: PostResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = request(target, { method: 'POST', headers }, (res) => {
      // The body is not needed; reading it frees the connection.
      res.resume();
      res.on('error', (e) => finish({ ok: false, error: explainPostError(e) }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        finish(status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}` });
      });
    });
    const timer = setTimeout(() => {
      finish({ ok: false, error: `no answer within ${timeoutMs / 1000} s` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => finish({ ok: false, error: explainPostError(e) }));
    req.end(message.body);
  });
}

function explainPostError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ECONNRESET':
      return 'the connection was reset';
    default:
      // Never the error's message alone: it may quote the URL.
      return code ?? 'request failed';
  }
}

export interface WebhookOptions {
  logger: Logger;
  timeoutMs?: number;
  retryDelaysMs?: number[];
  queueLimit?: number;
  post?: typeof postMessage;
}

export class WebhookQueue {
  readonly shownAs: string;
  private readonly queue: RenderedMessage[] = [];
  private busy = false;
  /** Failed attempts since the last success; > 0 means a burst is under way (and was logged). */
  private failing = 0;
  private dropped = 0;
  private closed = false;

  constructor(
    readonly receiver: NotifyReceiver,
    private readonly opts: WebhookOptions,
  ) {
    this.shownAs = redactUrl(receiver.url);
  }

  /** Queues a message; returns at once. */
  send(message: RenderedMessage): void {
    if (this.closed) return;
    if (this.queue.length >= (this.opts.queueLimit ?? WEBHOOK_QUEUE_LIMIT)) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(message);
    if (!this.busy) void this.drain();
  }

  /** Pending messages (for tests and the shutdown log). */
  get pending(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.busy = true;
    const post = this.opts.post ?? postMessage;
    const delays = this.opts.retryDelaysMs ?? WEBHOOK_RETRY_DELAYS_MS;
    while (!this.closed && this.queue.length) {
      const message = this.queue.shift()!;
      for (let attempt = 0; ; attempt++) {
        const result = await post(this.receiver.url, message, this.opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS);
        if (result.ok) {
          this.succeeded();
          break;
        }
        this.failed(result.error ?? 'failed', attempt < delays.length);
        if (attempt >= delays.length || this.closed) {
          this.dropped++;
          break;
        }
        await sleep(delays[attempt]!);
      }
    }
    this.busy = false;
  }

  private failed(error: string, willRetry: boolean): void {
    this.failing++;
    if (this.failing > 1) return;
    this.opts.logger.log('warn', `notification to ${this.shownAs} (${this.receiver.origin}) failed: ${error}; ${willRetry ? 'retrying with backoff' : 'giving it up'}. Further failures are not logged until one gets through`, {
      notify: this.shownAs,
      error,
    });
  }

  private succeeded(): void {
    if (this.failing === 0) return;
    this.opts.logger.log('info', `notifications to ${this.shownAs} get through again (after ${this.failing} failed attempt${this.failing === 1 ? '' : 's'}; ${this.dropped} message${this.dropped === 1 ? '' : 's'} given up)`, {
      notify: this.shownAs,
    });
    this.failing = 0;
    this.dropped = 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
