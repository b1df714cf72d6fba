/**
 * The HTTP listener: /healthz, /readyz, /metrics, /api/tunnels and the status page, all read
 * from one state-store snapshot per request. Read-only (GET and HEAD), apart from the control
 * endpoints (POST, with a token; see control-api.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { livenessJson, readinessJson, tunnelsJson } from './api.js';
import { METRICS_CONTENT_TYPE, renderMetrics, type BuildInfo, type ProcessFacts } from './metrics.js';
import type { Snapshot } from './state-store.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page.js';
import { CONTROL_PATH, controlReply, type ControlEndpoint } from './control-api.js';
import type { HttpAddress } from '../config/settings.js';
import { hostAllowed, type HostAllow } from '../config/http-hosts.js';
import { evictOldestWhenFull } from './connection-slots.js';

/** A client gets this long to send its request: nobody needs more, and a stuck one holds a socket. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Its headers must be complete sooner: a probe sends them in one packet. */
export const HEADERS_TIMEOUT_MS = 5_000;
/** How often Node enforces those timeouts (its default, 30 s, let slow clients stay 30 s). */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Plenty for a few dashboards, probes and a scraper; bounds what a misbehaving client can hold. */
export const MAX_CONNECTIONS = 64;

export interface ObservabilitySource {
  snapshot(): Snapshot;
  build: BuildInfo;
  processFacts(): ProcessFacts;
  /** Present when a control token is configured. */
  control?: ControlEndpoint;
}

interface Reply {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Compact: the page polls /api/tunnels every 2 s, and with many tunnels indentation doubles the size. */
const json = (status: number, value: unknown): Reply => ({ status, type: JSON_TYPE, body: JSON.stringify(value) + '\n' });

/** What each path answers; pure apart from reading the snapshot. */
export function route(path: string, source: ObservabilitySource): Reply | undefined {
  switch (path) {
    case '/healthz': {
      const body = livenessJson(source.snapshot());
      return json(body.live ? 200 : 503, body);
    }
    case '/readyz': {
      const body = readinessJson(source.snapshot());
      return json(body.ready ? 200 : 503, body);
    }
    case '/metrics':
      return { status: 200, type: METRICS_CONTENT_TYPE, body: renderMetrics(source.snapshot(), source.build, source.processFacts()) };
    case '/api/tunnels':
      return json(200, tunnelsJson(source.snapshot(), source.build.version, source.control !== undefined));
    case '/':
      return { status: 200, type: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML, headers: { 'content-security-policy': STATUS_PAGE_CSP } };
    default:
      return undefined;
  }
}

export function createObservabilityServer(source: ObservabilitySource, allowedHosts: HostAllow = { any: false, names: new Set(['localhost']) }): Server {
  const server = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS }, (req, res) => void handle(req, res, source, allowedHosts));
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  evictOldestWhenFull(server, MAX_CONNECTIONS);
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, source: ObservabilitySource, allowedHosts: HostAllow): Promise<void> {
  let reply: Reply;
  try {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/(.)\/+$/, '$1');
    const hostOk = hostAllowed(req.headers.host, allowedHosts);
    const control = hostOk && req.method === 'POST' ? await controlReply(path, req.headers.authorization, source.control) : undefined;
    if (!hostOk) {
      // 421 Misdirected Request: this listener does not serve that name (a DNS-rebinding page, say).
      reply = json(421, { error: `this listener does not answer for Host "${req.headers.host}"; add the name to AUTOTUNNEL_HTTP_HOSTS (comma-separated) if it is yours` });
    } else if (control) reply = { ...json(control.status, control.body), ...(control.headers ? { headers: control.headers } : {}) };
    else if (CONTROL_PATH.test(path)) reply = { ...json(405, { error: 'control endpoints take POST only, with "Authorization: Bearer TOKEN"' }), headers: { allow: 'POST' } };
    else if (req.method !== 'GET' && req.method !== 'HEAD') reply = { ...json(405, { error: 'read-only: GET and HEAD only' }), headers: { allow: 'GET, HEAD' } };
    else reply = route(path, source) ?? json(404, { error: `no such page: ${path}`, pages: ['/', '/healthz', '/readyz', '/metrics', '/api/tunnels'] });
  } catch (e) {
    reply = json(500, { error: e instanceof Error ? e.message : String(e) });
  }
  res.writeHead(reply.status, {
    'content-type': reply.type,
    'content-length': Buffer.byteLength(reply.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...reply.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}

/** Listens; resolves with the bound address, rejects with the listen error (EADDRINUSE, EACCES…). */
export function listen(server: Server, address: HttpAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stops listening and drops open keep-alive connections, so shutdown is not held up by a browser tab. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
