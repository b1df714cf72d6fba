/** Builds real tunnels from specs: the one place where the pure core meets processes and sockets. */
import { randomInt } from 'node:crypto';
import { describeForward, describeServer, type TunnelSpec } from '../config/spec.js';
import { findExecutable, makeSpawnSsh, processState } from '../adapters/ssh-process.js';
import { probeTcp, probeUnix } from '../adapters/tcp-probe.js';
import { prepareSshFiles, unlinkFirst, withJumpConfig } from '../adapters/ssh-files.js';
import { spawnAfter } from '../adapters/prepared-spawn.js';
import type { StaleListenerCure } from '../adapters/orphan-connections.js';
import { guardTrustOnFirstUse, knownHostsPattern } from '../adapters/tofu-guard.js';
import { jumpHostsOf } from '../ssh/jump.js';
import { prepareTunnelAuth, specForFiles } from '../adapters/tunnel-auth.js';
import { watchGatewayPorts } from '../supervisor/gateway-ports.js';
import { buildSshArgs, formatCommand } from '../ssh/argv.js';
import { hintContext } from '../ssh/causes.js';
import { removeStaleSocket, type SocketPathState } from '../adapters/stale-socket.js';
import { Tunnel, type TunnelDeps } from '../supervisor/tunnel.js';
import type { HandshakeGate } from '../supervisor/handshake-gate.js';
import type { Supervised } from '../supervisor/supervisor.js';
import { realClock, type SpawnSsh } from '../supervisor/world.js';
import type { ServerWatch } from '../supervisor/reachability.js';
import type { Logger } from '../observe/logger.js';

export interface SshTools {
  ssh: string;
  setpriv?: string;
  /** iproute2's ss: aborts orphaned connections that hold a stale -R port (see orphan-connections.ts). */
  ss?: string;
}

export class MissingSshError extends Error {}

/** Finds ssh (and setpriv, which keeps ssh from outliving us). */
export function findSshTools(sshSetting: string | undefined): SshTools {
  const ssh = findExecutable(sshSetting ?? 'ssh');
  if (!ssh) {
    throw new MissingSshError(
      sshSetting
        ? `AUTOTUNNEL_SSH=${sshSetting} is not an executable file (a directory, missing, or not executable); point it at the OpenSSH client, e.g. /usr/bin/ssh`
        : 'the OpenSSH client (ssh) is not installed or not on PATH; install it (apt-get install openssh-client) or set AUTOTUNNEL_SSH',
    );
  }
  const setpriv = findExecutable('setpriv');
  const ss = findExecutable('ss');
  return { ssh, ...(setpriv ? { setpriv } : {}), ...(ss ? { ss } : {}) };
}

/** Random fraction for backoff jitter (not security sensitive, but crypto's is as cheap). */
const random = () => randomInt(0, 1 << 30) / (1 << 30);

export interface BuildOptions {
  tools: SshTools;
  stateDir: string;
  stateDirExplicit: boolean;
  logger: Logger;
  gate?: HandshakeGate;
  /** The check of spec.monitor (autossh's -M). */
  probeMonitor?: TunnelDeps['probeMonitor'];
  /** What the process knows of this tunnel's server, shared with its other tunnels there. */
  watch?: ServerWatch;
  /** How a stale -R port is freed after an outage here (see staleListenerCure). */
  cure?: StaleListenerCure;
}

/** Whether a tunnel asks the server to listen (-R), so that a dead session can hold its port. */
export function hasRemoteForward(spec: TunnelSpec): boolean {
  return spec.ssh.addsRemoteForwards || spec.forwards.some((f) => f.kind === 'remote');
}

/** Logs once, at start, how stale -R ports are freed here, when any tunnel has a -R forward. */
export function reportStaleListenerCure(specs: TunnelSpec[], cure: StaleListenerCure, logger: Logger): void {
  if (specs.some(hasRemoteForward)) logger.log(cure.kind === 'none' ? 'warn' : 'info', cure.says);
}

/** Prepares files, builds argv and wires a Tunnel to the real clock, ssh and probes. */
export function buildTunnel(spec: TunnelSpec, opts: BuildOptions): Supervised & { refresh: () => Promise<void> } {
  const prepared = prepareSshFiles(specForFiles(spec), opts.stateDir, opts.stateDirExplicit);
  const log = (level: 'info' | 'warn', m: string) => opts.logger.log(level, m, { tunnel: spec.name });
  prepared.notices.forEach((m) => log('info', m));
  prepared.warnings.forEach((m) => log('warn', m));
  if (!opts.tools.setpriv) {
    log('warn', 'setpriv (util-linux) not found: if autotunnel is killed with SIGKILL, its ssh may outlive it and keep the port');
  }
  let auth;
  try {
    auth = prepareTunnelAuth(spec, prepared.files, opts.tools.setpriv, process.env);
  } catch (e) {
    prepared.cleanup();
    throw e;
  }
  const args = buildSshArgs(spec, withJumpConfig(spec, auth.files, prepared.privateDir));
  opts.logger.log('info', `tunnel ${describeForward(spec.forwards[0]!)}${spec.forwards.length > 1 ? ` (+${spec.forwards.length - 1})` : ''} via ${describeServer(spec.server)}`, {
    tunnel: spec.name,
    host_keys: spec.server.hostKey.mode,
    known_hosts: prepared.files.knownHostsFile,
    key: spec.server.identity?.file ?? '(ssh defaults and agent)',
    keepalive: `${spec.keepalive.intervalSec}s x ${spec.keepalive.countMax}`,
  });
  opts.logger.log('debug', `ssh command: ${formatCommand(opts.tools.ssh, args)}`, { tunnel: spec.name });

  const readyMarker = prepared.files.readyMarker;
  const spawnSsh = clearingStaleSockets(spec, auth.wrap(makeSpawnSsh({ ...opts.tools, env: auth.env })), opts.logger);
  const tunnel = new Tunnel(spec, { args, hints: hintContext(spec, prepared.files), ...(readyMarker ? { readyMarker } : {}) }, {
    clock: realClock,
    spawnSsh: readyMarker ? unlinkFirst(readyMarker, spawnSsh) : spawnSsh,
    probeTcp,
    probeUnix,
    processState,
    random,
    ...(opts.watch ? { watch: opts.watch } : {}),
    ...(opts.cure?.kind === 'abort' && hasRemoteForward(spec) ? { abortOrphans: opts.cure.abort } : {}),
    ...(opts.gate ? { gate: opts.gate } : {}),
    ...(opts.probeMonitor ? { probeMonitor: opts.probeMonitor } : {}),
  });
  const unguard =
    spec.server.hostKey.mode === 'trust-on-first-use'
      ? guardTrustOnFirstUse(tunnel, prepared.files.knownHostsFile, [spec.server, ...jumpHostsOf(spec)].map((h) => knownHostsPattern(h.host, h.port)), (m) => opts.logger.log('error', m, { tunnel: spec.name }))
      : () => {};
  if (!spec.ssh.proxied) watchGatewayPorts(tunnel, spec, probeTcp, (m, fields) => opts.logger.log('warn', m, { tunnel: spec.name, ...fields }));
  return {
    tunnel,
    // A reload keeps an unchanged tunnel's ssh; its key is checked again now (see tunnel-auth.ts).
    refresh: async () => {
      const said = await auth.refresh();
      if (said) opts.logger.log(said.level, said.message, { tunnel: spec.name });
    },
    cleanup: () => {
      unguard();
      auth.cleanup();
      prepared.cleanup();
    },
  };
}

/**
 * Before each ssh of a tunnel with Unix-socket local forwards: removes the socket file a previous
 * ssh left behind (adapters/stale-socket.ts). A path that is not ours to remove is said once.
 */
function clearingStaleSockets(spec: TunnelSpec, spawnSsh: SpawnSsh, logger: Logger): SpawnSsh {
  const sockets = spec.forwards.filter((f) => f.kind === 'local' && f.bindSocket).map((f) => f.bindSocket!);
  if (!sockets.length) return spawnSsh;
  const seen = new Map<string, SocketPathState>();
  return spawnAfter(async () => {
    for (const path of sockets) {
      const state = await removeStaleSocket(path);
      if (state === 'removed') logger.log('debug', `removed the stale socket file ${path} (nothing listened on it) before starting ssh`, { tunnel: spec.name });
      if ((state === 'not-ours' || state === 'not-a-socket') && seen.get(path) !== state) {
        logger.log('warn', `${path} is ${state === 'not-ours' ? 'a socket file of another user, which autotunnel does not remove' : 'not a socket file'}: ssh cannot listen there until it is removed`, { tunnel: spec.name });
      }
      seen.set(path, state);
    }
    return undefined;
  }, spawnSsh);
}
