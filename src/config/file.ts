/**
 * Reads a YAML tunnels file into TunnelSpecs. Every problem carries file:line:column, the field,
 * the value and the fix; unknown keys are errors (so a typo is caught, not ignored), and so are
 * duplicate names and two tunnels claiming the same local port.
 */
import { isSeq, type Node } from 'yaml';
import {
  DEFAULT_BACKOFF,
  DEFAULT_CONNECT_TIMEOUT_SEC,
  TUNNEL_NAME,
  defaultKeepalive,
  type BackoffSpec,
  type Forward,
  type ForwardKind,
  type HostKeyPolicy,
  type KeepaliveSpec,
  type SettingNames,
  type SshSpec,
  type TunnelSpec,
} from './spec.js';
import { ConfigError, formatProblem } from './errors.js';
import { unusableFile, type FileInfo } from './files.js';
import { makeForward, parseEndpoint } from './forward.js';
import { pinnedKnownHostsLines } from './host-keys.js';
import { checkExtraArgs, sshSpec } from './ssh-options.js';
import { PORT_EXPECTED, hostProblem, userProblem } from './validate.js';
import { checkConflicts, type Origin } from './conflicts.js';
import { raw, readYaml, type YamlReader } from './yaml-reader.js';
import { readCheck, readControl, readNotify } from './file-operate.js';
import type { NotifyReceiver } from './notify-settings.js';
import { unbracket } from '../net/address.js';
import { MAX_BACKOFF_SEC, jumpListProblems, nulProblem } from './field-checks.js';
import { fileServerAuth } from './secrets.js';

/** How many ssh handshakes may run at once against one server (sshd's MaxStartups starts dropping at 10). */
export const DEFAULT_MAX_HANDSHAKES = 8;

export interface FileFacts {
  fileInfo(path: string): FileInfo | undefined;
  /** Who we run as, for messages about unreadable files. */
  uid?: number;
  readText(path: string): string;
  env: Record<string, string | undefined>;
}

export interface FileConfig {
  tunnels: TunnelSpec[];
  maxHandshakes: number;
  warnings: string[];
  /** `notify:` receivers. */
  notify: NotifyReceiver[];
  /** `control.token_file`, not yet read. */
  control?: { file: string; origin: string };
}

const TOP_KEYS = ['defaults', 'tunnels', 'max_handshakes', 'notify', 'control'];
const DEFAULT_KEYS = ['server', 'keepalive', 'backoff', 'connect_timeout'];
const TUNNEL_KEYS = ['name', 'server', 'forwards', 'keepalive', 'backoff', 'connect_timeout', 'required', 'enabled', 'check', 'ready_requires_target'];
const SERVER_KEYS = ['host', 'port', 'user', 'user_file', 'key_file', 'key_passphrase_file', 'password_file', 'known_hosts_file', 'host_key', 'host_key_file', 'check_host_ip', 'jump', 'options'];
const FORWARD_KEYS = ['local', 'remote', 'dynamic', 'to'];
const KEEPALIVE_KEYS = ['interval', 'count_max'];
const BACKOFF_KEYS = ['initial', 'max', 'stable_after'];
/** Server keys of which one block may give only one; a tunnel giving one overrides the defaults' others. */
const EXCLUSIVE_SERVER_KEYS = [['user', 'user_file'], ['host_key', 'host_key_file', 'known_hosts_file']];

/**
 * Values of one server block before defaults are applied; each remembers its node and path for
 * errors, and the setting's name as the user wrote it (defaults.server.host, tunnels[2].server.host).
 */
type ServerFields = Partial<Record<(typeof SERVER_KEYS)[number], { node: Node; path: string; name: string }>>;


type Defaults = { server: ServerFields; keepalive?: Node | null; backoff?: Node | null; connectTimeout?: Node | null };

/** The file's own facts: file.ts reads through these, so it is tested without a disk. */

export function parseConfigFile(file: string, text: string, facts: FileFacts): FileConfig {
  const { reader: r, root } = readYaml(file, text, facts.env);
  if (r.problems.length) throw new ConfigError(r.problems);
  if (root === null) throw new ConfigError([{ where: file, expected: 'the file is empty; expected a "tunnels:" list (see the README for an example)' }]);

  const top = r.map(root, '(top level)', TOP_KEYS);
  let maxHandshakes = DEFAULT_MAX_HANDSHAKES;
  const defaults: Defaults = { server: {} };
  const tunnels: Array<{ spec: TunnelSpec; origin: Origin }> = [];
  let notify: NotifyReceiver[] = [];
  let control: FileConfig['control'];
  if (top) {
    const n = top.get('notify');
    if (n) notify = readNotify(r, n.value, facts.readText);
    const c = top.get('control');
    if (c) control = readControl(r, c.value);
    const mh = top.get('max_handshakes');
    if (mh) maxHandshakes = r.int(mh.value, 'max_handshakes', 1, 1000, 'expected a whole number from 1 to 1000 (handshakes at once per server)') ?? maxHandshakes;
    const d = top.get('defaults');
    if (d) {
      const dm = r.map(d.value, 'defaults', DEFAULT_KEYS);
      if (dm?.get('server')) defaults.server = serverFields(r, dm.get('server')!.value, 'defaults.server', 'defaults.server');
      defaults.keepalive = dm?.get('keepalive')?.value;
      defaults.backoff = dm?.get('backoff')?.value;
      defaults.connectTimeout = dm?.get('connect_timeout')?.value;
    }
    const t = top.get('tunnels');
    if (!t) r.fail(root, 'tunnels', undefined, 'missing: expected a "tunnels:" list with at least one tunnel');
    else if (!isSeq(t.value) || t.value.items.length === 0) r.fail(t.value ?? t.key, 'tunnels', raw(t.value), 'expected a list with at least one tunnel (each item begins with "- name: …")');
    else {
      t.value.items.forEach((item, i) => {
        const tunnel = readTunnel(r, facts, item as Node, `tunnels[${i}]`, defaults);
        if (tunnel) tunnels.push(tunnel);
      });
    }
  }
  if (r.problems.length === 0) checkConflicts(r, tunnels);
  // A problem in defaults is found once per tunnel inheriting it: report it once.
  if (r.problems.length) throw new ConfigError([...new Map(r.problems.map((p) => [formatProblem(p), p])).values()]);
  return { tunnels: tunnels.map((t) => t.spec), maxHandshakes, warnings: [...new Set(r.warnings)], notify, ...(control ? { control } : {}) };
}

/** `path` names the block in problems ("tunnels[2] (db).server"), `name` in fix texts ("tunnels[2].server"). */
function serverFields(r: YamlReader, node: Node | null, path: string, name: string): ServerFields {
  const m = r.map(node, path, SERVER_KEYS);
  const out: ServerFields = {};
  for (const [k, v] of m ?? []) if (v.value !== null) out[k] = { node: v.value, path: `${path}.${k}`, name: `${name}.${k}` };
  return out;
}

function readTunnel(r: YamlReader, facts: FileFacts, node: Node, path: string, defaults: Defaults): { spec: TunnelSpec; origin: Origin } | undefined {
  const m = r.map(node, path, TUNNEL_KEYS);
  if (!m) return undefined;
  const before = r.problems.length;

  const nameEntry = m.get('name');
  const name = nameEntry ? r.string(nameEntry.value, `${path}.name`) : r.fail(node, `${path}.name`, undefined, 'missing: every tunnel needs a name (letters, digits, ".", "_", "-")');
  if (name !== undefined && !TUNNEL_NAME.test(name)) r.fail(nameEntry!.value, `${path}.name`, name, 'expected a short name of letters, digits, ".", "_" and "-" (at most 63)');
  const label = name ? `${path} (${name})` : path;

  const serverEntry = m.get('server');
  const own = serverEntry ? serverFields(r, serverEntry.value, `${label}.server`, `${path}.server`) : {};
  // A tunnel's own choice replaces the defaults' alternatives to it (user_file for user, one host-key source for another).
  const inherited: ServerFields = { ...defaults.server };
  for (const group of EXCLUSIVE_SERVER_KEYS) if (group.some((k) => own[k])) for (const k of group) delete inherited[k];
  const fields: ServerFields = { ...inherited, ...own };
  const server = readServer(r, facts, fields, serverEntry?.value ?? node, `${label}.server`, `${path}.server`);

  const forwardsEntry = m.get('forwards');
  const forwards: Forward[] = [];
  const forwardNodes: Node[] = [];
  const localNames: string[] = [];
  if (!forwardsEntry || !isSeq(forwardsEntry.value) || forwardsEntry.value.items.length === 0) {
    r.fail(forwardsEntry?.value ?? node, `${label}.forwards`, raw(forwardsEntry?.value), 'expected a list with at least one forward, e.g. "- local: 5432" with "to: db:5432"');
  } else {
    forwardsEntry.value.items.forEach((item, i) => {
      const f = readForward(r, item as Node, `${label}.forwards[${i}]`);
      if (f) {
        forwards.push(f);
        forwardNodes.push(item as Node);
        if (f.kind !== 'remote') localNames.push(`${path}.forwards[${i}].${f.kind}`);
      }
    });
  }

  // A value inherited from defaults is named as defaults' in errors (and so reported once, not per tunnel).
  const given = (key: string) => m.get(key)?.value ?? undefined;
  // A tunnel's keepalive/backoff fields override the defaults' one by one, as server fields do.
  const keepalive = readKeepalive(r, given('keepalive'), `${label}.keepalive`, readKeepalive(r, defaults.keepalive, 'defaults.keepalive'));
  const backoff = readBackoff(r, given('backoff'), `${label}.backoff`, readBackoff(r, defaults.backoff, 'defaults.backoff'));
  const timeoutNode = given('connect_timeout') ?? defaults.connectTimeout;
  const timeoutPath = given('connect_timeout') ? `${label}.connect_timeout` : 'defaults.connect_timeout';
  const connectTimeoutSec = timeoutNode ? r.int(timeoutNode, timeoutPath, 1, 3600, 'expected whole seconds from 1 to 3600') : DEFAULT_CONNECT_TIMEOUT_SEC;
  const requiredEntry = m.get('required');
  const required = requiredEntry ? r.bool(requiredEntry.value, `${label}.required`) : true;
  const enabledEntry = m.get('enabled');
  const enabled = enabledEntry ? r.bool(enabledEntry.value, `${label}.enabled`) : true;
  const checkEntry = m.get('check');
  const check = checkEntry ? readCheck(r, checkEntry.value, `${label}.check`, forwards) : undefined;
  const rrtEntry = m.get('ready_requires_target');
  const readyRequiresTarget = rrtEntry ? r.bool(rrtEntry.value, `${label}.ready_requires_target`) : false;

  if (r.problems.length > before || !server || name === undefined) return undefined;
  const settingNames: SettingNames = { ...serverSettingNames(fields, `${path}.server`), localPort: localNames.join(' or ') || `${path}.forwards` };
  const spec: TunnelSpec = {
    name,
    server: server.spec,
    forwards,
    keepalive: keepalive!,
    connectTimeoutSec: connectTimeoutSec!,
    ssh: server.ssh,
    backoff: backoff!,
    required: required!,
    settingNames,
    // Only when set: a spec without them stays equal to one read before these fields existed.
    ...(enabled === false ? { enabled: false } : {}),
    ...(check ? { check } : {}),
    ...(readyRequiresTarget ? { readyRequiresTarget: true } : {}),
  };
  return { spec, origin: { name: nameEntry!.value!, forwards: forwardNodes } };
}

/** Fix texts name each setting where it was written, or else where to write it (in `block`). */
function serverSettingNames(f: ServerFields, block: string): Omit<SettingNames, 'localPort'> {
  const setting = (key: string, or = key) => f[key]?.name ?? f[or]?.name ?? `${block}.${key}`;
  return {
    host: setting('host'),
    port: setting('port'),
    user: setting('user', 'user_file'),
    key: setting('key_file'),
    hostKey: setting('host_key', 'host_key_file'),
    knownHosts: setting('known_hosts_file'),
    ...(f.key_passphrase_file ? { keyPassphrase: setting('key_passphrase_file') } : {}),
    ...(f.password_file ? { password: setting('password_file') } : {}),
  };
}

function readServer(r: YamlReader, facts: FileFacts, f: ServerFields, node: Node, path: string, block: string): { spec: TunnelSpec['server']; ssh: SshSpec } | undefined {
  const str = (k: keyof ServerFields) => (f[k] ? r.string(f[k]!.node, f[k]!.path) : undefined);
  const secret = (k: string): string | undefined => {
    // `X_file`: the value is read from a file (Docker/Kubernetes secrets), trailing newline dropped.
    const entry = f[`${k}_file`];
    if (!entry) return undefined;
    const p = r.string(entry.node, entry.path);
    if (p === undefined) return undefined;
    try {
      const text = facts.readText(p).trim();
      const nul = nulProblem(text);
      return nul ? r.fail(entry.node, entry.path, p, `the file ${nul}`) : text;
    } catch (e) {
      return r.fail(entry.node, entry.path, p, `cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); mount the file there or fix the path`);
    }
  };

  const given = str('host');
  const host = given === undefined ? undefined : unbracket(given);
  if (host === undefined && !f.host) r.fail(node, `${path}.host`, undefined, 'missing: the SSH server to connect to (here or in defaults.server)');
  const hostIssue = given === undefined ? undefined : hostProblem(given);
  if (hostIssue) r.fail(f.host!.node, f.host!.path, given, hostIssue);
  const port = f.port ? r.int(f.port.node, f.port.path, 1, 65535, PORT_EXPECTED) : 22;
  if (f.user && f.user_file) r.fail(f.user_file.node, f.user_file.path, undefined, 'give either user or user_file, not both');
  const user = secret('user') ?? str('user') ?? 'root';
  const userIssue = userProblem(user);
  if (userIssue) r.fail((f.user ?? f.user_file)?.node ?? node, `${path}.user`, user, userIssue);

  let identity: TunnelSpec['server']['identity'];
  const keyFile = str('key_file');
  if (keyFile !== undefined) {
    const info = facts.fileInfo(keyFile);
    if (!info?.isFile || !info.readable) r.fail(f.key_file!.node, f.key_file!.path, keyFile, info === undefined ? 'no file there; mount the private key at that path' : unusableFile(info, 'private key', facts.uid));
    else identity = { file: keyFile, explicit: true };
  }

  const secretFile = (k: 'key_passphrase_file' | 'password_file') => {
    const value = str(k);
    return value === undefined ? undefined : { value, setting: f[k]!.path, fail: (why: string) => r.fail(f[k]!.node, f[k]!.path, value, why) };
  };
  const passphraseFile = secretFile('key_passphrase_file');
  const passwordFile = secretFile('password_file');
  const { auth } = fileServerAuth({ ...(passphraseFile ? { keyPassphraseFile: passphraseFile } : {}), ...(passwordFile ? { passwordFile } : {}) }, facts.readText, keyFile);

  const checkHostIp = f.check_host_ip ? r.bool(f.check_host_ip.node, f.check_host_ip.path) ?? true : true;
  let hostKey: HostKeyPolicy = { mode: 'trust-on-first-use', checkHostIp };
  const pinnedSources = ['host_key', 'host_key_file', 'known_hosts_file'].filter((k) => f[k]);
  if (pinnedSources.length > 1) r.fail(f[pinnedSources[1]!]!.node, f[pinnedSources[1]!]!.path, undefined, `give only one of ${pinnedSources.join(', ')}`);
  const pinned = secret('host_key') ?? str('host_key');
  if (pinned !== undefined && port !== undefined && host !== undefined) {
    const lines = pinnedKnownHostsLines(pinned, host, port);
    const where = (f.host_key ?? f.host_key_file)!;
    if (typeof lines === 'string') r.fail(where.node, where.path, pinned, lines);
    else hostKey = { mode: 'pinned', knownHostsLines: lines, checkHostIp };
  }
  const knownHosts = str('known_hosts_file');
  if (knownHosts !== undefined) {
    const info = facts.fileInfo(knownHosts);
    if (!info?.isFile || !info.readable) r.fail(f.known_hosts_file!.node, f.known_hosts_file!.path, knownHosts, 'no readable file there; mount your known_hosts file, or leave the key out to trust it on first use');
    else hostKey = { mode: 'known-hosts', file: knownHosts, checkHostIp };
  }

  const jump = f.jump ? r.strings(f.jump.node, f.jump.path, false) : undefined;
  for (const j of jump ?? []) for (const problem of jumpListProblems(j, false)) r.fail(f.jump!.node, f.jump!.path, j, problem);
  const extraArgs = f.options ? (r.strings(f.options.node, f.options.path, true) ?? []) : [];
  // Options from defaults are refused in defaults' words, so the problem is reported once.
  const names = serverSettingNames(f, f.options?.name.startsWith('defaults.') ? 'defaults.server' : block);
  const check = checkExtraArgs(extraArgs, { ...names, localPort: '' });
  if (f.options) {
    for (const e of check.errors) r.fail(f.options.node, f.options.path, extraArgs.join(' '), e);
    r.warnings.push(...check.warnings.map((w) => `${r.at(f.options!.node)} ${f.options!.path}: ${w}`));
  }
  if (port === undefined || host === undefined) return undefined;
  return {
    spec: { user, host, port, hostKey, ...(identity ? { identity } : {}), ...(auth ? { auth } : {}), ...(jump?.length ? { jump } : {}) },
    ssh: sshSpec(extraArgs, check, jump),
  };
}

function readForward(r: YamlReader, node: Node, path: string): Forward | undefined {
  const m = r.map(node, path, FORWARD_KEYS);
  if (!m) return undefined;
  const kinds = (['local', 'remote', 'dynamic'] as ForwardKind[]).filter((k) => m.has(k));
  if (kinds.length !== 1) {
    return r.fail(node, path, undefined, kinds.length === 0
      ? 'expected one of local: (listen here), remote: (listen on the server) or dynamic: (SOCKS proxy here)'
      : `give only one of ${kinds.join(', ')} per forward`);
  }
  const kind = kinds[0]!;
  const bindNode = m.get(kind)!.value;
  const bindText = r.string(bindNode, `${path}.${kind}`);
  const toEntry = m.get('to');
  if (kind === 'dynamic' && toEntry) return r.fail(toEntry.key, `${path}.to`, undefined, 'a SOCKS proxy (dynamic) has no fixed target: remove "to"');
  if (kind !== 'dynamic' && !toEntry) return r.fail(node, `${path}.to`, undefined, `missing: where connections go, e.g. to: ${kind === 'local' ? 'db.internal:5432' : 'localhost:80'}`);
  if (bindText === undefined) return undefined;
  const bind = parseEndpoint(bindText, 'bind', kind === 'remote');
  if (typeof bind === 'string') return r.fail(bindNode, `${path}.${kind}`, bindText, bind);
  let target;
  if (toEntry) {
    const toText = r.string(toEntry.value, `${path}.to`);
    if (toText === undefined) return undefined;
    target = parseEndpoint(toText, 'target', false);
    if (typeof target === 'string') return r.fail(toEntry.value, `${path}.to`, toText, target);
  }
  const f = makeForward(kind, bind, target);
  if (typeof f === 'string') return r.fail(bindNode, `${path}.${kind}`, bindText, f);
  return f;
}

function readKeepalive(r: YamlReader, node: Node | null | undefined, path: string, base?: KeepaliveSpec): KeepaliveSpec | undefined {
  const out: KeepaliveSpec = base ? { ...base, explicit: { ...base.explicit } } : defaultKeepalive();
  if (!node) return out;
  const m = r.map(node, path, KEEPALIVE_KEYS);
  const i = m?.get('interval');
  if (i) {
    const v = r.int(i.value, `${path}.interval`, 0, 86400, 'expected whole seconds (0 turns keepalives off)');
    if (v !== undefined) Object.assign(out, { intervalSec: v, explicit: { ...out.explicit, interval: true } });
  }
  const c = m?.get('count_max');
  if (c) {
    const v = r.int(c.value, `${path}.count_max`, 0, 1000, 'expected a whole number of unanswered keepalives');
    if (v !== undefined) Object.assign(out, { countMax: v, explicit: { ...out.explicit, countMax: true } });
  }
  return out;
}

function readBackoff(r: YamlReader, node: Node | null | undefined, path: string, base?: BackoffSpec): BackoffSpec | undefined {
  const out: BackoffSpec = { ...(base ?? DEFAULT_BACKOFF) };
  if (!node) return out;
  const m = r.map(node, path, BACKOFF_KEYS);
  const initial = m?.get('initial');
  if (initial) {
    const v = r.seconds(initial.value, `${path}.initial`, 0.01, MAX_BACKOFF_SEC);
    if (v !== undefined) out.initialMs = Math.round(v * 1000);
  }
  const max = m?.get('max');
  if (max) {
    const v = r.seconds(max.value, `${path}.max`, 0.01, MAX_BACKOFF_SEC);
    if (v !== undefined) out.maxMs = Math.round(v * 1000);
    if (v !== undefined && v * 1000 < out.initialMs) r.fail(max.value, `${path}.max`, raw(max.value), `must not be below backoff.initial (${out.initialMs / 1000} s)`);
  }
  const stable = m?.get('stable_after');
  if (stable) {
    const v = r.seconds(stable.value, `${path}.stable_after`, 0, MAX_BACKOFF_SEC);
    if (v !== undefined) out.stableAfterMs = Math.round(v * 1000);
  }
  return out;
}
