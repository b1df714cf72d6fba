/**
 * What a Tunnel is given: the outside world it acts on (TunnelDeps: clock, processes, probes,
 * randomness, what the process shares between tunnels) and the ssh command it runs. Everything
 * it knows of the tunnel itself is in its spec.
 */
import type { HintContext } from '../ssh/causes.js';
import type { HandshakeGate } from './handshake-gate.js';
import type { ServerWatch } from './reachability.js';
import type { ProcessState } from './stuck.js';
import type { Clock, ProbeTcp, SpawnSsh } from './world.js';

/** The outside world a Tunnel acts on; everything it knows of the tunnel itself is in its spec. */
export interface TunnelDeps {
  clock: Clock;
  spawnSsh: SpawnSsh;
  probeTcp: ProbeTcp;
  /** Connects to a Unix socket a local forward listens on; absent → such forwards count as up when ssh says so. */
  probeUnix?: (path: string, timeoutMs: number) => Promise<boolean>;
  /** The check of spec.monitor (autossh's -M): resolves false when no answer came back through the tunnel. */
  probeMonitor?: () => Promise<boolean>;
  random: () => number;
  /** Limits concurrent handshakes per server; absent → no limit. */
  gate?: HandshakeGate;
  /** What the process knows of this tunnel's server, shared with its other tunnels there; absent → its own. */
  watch?: ServerWatch;
  /**
   * Aborts this machine's orphaned connections to address:port (adapters/orphan-connections.ts),
   * so the server drops a dead session that still holds our -R ports; absent → not possible here.
   */
  abortOrphans?: (address: string, port: number) => void;
  /** ssh's process state ('S', 'T'…): a stopped ssh is replaced (stuck.ts); absent → not watched. */
  processState?: ProcessState;
}

/** What ssh runs with: its arguments and the context of its fix texts, both from the spec and its prepared files. */
export interface SshCommand {
  args: string[];
  hints: HintContext;
  /** The socket path of ssh's first local forward, which no peer can know (see readiness.ts). */
  readyMarker?: string;
}
