/** The autotunnel command: parses the command line and runs the chosen command. */
import { readFileSync } from 'node:fs';
import { ConfigError, EXIT_CONFIG, EXIT_SOFTWARE, EXIT_USAGE, UsageError, formatProblem } from '../config/errors.js';
import { MissingSshError } from './wiring.js';
import { runFromEnv } from './run-env.js';

/** EX_UNAVAILABLE: a program we need (ssh) is missing. */
export const EXIT_UNAVAILABLE = 69;

const HELP = `autotunnel — keeps SSH tunnels up, with OpenSSH's ssh doing the SSH.

Usage:
  autotunnel            keep the tunnel described by the SSH_* variables up (same as "run")
  autotunnel run        the same, explicitly
  autotunnel demo       start a throwaway sshd on loopback, run a tunnel through it,
                        kill the ssh client and watch it come back
  autotunnel --help     this text
  autotunnel --version  the version

Examples:
  SSH_REMOTE_HOST=vps.example.com SSH_TUNNEL_PORT=8080 SSH_TARGET_PORT=80 autotunnel
  SSH_MODE=-L SSH_REMOTE_HOST=bastion SSH_TARGET_HOST=db SSH_TARGET_PORT=5432 SSH_TUNNEL_PORT=5432 autotunnel

Signals: SIGTERM/SIGINT stop (exit 0), SIGUSR1 retries now.
Every variable and exit code is described in the README.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'run':
      if (rest.length) throw new UsageError(`"run" takes no arguments here (got "${rest.join(' ')}"); the tunnel is configured by SSH_* variables`);
      return runFromEnv(process.env);
    case 'demo': {
      const { runDemo } = await import('./demo.js');
      return runDemo(rest);
    }
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP + '\n');
      return 0;
    case '-V':
    case '--version':
    case 'version':
      process.stdout.write(`autotunnel ${version()}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"; run "autotunnel --help" for the commands`);
  }
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
    } else if (e instanceof MissingSshError) {
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
