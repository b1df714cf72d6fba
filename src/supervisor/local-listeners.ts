/**
 * ssh says a local forward listens before it has bound the port, and a port can be announced
 * yet refuse: before a tunnel counts as up, each local listener must accept a connection.
 */
import type { Forward } from '../config/spec.js';
import { connectAddress } from '../net/address.js';
import { sleep, type Clock, type ProbeTcp } from './world.js';

/** Each connect to a local listener is given this long. */
export const PROBE_TIMEOUT_MS = 1_000;
/** Between attempts to connect to a local forward ssh said it listens on. */
export const LOCAL_PROBE_RETRY_MS = 200;

export interface ListenerProbes {
  clock: Clock;
  probeTcp: ProbeTcp;
  /** Connects to a Unix socket; absent → such forwards count as listening when ssh says so. */
  probeUnix?: (path: string, timeoutMs: number) => Promise<boolean>;
}

/**
 * Resolves true once every listener of `forwards` accepts a connection, looking again every
 * LOCAL_PROBE_RETRY_MS (the attempt's handshake deadline bounds this); false once `scope` ends.
 */
export async function confirmListening(forwards: Forward[], probes: ListenerProbes, scope: AbortSignal): Promise<boolean> {
  for (;;) {
    const results = await Promise.all(
      forwards.map((f) =>
        f.bindSocket
          ? (probes.probeUnix?.(f.bindSocket, PROBE_TIMEOUT_MS) ?? Promise.resolve(true))
          : probes.probeTcp(connectAddress(f.bindAddress), f.bindPort, PROBE_TIMEOUT_MS),
      ),
    );
    if (scope.aborted) return false;
    if (results.every(Boolean)) return true;
    await sleep(probes.clock, LOCAL_PROBE_RETRY_MS, scope);
    if (scope.aborted) return false;
  }
}
