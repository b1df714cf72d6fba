/**
 * Reads a tunnel from ssh's own command-line words, for `autotunnel -L 8080:db:5432 user@bastion`
 * and `autotunnel autossh …`: people who know ssh write the tunnel the way they always have.
 * The words are parsed by ssh's option grammar, never passed through a shell.
 */
import { DEFAULT_BACKOFF, DEFAULT_CONNECT_TIMEOUT_SEC, defaultKeepalive, type Forward, type MonitorSpec, type SettingNames, type TunnelSpec } from './spec.js';
import { ConfigError, UsageError, type ConfigProblem } from './errors.js';
import type { FileInfo } from './files.js';
import { parseSshForward } from './forward.js';
import { scanSshOptions } from './ssh-option-grammar.js';
import { checkExtraArgs, sshSpec } from './ssh-options.js';
import { hostProblem, parsePort, userProblem, PORT_EXPECTED } from './validate.js';
import { unbracket } from '../net/address.js';
import { jumpListProblems, sameListener } from './field-checks.js';

/** ssh(1) flags we add ourselves or that mean nothing for a tunnel: accepted and dropped. */
const DROPPED_FLAGS = new Set(['N', 'n', 'T']);

/** The settings of a command line, in its own words. */
export const COMMAND_LINE_SETTING_NAMES: SettingNames = { host: 'the destination', port: '-p', user: '-l', key: '-i', localPort: '-L/-D port' };

export interface SshCommandLine {
  spec: TunnelSpec;
  warnings: string[];
}

export function parseSshCommandLine(
  words: string[],
  facts: { fileInfo(path: string): FileInfo | undefined; defaultUser: string },
  name = 'tunnel',
  /** What a caller adds to the user's words (autossh: its monitor forwards, AUTOSSH_GATETIME). */
  additions: { forwards?: Forward[]; stableAfterMs?: number; monitor?: MonitorSpec } = {},
): SshCommandLine {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const forwards: Forward[] = [];
  const extra: string[] = [];
  let port: number | undefined;
  let user: string | undefined;
  let identity: string | undefined;
  const jump: string[] = [];
  let destination: string | undefined;
  let forwardGiven = false;
  const noCommand = (command: string) => {
    if (command) problems.push({ where: 'command line', value: command, expected: 'a tunnel runs no remote command: remove the words after the destination (autotunnel always uses -N)' });
  };

  let flags = '';
  scanSshOptions(words, {
    operand: (word, at) => {
      // As in ssh, options may also follow the destination; the first word after it starts a command.
      if (destination !== undefined) {
        noCommand(words.slice(word === '--' ? at + 1 : at).join(' '));
        return 'stop';
      }
      if (word !== '--') {
        destination = word;
        return undefined;
      }
      destination = words[at + 1];
      noCommand(words.slice(at + 2).join(' '));
      return 'stop';
    },
    flag: (letter) => {
      if (!DROPPED_FLAGS.has(letter)) flags += letter;
      return true;
    },
    option: (letter, value) => {
      if (value === undefined) throw new UsageError(`option -${letter} needs a value`);
      switch (letter) {
        case 'L':
        case 'R':
        case 'D': {
          forwardGiven = true;
          const kind = letter === 'L' ? 'local' : letter === 'R' ? 'remote' : 'dynamic';
          const f = parseSshForward(kind, value);
          const clash = typeof f === 'string' || f.kind === 'remote' ? undefined : forwards.find((g) => g.kind !== 'remote' && sameListener(f, g));
          if (typeof f === 'string') problems.push({ where: `-${letter}`, value, expected: f });
          else if (clash) problems.push({ where: `-${letter}`, value, expected: 'listens where an earlier -L/-D already does (the same port on the same address, or the same socket); give each its own port' });
          else forwards.push(f);
          break;
        }
        case 'p':
          port = parsePort(value);
          if (port === undefined) problems.push({ where: '-p', value, expected: PORT_EXPECTED });
          break;
        case 'l':
          user = value;
          break;
        case 'i':
          identity = value;
          break;
        case 'J':
          for (const p of jumpListProblems(value, false)) problems.push({ where: '-J', value, expected: p });
          jump.push(...value.split(','));
          break;
        default:
          extra.push(`-${letter}`, value);
      }
    },
    endOfWord: () => {
      if (flags) extra.push(`-${flags}`);
      flags = '';
    },
  });

  if (destination === undefined) throw new UsageError('missing the destination: [user@]host, e.g. autotunnel -L 8080:localhost:80 user@bastion');
  let host = destination;
  const url = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(destination);
  if (url) {
    if (url[1]) user ??= url[1];
    // The brackets around an IPv6 address are URL syntax, not part of the host (probes would not resolve "[::1]").
    host = url[2]!;
    if (url[3] && port === undefined) {
      port = parsePort(url[3]);
      if (port === undefined) problems.push({ where: 'destination', value: destination, expected: `port "${url[3]}": ${PORT_EXPECTED}` });
    }
  } else {
    const at = destination.lastIndexOf('@');
    if (at >= 0) {
      user ??= destination.slice(0, at);
      host = destination.slice(at + 1);
    }
  }
  const hostIssue = hostProblem(host);
  if (hostIssue) problems.push({ where: 'destination', value: host, expected: hostIssue });
  host = unbracket(host);
  if (user !== undefined) {
    const userIssue = userProblem(user);
    if (userIssue) problems.push({ where: 'user', value: user, expected: userIssue });
  }
  if (!forwardGiven) problems.push({ where: 'command line', expected: 'no forward given: add -L [bind:]port:host:port, -R [bind:]port:host:port or -D [bind:]port' });
  if (identity !== undefined) {
    const info = facts.fileInfo(identity);
    if (!info?.isFile || !info.readable) problems.push({ where: '-i', value: identity, expected: 'no readable private key file there' });
  }
  const check = checkExtraArgs(extra, COMMAND_LINE_SETTING_NAMES);
  for (const e of check.errors) problems.push({ where: 'command line', value: extra.join(' '), expected: e });
  // Host keys follow the user's own ssh configuration here, so only the other controlled options warn.
  warnings.push(...check.warnings.filter((w) => !/StrictHostKeyChecking|UserKnownHostsFile/i.test(w)));
  // Command-line mistakes are usage errors (64), as for any command.
  if (problems.length) throw new UsageError(new ConfigError(problems).message);

  const spec: TunnelSpec = {
    name,
    server: {
      user: user ?? facts.defaultUser,
      host,
      port: port ?? 22,
      hostKey: { mode: 'ssh-config' },
      ...(identity ? { identity: { file: identity, explicit: true } } : {}),
      ...(jump.length ? { jump } : {}),
      // Without -p/-l, ssh's own config (Host blocks) decides, as it would for plain ssh.
      implicit: { port: port === undefined, user: user === undefined },
    },
    forwards: [...forwards, ...(additions.forwards ?? [])],
    keepalive: defaultKeepalive(),
    connectTimeoutSec: DEFAULT_CONNECT_TIMEOUT_SEC,
    ssh: sshSpec(extra, check, jump),
    backoff: { ...DEFAULT_BACKOFF, ...(additions.stableAfterMs !== undefined ? { stableAfterMs: additions.stableAfterMs } : {}) },
    ...(additions.monitor ? { monitor: additions.monitor } : {}),
    settingNames: COMMAND_LINE_SETTING_NAMES,
  };
  return { spec, warnings };
}
