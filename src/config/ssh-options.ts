/**
 * Checks extra ssh arguments (SSH_OPTIONS, options:) against ssh's own option grammar, so that a
 * word that ssh would take as the destination or a remote command, or an option that would
 * break supervision, is refused at start instead of failing in a restart loop. Refusals name
 * the setting to use instead the way the user's config source names it.
 */
import type { SettingNames, SshSpec } from './spec.js';
import { scanSshOptions, splitKeyword } from './ssh-option-grammar.js';
import { jumpListProblems } from './field-checks.js';

/** Options that stop ssh being a supervisable, foreground tunnel, with the reason. */
function refusedOptions(names: SettingNames): Record<string, string> {
  return {
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
    p: `set the port with ${names.port} instead`,
    l: `set the user with ${names.user} instead`,
  };
}

/** `-o` keywords autotunnel sets itself; ssh keeps the first value given, which is ours. */
function controlledKeywords(names: SettingNames): Record<string, string> {
  return {
    batchmode: 'autotunnel runs ssh without a terminal and sets BatchMode=yes',
    exitonforwardfailure: 'a tunnel whose forward failed must exit so it can be retried',
    stricthostkeychecking: `host keys are always verified: mount a known_hosts file${names.hostKey ? `, set ${names.hostKey}` : ''}, or let autotunnel trust the key on first use`,
    userknownhostsfile: names.knownHosts ? `set ${names.knownHosts} instead` : 'autotunnel chooses the known_hosts file',
    controlmaster: 'autotunnel needs one connection per tunnel it supervises',
    controlpath: 'autotunnel needs one connection per tunnel it supervises',
    loglevel: 'autotunnel reads ssh\'s verbose messages to tell when the tunnel is up',
    sessiontype: 'a tunnel runs no remote command (-N)',
  };
}

/** `-o` keywords that cannot work under supervision at all. */
function refusedKeywords(names: SettingNames): Record<string, string> {
  return {
    // ssh keeps the first value, so these would silently beat the dedicated settings.
    port: `set the port with ${names.port}`,
    user: `set the user with ${names.user}`,
    hostname: `set the host with ${names.host}`,
    forkafterauthentication: 'it sends ssh to the background, where autotunnel can no longer supervise it',
    remotecommand: 'a tunnel runs no remote command (-N)',
    stdinnull: 'autotunnel already runs ssh with no input',
    permitlocalcommand: 'a tunnel must not run local commands',
    localcommand: 'a tunnel must not run local commands',
  };
}

export interface ExtraArgsCheck {
  errors: string[];
  warnings: string[];
  /** Whether the extra arguments add remote forwards (readiness then waits for all replies). */
  addsRemoteForward: boolean;
  /** Whether ssh goes through a jump host or proxy command (-J, ProxyJump, ProxyCommand). */
  proxied: boolean;
  /** Keywords given with -o, lower-cased, so explicit settings can be told apart from ours. */
  keywords: Set<string>;
}

export function checkExtraArgs(args: string[], names: SettingNames): ExtraArgsCheck {
  const out: ExtraArgsCheck = { errors: [], warnings: [], addsRemoteForward: false, proxied: false, keywords: new Set() };
  const refused = refusedOptions(names);
  const refuse = (letter: string) => {
    if (Object.hasOwn(refused, letter)) out.errors.push(`option -${letter} is not allowed: ${refused[letter]}`);
  };
  scanSshOptions(args, {
    operand: (word) => {
      out.errors.push(
        `"${word}" is not an ssh option; ssh would take it as the destination or a remote command (options start with "-", e.g. -o StreamLocalBindUnlink=yes)`,
      );
    },
    flag: (letter, known) => {
      refuse(letter);
      if (known) return true;
      out.errors.push(`-${letter} is not an ssh option (see "man ssh")`);
      return false;
    },
    option: (letter, value) => {
      refuse(letter);
      if (value === undefined) {
        out.errors.push(`option -${letter} needs a value after it`);
        return;
      }
      if (letter === 'R') out.addsRemoteForward = true;
      if (letter === 'J') {
        out.proxied = true;
        out.errors.push(...jumpListProblems(value, false));
      }
      if (letter === 'o') checkKeyword(value, names, out);
    },
  });
  return out;
}

function checkKeyword(setting: string, names: SettingNames, out: ExtraArgsCheck): void {
  const parsed = splitKeyword(setting);
  if (!parsed) {
    out.errors.push(`-o "${setting}" is not of the form Keyword=value`);
    return;
  }
  const keyword = parsed.keyword.toLowerCase();
  out.keywords.add(keyword);
  if (keyword === 'remoteforward') out.addsRemoteForward = true;
  if (keyword === 'proxyjump' || keyword === 'proxycommand') out.proxied = true;
  if (keyword === 'proxyjump') out.errors.push(...jumpListProblems(parsed.value.replace(/^"(.*)"$/, '$1'), true));
  const refused = refusedKeywords(names);
  const controlled = controlledKeywords(names);
  if (Object.hasOwn(refused, keyword)) {
    out.errors.push(`-o ${parsed.keyword} is not allowed: ${refused[keyword]}`);
  } else if (Object.hasOwn(controlled, keyword)) {
    out.warnings.push(`-o ${parsed.keyword}=${parsed.value} is ignored: ${controlled[keyword]}`);
  }
}

/** The spec's ssh part: the checked words and what they change (`jump`: the server's own jump hosts). */
export function sshSpec(extraArgs: string[], check: ExtraArgsCheck, jump: string[] = []): SshSpec {
  return { extraArgs, addsRemoteForwards: check.addsRemoteForward, proxied: jump.length > 0 || check.proxied };
}
