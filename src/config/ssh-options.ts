/**
 * Checks extra ssh arguments (SSH_OPTIONS) against ssh's own option grammar, so that a word
 * that ssh would take as the destination or a remote command, or an option that would break
 * supervision, is refused at start instead of failing in a restart loop.
 */

import { jumpListProblems } from './field-checks.js';

/** ssh(1) options that take an argument (OpenSSH 9.x getopt string). */
const WITH_ARGUMENT = new Set('bceilmopBDEFIJLOPQRSwW'.split(''));
/** ssh(1) options that are plain flags. */
const FLAGS = new Set('1246afgknqstvxACGKMNTVXYy'.split(''));

/** Options that stop ssh being a supervisable, foreground tunnel, with the reason. */
const REFUSED: Record<string, string> = {
  f: 'it sends ssh to the background, where autotunnel can no longer supervise it',
  G: 'it only prints the configuration and exits',
  V: 'it only prints the version and exits',
  O: 'it controls a multiplexing master instead of opening a tunnel',
  Q: 'it only queries supported algorithms and exits',
  W: 'it forwards standard input/output, which cannot be combined with a tunnel',
  M: 'it makes ssh a multiplexing master; autotunnel needs one connection per tunnel it supervises',
  S: 'it enables connection sharing; autotunnel needs one connection per tunnel it supervises',
  E: 'it moves ssh\'s messages to a file, but autotunnel reads them from stderr to tell when the tunnel is up and why it failed',
  q: 'it silences the messages autotunnel reads to tell when the tunnel is up and why it failed',
  s: 'it requests a subsystem; a tunnel runs no remote command',
  y: 'it sends ssh\'s messages to syslog, but autotunnel reads them from stderr to tell when the tunnel is up and why it failed',
  '1': 'it asks for SSH protocol 1, which OpenSSH no longer speaks: ssh would exit at once, every time',
  p: 'set the port with SSH_REMOTE_PORT instead',
  l: 'set the user with SSH_REMOTE_USER instead',
};

/** `-o` keywords autotunnel sets itself; ssh keeps the first value given, which is ours. */
const CONTROLLED_KEYWORDS: Record<string, string> = {
  batchmode: 'autotunnel runs ssh without a terminal and sets BatchMode=yes',
  exitonforwardfailure: 'a tunnel whose forward failed must exit so it can be retried',
  stricthostkeychecking:
    'host keys are always verified: mount a known_hosts file, set SSH_HOST_KEY, or let autotunnel trust the key on first use',
  userknownhostsfile: 'set SSH_KNOWN_HOSTS_FILE instead',
  controlmaster: 'autotunnel needs one connection per tunnel it supervises',
  controlpath: 'autotunnel needs one connection per tunnel it supervises',
  loglevel: 'autotunnel reads ssh\'s verbose messages to tell when the tunnel is up',
  sessiontype: 'a tunnel runs no remote command (-N)',
};

/** `-o` keywords that cannot work under supervision at all. */
const REFUSED_KEYWORDS: Record<string, string> = {
  // ssh keeps the first value, so these would silently beat the dedicated settings.
  port: 'set the port with SSH_REMOTE_PORT (or port: in a config file, -p on a command line)',
  user: 'set the user with SSH_REMOTE_USER (or user: in a config file, -l on a command line)',
  hostname: 'set the host with SSH_REMOTE_HOST (or host: in a config file)',
  forkafterauthentication: 'it sends ssh to the background, where autotunnel can no longer supervise it',
  remotecommand: 'a tunnel runs no remote command (-N)',
  stdinnull: 'autotunnel already runs ssh with no input',
  permitlocalcommand: 'a tunnel must not run local commands',
  localcommand: 'a tunnel must not run local commands',
};

export interface ExtraArgsCheck {
  errors: string[];
  warnings: string[];
  /** Whether the extra arguments add remote forwards (readiness then waits for all replies). */
  addsRemoteForward: boolean;
  /** Keywords given with -o, lower-cased, so explicit settings can be told apart from ours. */
  keywords: Set<string>;
}

export function checkExtraArgs(args: string[]): ExtraArgsCheck {
  const out: ExtraArgsCheck = { errors: [], warnings: [], addsRemoteForward: false, keywords: new Set() };
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--' || !word.startsWith('-') || word === '-') {
      out.errors.push(
        `"${word}" is not an ssh option; ssh would take it as the destination or a remote command (options start with "-", e.g. -o StreamLocalBindUnlink=yes)`,
      );
      continue;
    }
    // A cluster such as -vT or -oKey=value: flags first, then at most one option with its argument.
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      if (REFUSED[letter]) {
        out.errors.push(`option -${letter} is not allowed: ${REFUSED[letter]}`);
      }
      if (WITH_ARGUMENT.has(letter)) {
        let value = word.slice(j + 1);
        if (value === '') {
          if (i + 1 >= args.length) {
            out.errors.push(`option -${letter} needs a value after it`);
            break;
          }
          value = args[++i]!;
        }
        if (letter === 'R') out.addsRemoteForward = true;
        if (letter === 'J') out.errors.push(...jumpListProblems(value, false));
        if (letter === 'o') checkKeyword(value, out);
        break;
      }
      if (!FLAGS.has(letter)) {
        out.errors.push(`-${letter} is not an ssh option (see "man ssh")`);
        break;
      }
    }
  }
  return out;
}

function checkKeyword(setting: string, out: ExtraArgsCheck): void {
  // Keywords may contain digits (ForwardX11, PKCS11Provider).
  const match = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=|\s)\s*(.*)$/.exec(setting);
  if (!match) {
    out.errors.push(`-o "${setting}" is not of the form Keyword=value`);
    return;
  }
  const keyword = match[1]!.toLowerCase();
  out.keywords.add(keyword);
  if (keyword === 'remoteforward') out.addsRemoteForward = true;
  if (keyword === 'proxyjump') out.errors.push(...jumpListProblems(match[2]!.replace(/^"(.*)"$/, '$1'), true));
  if (Object.hasOwn(REFUSED_KEYWORDS, keyword)) {
    out.errors.push(`-o ${match[1]} is not allowed: ${REFUSED_KEYWORDS[keyword]}`);
  } else if (Object.hasOwn(CONTROLLED_KEYWORDS, keyword)) {
    out.warnings.push(`-o ${match[1]}=${match[2]} is ignored: ${CONTROLLED_KEYWORDS[keyword]}`);
  }
}
