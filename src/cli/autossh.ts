/**
 * `autotunnel autossh [-M port[:echo_port]] [ssh options] destination`: autossh's command line and
 * AUTOSSH_* variables, so a systemd unit running autossh switches by changing one word. What
 * differs on purpose: it never gives up on an early failure (AUTOSSH_GATETIME only sets how long
 * a connection must last to count as stable), and it knows when the tunnel is really up.
 */
import { rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseSshCommandLine } from '../config/ssh-command-line.js';
import type { Forward } from '../config/spec.js';
import { parseSettings } from '../config/settings.js';
import { ConfigError, UsageError, type ConfigProblem } from '../config/errors.js';
import { parsePort, parseWholeNumber } from '../config/validate.js';
import { MAX_BACKOFF_SEC, MAX_TIMER_SEC, durationProblem } from '../config/field-checks.js';
import type { LogLevel } from '../config/settings.js';
import { createLogger } from '../observe/logger.js';
import { echoModeMonitor, loopModeMonitor, type EchoMonitor } from '../adapters/echo-monitor.js';
import { fileInfo } from '../adapters/files.js';
import { runSingle } from './run-single.js';

export const AUTOSSH_HELP = `Usage: autotunnel autossh [-M port[:echo_port]] [-f] [ssh options] [user@]host

autossh-compatible: the same command line and AUTOSSH_* variables.
  -M port          monitor loop: -L port:127.0.0.1:port -R port:127.0.0.1:port+1; a message
                   sent every AUTOSSH_POLL seconds must come back, or ssh is restarted
  -M port:echo     use a remote echo service on echo instead of the loop
  -M 0             no monitor: ssh's keepalives (ServerAliveInterval) find dead links
  -f               ignored: autotunnel stays in the foreground (let systemd supervise it)

Variables: AUTOSSH_POLL (600), AUTOSSH_FIRST_POLL (= POLL), AUTOSSH_GATETIME (seconds up before
a connection counts as stable; autotunnel never exits on an early failure), AUTOSSH_MAXSTART
(-1 = no limit; exit 1 when reached), AUTOSSH_MAXLIFETIME (seconds, then exit 0),
AUTOSSH_LOGFILE, AUTOSSH_LOGLEVEL (syslog 0-7), AUTOSSH_PIDFILE, AUTOSSH_PATH (ssh),
AUTOSSH_PORT (as -M), AUTOSSH_MESSAGE (appended to the monitor message), AUTOSSH_DEBUG.

Example (systemd ExecStart, was: autossh -M 0 -N -L 5432:db:5432 tunnel@bastion):
  autotunnel autossh -M 0 -N -L 5432:db:5432 tunnel@bastion`;

const DEFAULT_POLL_SEC = 600;
/** A monitor message gets this long (at most its poll interval) to come back. */
const MONITOR_TIMEOUT_MAX_MS = 10_000;

/** syslog priorities as autossh's AUTOSSH_LOGLEVEL uses them. */
function syslogLevel(n: number): LogLevel {
  return n >= 7 ? 'debug' : n >= 5 ? 'info' : n >= 4 ? 'warn' : 'error';
}

export async function runAutossh(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const problems: ConfigProblem[] = [];
  // `max`: seconds become Node timers, which fire after 1 ms when longer than about 24.8 days.
  const num = (name: string, fallback: number, min = 0, max = MAX_TIMER_SEC): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = raw === '-1' ? -1 : parseWholeNumber(raw);
    if (n === undefined || n < min) {
      problems.push({ where: name, value: raw, expected: min < 0 ? 'expected a whole number, or -1 for no limit' : `expected whole seconds (at least ${min})` });
      return fallback;
    }
    const tooLong = durationProblem(n, max);
    if (tooLong) problems.push({ where: name, value: raw, expected: tooLong });
    return tooLong ? fallback : n;
  };

  let monitorSpec = env.AUTOSSH_PORT?.trim() || undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-M') monitorSpec = args[++i];
    else if (a.startsWith('-M')) monitorSpec = a.slice(2);
    else if (a === '-f') continue;
    else if (a === '-V') {
      process.stdout.write('autotunnel autossh: autossh 1.4 compatible\n');
      return 0;
    } else break;
  }
  if (monitorSpec === undefined && args.includes('-M')) throw new UsageError('-M needs a port, e.g. -M 0 (no monitor) or -M 20000');
  const sshWords = args.slice(i);

  const poll = num('AUTOSSH_POLL', DEFAULT_POLL_SEC, 1);
  const firstPoll = num('AUTOSSH_FIRST_POLL', poll, 1);
  const gateTime = env.AUTOSSH_GATETIME?.trim() ? num('AUTOSSH_GATETIME', 30, 0, MAX_BACKOFF_SEC) : undefined;
  const maxStart = num('AUTOSSH_MAXSTART', -1, -1, Number.MAX_SAFE_INTEGER);
  const maxLifetime = num('AUTOSSH_MAXLIFETIME', 0);
  const debug = Boolean(env.AUTOSSH_DEBUG?.trim());
  const logLevel = debug ? 'debug' : env.AUTOSSH_LOGLEVEL?.trim() ? syslogLevel(num('AUTOSSH_LOGLEVEL', 6, 0, Number.MAX_SAFE_INTEGER)) : undefined;

  let monitor: { port: number; echo?: number } | undefined;
  if (monitorSpec !== undefined && monitorSpec !== '0') {
    const [p, e] = monitorSpec.split(':');
    const port = parsePort(p ?? '');
    const echo = e === undefined ? undefined : parsePort(e);
    if (port === undefined || port > 65534 || (e !== undefined && echo === undefined)) {
      problems.push({ where: '-M', value: monitorSpec, expected: 'expected port[:echo_port] (the loop also uses port+1), or 0 for no monitor' });
    } else monitor = { port, ...(echo !== undefined ? { echo } : {}) };
  }
  if (problems.length) throw new ConfigError(problems);

  const settings = parseSettings({ ...env, ...(env.AUTOSSH_PATH ? { AUTOTUNNEL_SSH: env.AUTOSSH_PATH } : {}) });
  const logFile = debug ? undefined : env.AUTOSSH_LOGFILE?.trim() || undefined;
  const logger = createLogger({
    format: settings.logFormat,
    level: logLevel ?? settings.logLevel,
    write: logFile ? (l) => appendFileSync(logFile, l) : (l) => process.stderr.write(l),
  });

  // The monitor's forwards are autossh's own, so the monitor's path is the tunnel's; they are
  // part of the tunnel from the start, validated with the user's.
  const monitorForwards: Forward[] = !monitor
    ? []
    : monitor.echo !== undefined
      ? [{ kind: 'local', bindAddress: '127.0.0.1', bindPort: monitor.port, targetHost: '127.0.0.1', targetPort: monitor.echo }]
      : [
          { kind: 'local', bindAddress: '127.0.0.1', bindPort: monitor.port, targetHost: '127.0.0.1', targetPort: monitor.port },
          { kind: 'remote', bindAddress: '127.0.0.1', bindPort: monitor.port, targetHost: '127.0.0.1', targetPort: monitor.port + 1 },
        ];
  const { spec, warnings } = parseSshCommandLine(sshWords, { fileInfo, defaultUser: userInfo().username }, 'autossh', {
    forwards: monitorForwards,
    ...(gateTime !== undefined ? { stableAfterMs: gateTime * 1000 } : {}),
    ...(monitor ? { monitor: { firstAfterMs: firstPoll * 1000, everyMs: poll * 1000, what: 'monitor message (-M)' } } : {}),
  });
  let probe: EchoMonitor | undefined;
  if (monitor) {
    probe = monitor.echo !== undefined ? echoModeMonitor(monitor.port, env.AUTOSSH_MESSAGE ?? '') : await loopModeMonitor(monitor.port, env.AUTOSSH_MESSAGE ?? '');
  }

  const pidFile = env.AUTOSSH_PIDFILE?.trim() || undefined;
  if (pidFile) writeFileSync(pidFile, `${process.pid}\n`);
  let stopWith: ((reason: string, code: number) => void) | undefined;

  return runSingle({
    spec,
    warnings: args.includes('-f') ? [...warnings, '-f is ignored: autotunnel stays in the foreground, where systemd or a container runtime supervises it'] : warnings,
    notices: monitor ? [`monitor: a message every ${poll} s (first after ${firstPoll} s) through port ${monitor.port}${monitor.echo !== undefined ? ` to the echo service on ${monitor.echo}` : ` and back to ${monitor.port + 1}`}`] : [],
    settings,
    env,
    logger,
    ...(probe ? { probeMonitor: () => probe!.check(Math.min(poll * 1000, MONITOR_TIMEOUT_MAX_MS)) } : {}),
    onSupervisor: (supervisor) => {
      if (maxStart < 0) return;
      supervisor.events.on((e) => {
        if (e.type === 'state' && e.to === 'backoff' && e.attempt >= maxStart) stopWith?.(`AUTOSSH_MAXSTART (${maxStart}) reached`, 1);
      });
    },
    hooks: {
      onRunning: (stop) => {
        stopWith = stop;
        if (maxLifetime > 0) setTimeout(() => stop(`AUTOSSH_MAXLIFETIME (${maxLifetime} s) reached`, 0), maxLifetime * 1000).unref();
      },
    },
    cleanup: () => {
      void probe?.close();
      if (pidFile) rmSync(pidFile, { force: true });
    },
  });
}
