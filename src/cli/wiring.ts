/** Builds real tunnels from specs: the one place where the pure core meets processes and sockets. */
import { randomInt } from 'node:crypto';
import { describeForward, describeServer, type TunnelSpec } from '../config/spec.js';
import { findExecutable, makeSpawnSsh } from '../adapters/ssh-process.js';
import { probeTcp, probeUnix } from '../adapters/tcp-probe.js';
import { prepareSshFiles } from '../adapters/ssh-files.js';
import { buildSshArgs, formatCommand } from '../ssh/argv.js';
import { hintContext } from '../ssh/causes.js';
import { Tunnel, type TunnelDeps } from '../supervisor/tunnel.js';
import type { HandshakeGate } from '../supervisor/handshake-gate.js';
import type { Supervised } from '../supervisor/supervisor.js';
import { realClock, type ProbeTcp } from '../supervisor/ports.js';
import type { Logger } from '../observe/logger.js';

export interface SshTools {
  ssh: string;
  setpriv?: string;
}

export class MissingSshError extends Error {}

/** Finds ssh (and setpriv, which keeps ssh from outliving us). */
export function findSshTools(sshSetting: string | undefined): SshTools {
  const ssh = findExecutable(sshSetting ?? 'ssh');
  if (!ssh) {
    throw new MissingSshError(
      sshSetting
        ? `AUTOTUNNEL_SSH=${sshSetting} is not an executable file; point it at the OpenSSH client`
        : 'the OpenSSH client (ssh) is not installed or not on PATH; install it (apt-get install openssh-client) or set AUTOTUNNEL_SSH',
    );
  }
  const setpriv = findExecutable('setpriv');
  return { ssh, ...(setpriv ? { setpriv } : {}) };
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
  /** Reachability probe; tunnels of one process share one (see sharedProbe). */
  probeTcp?: ProbeTcp;
}

/** Prepares files, builds argv and wires a Tunnel to the real clock, ssh and probes. */
export function buildTunnel(spec: TunnelSpec, opts: BuildOptions): Supervised {
  const prepared = prepareSshFiles(spec, opts.stateDir, opts.stateDirExplicit);
  const log = (level: 'info' | 'warn', m: string) => opts.logger.log(level, m, { tunnel: spec.name });
  prepared.notices.forEach((m) => log('info', m));
  prepared.warnings.forEach((m) => log('warn', m));
  if (!opts.tools.setpriv) {
    log('warn', 'setpriv (util-linux) not found: if autotunnel is killed with SIGKILL, its ssh may outlive it and keep the port');
  }
  const args = buildSshArgs(spec, prepared.files);
  opts.logger.log('info', `tunnel ${describeForward(spec.forwards[0]!)}${spec.forwards.length > 1 ? ` (+${spec.forwards.length - 1})` : ''} via ${describeServer(spec.server)}`, {
    tunnel: spec.name,
    host_keys: spec.server.hostKey.mode,
    known_hosts: prepared.files.knownHostsFile,
    key: spec.server.identity?.file ?? '(ssh defaults and agent)',
    keepalive: `${spec.keepalive.intervalSec}s x ${spec.keepalive.countMax}`,
  });
  opts.logger.log('debug', `ssh command: ${formatCommand(opts.tools.ssh, args)}`, { tunnel: spec.name });

  const tunnel = new Tunnel(spec, { args, hints: hintContext(spec, prepared.files) }, {
    clock: realClock,
    spawnSsh: makeSpawnSsh(opts.tools),
    probeTcp: opts.probeTcp ?? probeTcp,
    probeUnix,
    random,
    ...(opts.gate ? { gate: opts.gate } : {}),
    ...(opts.probeMonitor ? { probeMonitor: opts.probeMonitor } : {}),
  });
  return { tunnel, cleanup: prepared.cleanup };
}
