/**
 * GatewayPorts, seen from the client: a -R forward that asks the server to listen beyond its
 * loopback (0.0.0.0:PORT, *:PORT, a public address) is bound to the server's 127.0.0.1 only
 * when sshd's GatewayPorts is "no", its default — and ssh reports success either way. So once
 * the tunnel is first up, connect to SERVER:PORT from here; when nothing answers, warn with
 * the fix. Never fail the tunnel for it: a firewall between here and there may be the reason.
 */
import { describeForward, type Forward, type TunnelSpec } from '../config/spec.js';
import { isLoopback } from '../net/address.js';
import type { Emitter, TunnelEvent } from './events.js';
import type { ProbeTcp } from './world.js';

/** A connect across the internet answers well within this. */
export const GATEWAY_PROBE_TIMEOUT_MS = 3_000;

/** Listens beyond the server's loopback; an absent address means ssh's default, loopback. */
export function bindsBeyondLoopback(f: Forward): boolean {
  return f.kind === 'remote' && !f.bindSocket && f.bindAddress !== undefined && !isLoopback(f.bindAddress);
}

export function watchGatewayPorts(
  tunnel: { events: Emitter<TunnelEvent> },
  spec: TunnelSpec,
  probe: ProbeTcp,
  warn: (message: string, fields: Record<string, unknown>) => void,
): void {
  const remote = spec.forwards.filter((f) => f.kind === 'remote' && !f.bindSocket);
  if (!remote.some(bindsBeyondLoopback)) return;
  const stop = tunnel.events.on((e) => {
    if (e.type !== 'state' || e.to !== 'up') return;
    stop();
    // Port-0 forwards take their allocated ports in order.
    const allocated = [...(e.allocatedPorts ?? [])];
    for (const f of remote) {
      const port = f.bindPort === 0 ? allocated.shift() : f.bindPort;
      if (!bindsBeyondLoopback(f) || port === undefined) continue;
      void probe(spec.server.host, port, GATEWAY_PROBE_TIMEOUT_MS).then((ok) => {
        if (ok) return;
        warn(
          `${describeForward(f)} asks the server to listen on ${f.bindAddress || 'every address'}, but ${spec.server.host}:${port} does not answer from here: ` +
            'the server most likely bound it to its loopback only (sshd_config GatewayPorts defaults to "no"). ' +
            `Fix on the server: "GatewayPorts clientspecified" (in a "Match User ${spec.server.user}" block: autotunnel server-setup prints one), then reload sshd; otherwise a firewall blocks port ${port}`,
          { gateway_ports: 'not reachable', port },
        );
      });
    }
  });
}
