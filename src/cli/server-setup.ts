/**
 * `autotunnel server-setup`: from the same configuration as `run` (SSH_* variables, -c FILE or
 * an ssh-style command line), prints what the SSH server needs for exactly these tunnels. With
 * --generate-key PATH, makes an ed25519 key pair first (ssh-keygen, mode 0600) and uses it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../config/errors.js';
import { parseEnv } from '../config/env.js';
import { parseSshCommandLine } from '../config/ssh-command-line.js';
import { readSecret, withoutSecrets } from '../config/secrets.js';
import type { TunnelSpec } from '../config/spec.js';
import { askpassEnv, writeSecretFile } from '../adapters/askpass.js';
import { makeRuntimeDir, removeRuntimeDir } from '../adapters/ssh-files.js';
import { findExecutable } from '../adapters/ssh-process.js';
import { serverSetupText } from '../ssh/server-setup.js';
import { MissingSshError } from './wiring.js';
import { readConfigFile } from './run-config.js';
import { fileInfo, realFacts } from '../adapters/files.js';

export const SERVER_SETUP_HELP = `Usage: autotunnel server-setup [--generate-key PATH] [-c FILE | ssh options [user@]host]

Prints what the SSH server needs for these tunnels, ready to paste: the authorized_keys line
restricted to exactly their forwards (restrict, permitlisten per -R, permitopen per -L), and
an sshd_config "Match User" block (forwarding only as needed, ClientAliveInterval so a dead
session frees its -R port within seconds, GatewayPorts where a -R binds beyond loopback, no
TTY, no command). The tunnels come from the same place as for "run": -c FILE (or
AUTOTUNNEL_CONFIG), an ssh-style command line, or the SSH_* variables. Connects nowhere.

  --generate-key PATH   first make a new ed25519 key pair at PATH and PATH.pub (mode 0600, no
                        passphrase) and use it; then point SSH_KEY_FILE / key_file / -i at PATH

Examples:
  SSH_REMOTE_HOST=vps.example.com SSH_REMOTE_USER=tunnel SSH_TUNNEL_PORT=8080 SSH_TARGET_PORT=80 \\
    autotunnel server-setup --generate-key ./tunnel_ed25519
  autotunnel server-setup -c /etc/autotunnel/tunnels.yaml
  autotunnel server-setup -R 8080:localhost:80 -i ~/.ssh/tunnel_ed25519 tunnel@vps.example.com`;

interface Args {
  generateKey?: string;
  config?: string;
  sshWords: string[];
}

function parseArgs(words: string[], env: NodeJS.ProcessEnv): Args | 'help' {
  const out: Args = { sshWords: [] };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const value = () => {
      const v = words[++i];
      if (v === undefined) throw new UsageError(`server-setup: ${w} needs a value\n\n${SERVER_SETUP_HELP}`);
      return v;
    };
    if (w === '-h' || w === '--help') return 'help';
    else if (w === '--generate-key') out.generateKey = value();
    else if (w.startsWith('--generate-key=')) out.generateKey = w.slice('--generate-key='.length);
    else if (w === '-c' || w === '--config') out.config = value();
    else out.sshWords.push(w);
  }
  if (out.config && out.sshWords.length) throw new UsageError('server-setup: give either -c FILE or an ssh-style command line, not both');
  if (!out.config && !out.sshWords.length) {
    const fromEnv = env.AUTOTUNNEL_CONFIG?.trim();
    if (fromEnv) out.config = fromEnv;
  }
  return out;
}

function tunnelsOf(args: Args, env: NodeJS.ProcessEnv): TunnelSpec[] {
  if (args.config) return readConfigFile(args.config, env).config.tunnels;
  if (args.sshWords.length) return [parseSshCommandLine(args.sshWords, { fileInfo, defaultUser: userInfo().username }).spec];
  return [parseEnv(env, realFacts(env)).spec];
}

function sshKeygen(): string {
  const found = findExecutable('ssh-keygen');
  if (!found) throw new MissingSshError('ssh-keygen (OpenSSH) is not installed or not on PATH; install openssh-client');
  return found;
}

/** The public half of a tunnel's key: KEY.pub when it is there, else derived (asking for the passphrase through our askpass). */
function publicKeyOf(spec: TunnelSpec, env: NodeJS.ProcessEnv): string {
  const key = spec.server.identity!.file;
  if (existsSync(`${key}.pub`)) return readFileSync(`${key}.pub`, 'utf8').trim();
  const childEnv: NodeJS.ProcessEnv = withoutSecrets(env);
  let dir: string | undefined;
  try {
    const passphrase = spec.server.auth?.keyPassphrase;
    if (passphrase) {
      const setting = spec.settingNames.keyPassphrase ?? 'the key passphrase';
      const secret = readSecret(passphrase, setting, (p) => readFileSync(p, 'utf8'), env);
      if ('problem' in secret) throw new ConfigError([{ where: setting, expected: secret.problem }]);
      dir = makeRuntimeDir();
      const file = join(dir, 'passphrase');
      writeSecretFile(file, secret.value);
      Object.assign(childEnv, askpassEnv('passphrase', file));
    }
    return execFileSync(sshKeygen(), ['-y', '-f', key], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const said = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1) ?? String(e);
    throw new ConfigError([{ where: `the key of tunnel ${spec.name}`, value: key, expected: `ssh-keygen cannot read its public half (${said}); put the public key next to it as ${key}.pub` }]);
  } finally {
    if (dir) removeRuntimeDir(dir);
  }
}

export function runServerSetup(words: string[], env: NodeJS.ProcessEnv): number {
  const args = parseArgs(words, env);
  if (args === 'help') {
    process.stdout.write(SERVER_SETUP_HELP + '\n');
    return 0;
  }
  const notes: string[] = [];
  if (args.generateKey) {
    const path = args.generateKey;
    if (existsSync(path) || existsSync(`${path}.pub`)) {
      throw new ConfigError([{ where: '--generate-key', value: path, expected: 'a key is already there and is never overwritten; choose a new path, or leave --generate-key out to use the configured key' }]);
    }
    try {
      // ssh-keygen writes the private key with mode 0600 itself.
      execFileSync(sshKeygen(), ['-q', '-t', 'ed25519', '-N', '', '-C', `autotunnel@${hostname()}`, '-f', path], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      const said = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e);
      throw new ConfigError([{ where: '--generate-key', value: path, expected: `ssh-keygen could not write the key there (${said})` }]);
    }
    notes.push(`# New ed25519 key pair: ${path} (private, mode 0600) and ${path}.pub. Point SSH_KEY_FILE (or key_file, or -i) at ${path}.`, '', '');
  }
  // After the key is made: a configuration may already name it as its key file.
  const specs = tunnelsOf(args, env);
  if (args.generateKey) {
    for (const spec of specs) spec.server.identity = { file: args.generateKey, explicit: true };
  }
  const keyless = specs.filter((s) => !s.server.identity && !s.server.auth?.password);
  if (keyless.length) {
    throw new ConfigError(keyless.map((s) => ({
      where: `tunnel ${s.name}`,
      expected: 'no key is configured, so there is no authorized_keys line to print: set SSH_KEY_FILE (key_file, -i), or add --generate-key PATH to make one',
    })));
  }
  const publicKeys = new Map<string, string>();
  for (const spec of specs) if (spec.server.identity) publicKeys.set(spec.name, publicKeyOf(spec, env));
  process.stdout.write(notes.join('\n') + serverSetupText({ specs, publicKeys }));
  return 0;
}
