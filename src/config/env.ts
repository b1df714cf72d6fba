/**
 * Reads the jnovack/autossh image's SSH_* variables into one validated TunnelSpec.
 * Pure: file-system facts, container detection and randomness are passed in, so every variable
 * and every bad value is unit-tested without touching the machine.
 */
import {
  DEFAULT_BACKOFF,
  DEFAULT_CONNECT_TIMEOUT_SEC,
  TUNNEL_NAME,
  defaultKeepalive,
  type Forward,
  type ForwardKind,
  type HostKeyPolicy,
  type Identity,
  type SettingNames,
  type TunnelSpec,
} from './spec.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { unusableFile, type FileInfo } from './files.js';
import { pinnedKnownHostsLines } from './host-keys.js';
import { splitShellWords, ShellWordsError } from './shell-words.js';
import { checkExtraArgs, sshSpec } from './ssh-options.js';
import { PORT_EXPECTED, bindAddressProblem, hostProblem, parseBoolean, parsePort, parseWholeNumber, userProblem } from './validate.js';
import { isLoopback, unbracket } from '../net/address.js';
import { MAX_CONNECT_TIMEOUT_SEC, MAX_KEEPALIVE_COUNT, MAX_KEEPALIVE_INTERVAL_SEC, durationProblem } from './field-checks.js';
import { envServerAuth } from './secrets.js';

export const DEFAULT_KEY_FILE = '/id_rsa';
export const DEFAULT_KNOWN_HOSTS_FILE = '/known_hosts';
/** jnovack documents the random tunnel port as "> 32768". */
export const RANDOM_PORT_MIN = 32769;
export const RANDOM_PORT_MAX = 65535;
export const DEFAULT_TUNNEL_NAME = 'tunnel';

export type Env = Record<string, string | undefined>;

/** The SSH_* variables, as fix texts and option refusals name them. */
export const ENV_SETTING_NAMES: SettingNames = {
  host: 'SSH_REMOTE_HOST',
  port: 'SSH_REMOTE_PORT',
  user: 'SSH_REMOTE_USER',
  key: 'SSH_KEY_FILE',
  localPort: 'SSH_TUNNEL_PORT',
  hostKey: 'SSH_HOST_KEY',
  knownHosts: 'SSH_KNOWN_HOSTS_FILE',
};

/** What the parser may know of the world, injected. */
export interface EnvFacts {
  /** undefined when nothing exists at the path. */
  fileInfo(path: string): FileInfo | undefined;
  inContainer: boolean;
  /** [0, 1), for the random tunnel port. */
  random(): number;
  /** Who we run as, for messages about unreadable files. */
  uid?: number;
  /** Reads a secret file (SSH_KEY_PASSPHRASE_FILE, SSH_PASSWORD_FILE); absent → none can be read. */
  readText?(path: string): string;
}

export interface EnvConfig {
  spec: TunnelSpec;
  /** Things that work but are probably not what the user meant. */
  warnings: string[];
  /** Facts worth a line in the log at start (chosen port, fallbacks taken). */
  notices: string[];
}

const MODES: Record<string, ForwardKind> = {
  '-R': 'remote', R: 'remote',
  '-L': 'local', L: 'local',
  '-D': 'dynamic', D: 'dynamic',
};

export function parseEnv(env: Env, facts: EnvFacts): EnvConfig {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const notices: string[] = [];
  // Compose files often carry `VAR=` lines: an empty value means "unset", as in jnovack's script.
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const bad = (where: string, value: string | undefined, expected: string) => problems.push({ where, value, expected });

  const port = (name: string, fallback: number, allowZero = false): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const p = parsePort(raw, allowZero);
    if (p === undefined) {
      bad(name, raw, raw === '0' && !allowZero ? `${PORT_EXPECTED} (0 is only allowed for SSH_TUNNEL_PORT in -R mode, where the server picks the port)` : PORT_EXPECTED);
      return fallback;
    }
    return p;
  };
  const host = (name: string, fallback: string): string => {
    const raw = get(name) ?? fallback;
    const problem = hostProblem(raw);
    if (problem) bad(name, raw, problem);
    return unbracket(raw);
  };

  // Mode first: it decides what the other variables mean.
  const rawMode = get('SSH_MODE');
  let kind: ForwardKind = 'remote';
  if (rawMode !== undefined) {
    // Own keys only: "constructor" or "toString" must not pass as a mode via Object.prototype.
    const lookup = (m: string) => (Object.hasOwn(MODES, m) ? MODES[m] : undefined);
    const k = lookup(rawMode) ?? lookup(rawMode.toUpperCase());
    if (k) kind = k;
    else bad('SSH_MODE', rawMode, 'expected -R (remote forward, the default), -L (local forward) or -D (SOCKS proxy); R, L and D are accepted too');
  }

  const user = get('SSH_REMOTE_USER') ?? 'root';
  const userIssue = userProblem(user);
  if (userIssue) bad('SSH_REMOTE_USER', user, userIssue);
  const remoteHost = host('SSH_REMOTE_HOST', 'localhost');
  const remotePort = port('SSH_REMOTE_PORT', 22);

  // Tunnel port: jnovack picks a random one when unset; we do too, and say which.
  let tunnelPort: number;
  const rawTunnelPort = get('SSH_TUNNEL_PORT');
  if (rawTunnelPort === undefined) {
    tunnelPort = RANDOM_PORT_MIN + Math.floor(facts.random() * (RANDOM_PORT_MAX - RANDOM_PORT_MIN + 1));
    notices.push(`SSH_TUNNEL_PORT is not set: using random port ${tunnelPort}`);
  } else {
    tunnelPort = port('SSH_TUNNEL_PORT', 0, kind === 'remote');
  }

  const rawBind = get('SSH_BIND_IP');
  const bindAddress = rawBind ?? '127.0.0.1';
  if (rawBind !== undefined) {
    const problem = bindAddressProblem(rawBind);
    if (problem) bad('SSH_BIND_IP', rawBind, problem);
  }

  const forward: Forward = { kind, bindAddress, bindPort: tunnelPort };
  if (kind === 'dynamic') {
    for (const name of ['SSH_TARGET_HOST', 'SSH_TARGET_PORT']) {
      if (get(name) !== undefined) warnings.push(`${name} is ignored in -D mode: a SOCKS proxy's clients choose their own targets`);
    }
  } else {
    forward.targetHost = host('SSH_TARGET_HOST', 'localhost');
    forward.targetPort = port('SSH_TARGET_PORT', 22);
  }

  if (kind === 'remote' && rawBind !== undefined && !isLoopback(rawBind)) {
    warnings.push(
      `SSH_BIND_IP=${rawBind} in -R mode asks the server to listen on ${rawBind}, but sshd only binds beyond loopback when its GatewayPorts is "yes" or "clientspecified"; with the default ("no") the port stays on the server's 127.0.0.1`,
    );
  }
  // Only for the default: SSH_BIND_IP=127.0.0.1 set explicitly is a choice, not an oversight.
  if (kind !== 'remote' && facts.inContainer && rawBind === undefined) {
    warnings.push(
      `in a container, a ${kind === 'local' ? '-L' : '-D'} port bound to ${bindAddress} is reachable only from inside this container (unless it runs on the host's network); set SSH_BIND_IP=0.0.0.0 so other containers (or published ports) can reach it`,
    );
  }

  // Host keys: a known_hosts file → strict; a pinned key → strict; neither → trust on first use.
  let checkHostIp = true;
  const rawIpCheck = get('SSH_STRICT_HOST_IP_CHECK');
  if (rawIpCheck !== undefined) {
    const b = parseBoolean(rawIpCheck);
    if (b === undefined) bad('SSH_STRICT_HOST_IP_CHECK', rawIpCheck, 'expected true or false (it only controls CheckHostIP; host keys are always verified)');
    else checkHostIp = b;
  }
  const hostKey = hostKeyPolicy(get, facts, { host: remoteHost, port: remotePort, checkHostIp }, bad, notices);

  // Key: explicit and missing is an error; the default /id_rsa missing falls back to ssh's own.
  let identity: Identity | undefined;
  const rawKey = get('SSH_KEY_FILE');
  const keyFile = rawKey ?? DEFAULT_KEY_FILE;
  const keyInfo = facts.fileInfo(keyFile);
  if (keyInfo?.isFile && keyInfo.readable) {
    identity = { file: keyFile, explicit: rawKey !== undefined };
  } else if (rawKey !== undefined) {
    bad('SSH_KEY_FILE', rawKey, keyInfo === undefined
      ? 'no file there; mount the private key at that path (e.g. a Docker secret at /run/secrets/NAME) or unset SSH_KEY_FILE to use /id_rsa'
      : unusableFile(keyInfo, 'private key', facts.uid));
  } else if (keyInfo !== undefined) {
    bad('SSH_KEY_FILE', undefined, `the default key ${DEFAULT_KEY_FILE} is there but unusable: ${unusableFile(keyInfo, 'private key', facts.uid)}; or set SSH_KEY_FILE`);
  } else {
    notices.push(`no key at ${DEFAULT_KEY_FILE} and SSH_KEY_FILE is not set: ssh will use its default identities (~/.ssh/id_*) and any ssh-agent`);
  }

  const { auth, names: secretNames } = envServerAuth(env, facts.readText ?? noFiles, identity !== undefined, bad, warnings);

  const keepalive = defaultKeepalive();
  const rawInterval = get('SSH_SERVER_ALIVE_INTERVAL');
  if (rawInterval !== undefined) {
    const n = parseWholeNumber(rawInterval);
    if (n === undefined) bad('SSH_SERVER_ALIVE_INTERVAL', rawInterval, 'expected whole seconds (0 turns keepalives off)');
    else if (n > MAX_KEEPALIVE_INTERVAL_SEC) bad('SSH_SERVER_ALIVE_INTERVAL', rawInterval, durationProblem(n, MAX_KEEPALIVE_INTERVAL_SEC)!);
    else {
      keepalive.intervalSec = n;
      keepalive.explicit.interval = true;
      if (n === 0) warnings.push('SSH_SERVER_ALIVE_INTERVAL=0 turns keepalives off: a silently dead link is then only noticed by TCP, which can take many minutes');
    }
  }
  const rawCount = get('SSH_SERVER_ALIVE_COUNT_MAX');
  if (rawCount !== undefined) {
    const n = parseWholeNumber(rawCount);
    if (n === undefined) bad('SSH_SERVER_ALIVE_COUNT_MAX', rawCount, 'expected a whole number of unanswered keepalives (default 3)');
    else if (n > MAX_KEEPALIVE_COUNT) bad('SSH_SERVER_ALIVE_COUNT_MAX', rawCount, `expected at most ${MAX_KEEPALIVE_COUNT} unanswered keepalives`);
    else {
      keepalive.countMax = n;
      keepalive.explicit.countMax = true;
      // OpenSSH exits at the first keepalive check when the count is 0 ("Timeout, server not responding").
      if (n === 0) warnings.push('SSH_SERVER_ALIVE_COUNT_MAX=0 makes ssh give up after a single keepalive interval without traffic, even on a healthy idle link, so the tunnel keeps reconnecting; use 1 or more');
    }
  }

  let connectTimeoutSec = DEFAULT_CONNECT_TIMEOUT_SEC;
  const rawTimeout = get('SSH_CONNECT_TIMEOUT');
  if (rawTimeout !== undefined) {
    const n = parseWholeNumber(rawTimeout);
    if (n === undefined || n < 1) bad('SSH_CONNECT_TIMEOUT', rawTimeout, 'expected whole seconds, at least 1');
    else if (n > MAX_CONNECT_TIMEOUT_SEC) bad('SSH_CONNECT_TIMEOUT', rawTimeout, durationProblem(n, MAX_CONNECT_TIMEOUT_SEC)!);
    else connectTimeoutSec = n;
  }

  let extraArgs: string[] = [];
  const rawOptions = get('SSH_OPTIONS');
  if (rawOptions !== undefined) {
    try {
      extraArgs = splitShellWords(rawOptions);
    } catch (e) {
      if (!(e instanceof ShellWordsError)) throw e;
      bad('SSH_OPTIONS', rawOptions, `${e.message}; quote as in a shell, e.g. -o "ProxyCommand=nc -x proxy:1080 %h %p"`);
    }
  }
  const check = checkExtraArgs(extraArgs, ENV_SETTING_NAMES);
  for (const e of check.errors) bad('SSH_OPTIONS', rawOptions, e);
  warnings.push(...check.warnings.map((w) => `SSH_OPTIONS: ${w}`));

  const name = get('AUTOTUNNEL_NAME') ?? DEFAULT_TUNNEL_NAME;
  if (!TUNNEL_NAME.test(name)) {
    bad('AUTOTUNNEL_NAME', name, 'expected a short name of letters, digits, ".", "_" and "-"');
  }

  if (problems.length > 0) throw new ConfigError(problems);

  const spec: TunnelSpec = {
    name,
    server: { user, host: remoteHost, port: remotePort, hostKey, ...(identity ? { identity } : {}), ...(auth ? { auth } : {}) },
    forwards: [forward],
    keepalive,
    connectTimeoutSec,
    ssh: sshSpec(extraArgs, check),
    backoff: { ...DEFAULT_BACKOFF },
    settingNames: { ...ENV_SETTING_NAMES, ...secretNames },
  };
  return { spec, warnings, notices };
}

function noFiles(): string {
  throw Object.assign(new Error('no file reader given'), { code: 'ENOENT' });
}

function hostKeyPolicy(
  get: (name: string) => string | undefined,
  facts: EnvFacts,
  server: { host: string; port: number; checkHostIp: boolean },
  bad: (where: string, value: string | undefined, expected: string) => void,
  notices: string[],
): HostKeyPolicy {
  const pinned = get('SSH_HOST_KEY');
  if (pinned !== undefined) {
    const lines = pinnedKnownHostsLines(pinned, server.host, server.port);
    if (typeof lines === 'string') {
      bad('SSH_HOST_KEY', pinned, lines);
      return { mode: 'trust-on-first-use', checkHostIp: server.checkHostIp };
    }
    return { mode: 'pinned', knownHostsLines: lines, checkHostIp: server.checkHostIp };
  }
  const rawFile = get('SSH_KNOWN_HOSTS_FILE');
  const file = rawFile ?? DEFAULT_KNOWN_HOSTS_FILE;
  const info = facts.fileInfo(file);
  if (info?.isFile && info.readable) return { mode: 'known-hosts', file, checkHostIp: server.checkHostIp };
  if (rawFile !== undefined) {
    bad('SSH_KNOWN_HOSTS_FILE', rawFile, info === undefined
      ? 'no file there; mount your known_hosts file at that path, or unset the variable to trust the host key on first use'
      : unusableFile(info, 'known_hosts file', facts.uid));
  } else if (info !== undefined) {
    bad('SSH_KNOWN_HOSTS_FILE', undefined, `${DEFAULT_KNOWN_HOSTS_FILE} is there but unusable: ${unusableFile(info, 'known_hosts file', facts.uid)}; or set SSH_KNOWN_HOSTS_FILE`);
  } else {
    notices.push(`no known_hosts file at ${DEFAULT_KNOWN_HOSTS_FILE}: the server's host key will be trusted on first use, remembered, and a changed key refused`);
  }
  return { mode: 'trust-on-first-use', checkHostIp: server.checkHostIp };
}
