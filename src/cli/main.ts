/** The autotunnel command: parses the command line and runs the chosen command. */
import { parseArgs } from 'node:util';
import { ConfigError, EXIT_CONFIG, EXIT_SOFTWARE, EXIT_USAGE, UsageError, formatProblem } from '../config/errors.js';
import { MissingSshError } from './wiring.js';
import { MissingAgentToolError } from '../adapters/tunnel-auth.js';
import { runFromEnv } from './run-env.js';
import { packageVersion } from './version.js';

/** EX_UNAVAILABLE: a program we need (ssh) is missing. */
export const EXIT_UNAVAILABLE = 69;

const HELP = `autotunnel — keeps SSH tunnels up, with OpenSSH's ssh doing the SSH.

Usage:
  autotunnel                      the tunnel(s) of AUTOTUNNEL_CONFIG, or else of the SSH_*
                                  variables (the jnovack/autossh image's); same as "run"
  autotunnel run [-c FILE]        every tunnel of a YAML file (reloaded on SIGHUP and on change)
  autotunnel check [-c FILE]      validate and print each tunnel's ssh command; connects nowhere
  autotunnel [ssh options] [user@]host
                                  one tunnel in ssh's words: -L, -R, -D, -p, -i, -o, -J
  autotunnel autossh [-M port[:echo]] [ssh options] [user@]host
                                  autossh's command line and AUTOSSH_* variables
  autotunnel server-setup [--generate-key PATH] [-c FILE | ssh options [user@]host]
                                  print the authorized_keys line and sshd_config block the
                                  server needs for exactly these tunnels
  autotunnel status [--json]      every tunnel of the running autotunnel: state, since,
                                  restarts, last cause (--url URL: another instance)
  autotunnel health [--live]      exit 0 when every required tunnel is up, else 1, with one
                                  line saying why; for a container HEALTHCHECK or a
                                  Kubernetes exec probe (--live: only whether it runs)
  autotunnel stop|start|restart NAME
                                  one tunnel of the running autotunnel (needs the control
                                  token: AUTOTUNNEL_CONTROL_TOKEN_FILE or --token-file)
  autotunnel notify-test [-c FILE]
                                  one test message to each notification receiver
  autotunnel demo [-L|-R|-D]      a throwaway sshd on loopback, a tunnel through it, a killed
                                  ssh client and a restarted server, and the recovery
  autotunnel COMMAND --help       help for one command
  autotunnel --version

Examples:
  SSH_REMOTE_HOST=vps.example.com SSH_TUNNEL_PORT=8080 SSH_TARGET_PORT=80 autotunnel
  autotunnel run -c /etc/autotunnel/tunnels.yaml
  autotunnel -L 5432:db.internal:5432 tunnel@bastion.example.com

Status page, /healthz, /readyz, /metrics, /api/tunnels: http://127.0.0.1:9810/
(AUTOTUNNEL_HTTP=host:port moves it, AUTOTUNNEL_HTTP=off turns it off).
Signals: SIGTERM/SIGINT stop (exit 0), SIGUSR1 retries now, SIGHUP reloads the config file.
Exit codes: 0 stopped, 1 failed, 64 usage, 69 ssh missing, 70 bug, 78 configuration.
Every variable is described in the README.`;

const RUN_HELP = `Usage: autotunnel run [-c FILE]

Keeps every tunnel up. With -c FILE (or AUTOTUNNEL_CONFIG=FILE): the tunnels of that YAML
file, one ssh each, reloaded on SIGHUP and whenever the file changes — unchanged tunnels are
not touched, removed ones stop, new ones start; an invalid new file is refused and the running
tunnels keep running. Without: the one tunnel of the SSH_* variables.

Example file:
  tunnels:
    - name: db
      server: { host: bastion.example.com, user: tunnel, key_file: /run/secrets/key }
      forwards:
        - local: 127.0.0.1:5432
          to: db.internal:5432

Examples:
  autotunnel run -c tunnels.yaml
  AUTOTUNNEL_CONFIG=/etc/autotunnel/tunnels.yaml autotunnel`;

const CHECK_HELP = `Usage: autotunnel check [-c FILE]

Validates the configuration (the file of -c or AUTOTUNNEL_CONFIG, else the SSH_* variables)
and prints each tunnel's forwards and ssh command, without connecting anywhere.
Exit 0 when valid, 78 with every problem (file:line:column, field, value, fix) when not,
69 when the ssh client is missing: it refuses everything a start would (AUTOTUNNEL_* settings,
the state directory, a place for private key copies).

Examples:
  autotunnel check -c tunnels.yaml
  SSH_MODE=-L SSH_REMOTE_HOST=bastion SSH_TUNNEL_PORT=5432 SSH_TARGET_PORT=5432 autotunnel check`;

/** -c FILE / --config FILE, else AUTOTUNNEL_CONFIG; anything else is a usage error. */
function configFileArg(command: string, rest: string[], env: NodeJS.ProcessEnv, help: string): string | undefined | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}\n\n${help}`);
  }
  if (parsed.values.help) return 'help';
  return parsed.values.config ?? (env.AUTOTUNNEL_CONFIG?.trim() || undefined);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'run': {
      const file = configFileArg('run', rest, env, RUN_HELP);
      if (file === 'help') return printHelp(RUN_HELP);
      if (file) {
        const { runFromFile } = await import('./run-config.js');
        return runFromFile(file, env);
      }
      return runFromEnv(env);
    }
    case 'check': {
      const file = configFileArg('check', rest, env, CHECK_HELP);
      if (file === 'help') return printHelp(CHECK_HELP);
      const { runCheck } = await import('./check.js');
      return runCheck(file, env);
    }
    case 'autossh': {
      const { runAutossh, AUTOSSH_HELP } = await import('./autossh.js');
      if (rest.length === 0 || rest[0] === '-h' || rest[0] === '--help') return printHelp(AUTOSSH_HELP);
      return runAutossh(rest, env);
    }
    case 'demo': {
      const { runDemo } = await import('./demo.js');
      return runDemo(rest);
    }
    case 'server-setup': {
      const { runServerSetup } = await import('./server-setup.js');
      return runServerSetup(rest, env);
    }
    case 'status': {
      const { runStatus } = await import('./status.js');
      return runStatus(rest, env);
    }
    case 'health': {
      const { runHealth } = await import('./health.js');
      return runHealth(rest, env);
    }
    case 'start':
    case 'stop':
    case 'restart': {
      const { runControl } = await import('./control.js');
      return runControl(command, rest, env);
    }
    case 'notify-test': {
      const { runNotifyTest, NOTIFY_TEST_HELP } = await import('./notify-test.js');
      const file = configFileArg('notify-test', rest, env, NOTIFY_TEST_HELP);
      if (file === 'help') return printHelp(NOTIFY_TEST_HELP);
      return runNotifyTest(file, env);
    }
    case '-h':
    case '--help':
    case 'help':
      return printHelp(HELP);
    case '-V':
    case '--version':
    case 'version':
      process.stdout.write(`autotunnel ${packageVersion()}\n`);
      return 0;
    default: {
      if (command.startsWith('-')) {
        const { runOneOff, ONEOFF_HELP } = await import('./oneoff.js');
        if (rest.includes('--help')) return printHelp(ONEOFF_HELP);
        return runOneOff(argv, env);
      }
      throw new UsageError(`unknown command "${command}"; run "autotunnel --help" for the commands`);
    }
  }
}

function printHelp(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

export async function cli(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`autotunnel: the configuration is not valid, nothing was started:\n${e.problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}\n`);
      process.exitCode = EXIT_CONFIG;
    } else if (e instanceof UsageError) {
      process.stderr.write(`autotunnel: ${e.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else if (e instanceof MissingSshError || e instanceof MissingAgentToolError) {
      process.stderr.write(`autotunnel: ${e.message}\n`);
      process.exitCode = EXIT_UNAVAILABLE;
    } else {
      process.stderr.write(`autotunnel: unexpected error: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = EXIT_SOFTWARE;
    }
  }
  // Exit explicitly: stray handles (a pending probe socket) must not keep a stopped process alive.
  process.exit(process.exitCode ?? 0);
}
