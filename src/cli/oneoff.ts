/** `autotunnel -L 8080:db:5432 user@bastion`: one tunnel, written in ssh's own words. */
import { userInfo } from 'node:os';
import { parseSshCommandLine } from '../config/ssh-command-line.js';
import { readFileSync } from 'node:fs';
import { parseSettings } from '../config/settings.js';
import { envServerAuth } from '../config/secrets.js';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import { fileInfo } from '../adapters/files.js';
import { stderrLogger } from '../adapters/stderr-logger.js';
import { runSingle } from './run-single.js';

export const ONEOFF_HELP = `Usage: autotunnel [ssh options] [user@]host

Keeps one tunnel up, written as you would write it for ssh:
  -L [bind:]port:host:hostport   listen here, connect from the server     (repeatable)
  -R [bind:]port:host:hostport   listen on the server, connect from here  (repeatable)
  -D [bind:]port                 SOCKS proxy here                          (repeatable)
  -p port   -l user   -i keyfile   -J jump[,jump]   -o Option=value   and other ssh flags

Host keys and settings come from your ssh configuration (~/.ssh/config, ~/.ssh/known_hosts);
ssh runs with BatchMode=yes, so an unknown host key is refused: connect once with plain ssh
first, or use the SSH_* variables or a config file for trust on first use.

Examples:
  autotunnel -L 5432:db.internal:5432 tunnel@bastion.example.com
  autotunnel -R 8080:localhost:80 -p 2222 -i ~/.ssh/tunnel_ed25519 me@vps.example.com
  autotunnel -D 1080 -J jump@gateway me@inside`;

export async function runOneOff(words: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const settings = parseSettings(env);
  const logger = stderrLogger(settings);
  const { spec, warnings } = parseSshCommandLine(words, { fileInfo, defaultUser: userInfo().username });
  // A key passphrase or password comes from the same variables as for the SSH_* tunnel.
  const problems: ConfigProblem[] = [];
  const { auth, names } = envServerAuth(env, (p) => readFileSync(p, 'utf8'), spec.server.identity !== undefined, (where, value, expected) => problems.push({ where, ...(value !== undefined ? { value } : {}), expected }), warnings, '-i KEYFILE');
  if (problems.length) throw new ConfigError(problems);
  if (auth) {
    spec.server.auth = auth;
    spec.settingNames = { ...spec.settingNames, ...names };
  }
  return runSingle({ spec, warnings, notices: [], settings, env, logger });
}
