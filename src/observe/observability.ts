/**
 * Wires observation to a running supervisor: one state store fed by its events, served over
 * HTTP. Observability never takes tunnels down: if the listener cannot start, we say so in the
 * log and the tunnels run on without it.
 */
import { performance } from 'node:perf_hooks';
import { describeForward, describeServer } from '../config/spec.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { Tunnel } from '../supervisor/tunnel.js';
import { closeServer, createObservabilityServer, listen } from './http-server.js';
import type { HttpAddress } from '../config/settings.js';
import { baseUrl, formatHostPort } from '../net/address.js';
import type { Logger } from './logger.js';
import type { HostAllow } from '../config/http-hosts.js';
import { StateStore, type TunnelInfo } from './state-store.js';
import type { ControlEndpoint } from './control-api.js';

export interface Observability {
  close(): Promise<void>;
  /** Base URL of the listener, when it runs. */
  address?: string;
}

export interface ObservabilityOptions {
  logger: Logger;
  /** undefined: the listener is turned off. */
  httpAddress: HttpAddress | undefined;
  /** Host headers answered besides IP literals and localhost (AUTOTUNNEL_HTTP_HOSTS). */
  allowedHosts?: HostAllow;
  version: string;
  now?: () => number;
  /** The control endpoints, when a token is configured. */
  control?: ControlEndpoint;
}

const NOTHING: Observability = { close: async () => undefined };

export async function startObservability(supervisor: Supervisor, opts: ObservabilityOptions): Promise<Observability> {
  const { logger, httpAddress } = opts;
  if (!httpAddress) {
    logger.log('info', 'HTTP listener off (AUTOTUNNEL_HTTP=off): no health, readiness, metrics or status page');
    return NOTHING;
  }
  const store = new StateStore({
    now: opts.now ?? Date.now,
    initial: supervisor.list().map((t) => ({ ...tunnelInfo(t), state: t.state })),
    lookup: (name) => {
      const t = supervisor.get(name);
      return t && tunnelInfo(t);
    },
  });
  const unsubscribe = supervisor.events.on((e) => store.apply(e));
  const server = createObservabilityServer({
    snapshot: () => store.snapshot(),
    build: { version: opts.version, node: process.version },
    processFacts: () => ({ startTimeSeconds: Math.round(performance.timeOrigin) / 1000, residentMemoryBytes: process.memoryUsage.rss() }),
    ...(opts.control ? { control: opts.control } : {}),
  }, opts.allowedHosts);
  let port: number;
  try {
    port = (await listen(server, httpAddress)).port;
  } catch (e) {
    unsubscribe();
    logger.log('error', `${explainListenError(e, httpAddress)}; the tunnels keep running without health, readiness, metrics and status page. Set AUTOTUNNEL_HTTP to a free host:port, or to "off"`, {
      http: formatHostPort(httpAddress.host, httpAddress.port),
    });
    return NOTHING;
  }
  server.on('error', (e) => logger.log('error', `HTTP listener: ${e.message}`));
  const address = baseUrl(httpAddress, port);
  const bound = formatHostPort(httpAddress.host, port);
  // A wildcard bind is reached at its loopback URL here; say where it listens too.
  logger.log('info', `status page, health, readiness and metrics on ${address}/`, { http: address, ...(address.endsWith(`//${bound}`) ? {} : { listen: bound }) });
  return {
    address,
    close: async () => {
      unsubscribe();
      await closeServer(server);
    },
  };
}

function tunnelInfo({ name, spec }: Tunnel): TunnelInfo {
  return {
    name,
    required: spec.required !== false,
    ...(spec.readyRequiresTarget ? { requiresTarget: true } : {}),
    description: `${spec.forwards.map(describeForward).join(', ')} via ${describeServer(spec.server)}`,
  };
}

export function explainListenError(e: unknown, a: HttpAddress): string {
  const where = formatHostPort(a.host, a.port);
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the address is already in use (another autotunnel, or another program)`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: ${a.host} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${where}: the name ${a.host} does not resolve`;
    default:
      return `cannot listen on ${where}: ${e instanceof Error ? e.message : String(e)}`;
  }
}
