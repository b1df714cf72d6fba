/**
 * The two tools under test, started the way users run them, from the same SSH_* variables:
 *
 * - autotunnel: `node bin/autotunnel.js` (env mode), or `autotunnel run -c FILE.yaml` for many
 *   tunnels in one process (config mode, when the build has it).
 * - jnovack/autossh: its entrypoint reproduced faithfully (jnovackCommand below: same defaults,
 *   same options, same AUTOSSH_* settings, the key loaded into an ssh-agent), run under a loop
 *   that restarts it the way Docker's `restart: always` does (100 ms, doubling to 1 min, back to
 *   100 ms after 10 s up). What is NOT modelled: the container runtime's own restart overhead
 *   (creating namespaces and cgroups takes Docker a few hundred ms), which favours autossh here.
 *
 * Plain `ssh -N -L` is the baseline for throughput.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { descendants, isSsh, readProc } from './procfs.js';
import { now } from './probe.js';

const execFileAsync = promisify(execFile);

export type ToolName = 'autotunnel' | 'autossh';
export type Mode = '-L' | '-R';
export type Env = Record<string, string>;

export const REPO = join(import.meta.dirname, '..');
export const AUTOTUNNEL_BIN = join(REPO, 'bin', 'autotunnel.js');
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const AUTOSSH_FOUND = ['/usr/bin/autossh', '/usr/local/bin/autossh'].find((p) => existsSync(p));
const AUTOSSH = AUTOSSH_FOUND ?? 'autossh';
/** Why the autossh rows cannot run here, or undefined. */
export const AUTOSSH_MISSING = AUTOSSH_FOUND ? undefined : 'autossh is not installed (apt-get install autossh)';

/** jnovack/autossh's Dockerfile: ENV AUTOSSH_POLL=30 AUTOSSH_GATETIME=30 AUTOSSH_FIRST_POLL=30 AUTOSSH_LOGLEVEL=0 (+ pid file, log file). */
export const JNOVACK_AUTOSSH_ENV: Env = {
  AUTOSSH_POLL: '30',
  AUTOSSH_GATETIME: '30',
  AUTOSSH_FIRST_POLL: '30',
  AUTOSSH_LOGLEVEL: '0',
  AUTOSSH_LOGFILE: '/dev/stdout',
};

/** Docker's restart manager (moby restartmanager.go): 100 ms, ×2 per restart, at most 1 min, reset after 10 s up. */
export const DOCKER_RESTART = { initialMs: 100, multiplier: 2, maxMs: 60_000, resetAfterMs: 10_000 };

/** The bench's own environment without anything that would configure a tool behind our back. */
export function baseEnv(): Env {
  const env: Env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(SSH_|AUTOSSH_|AUTOTUNNEL_)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/** What both tools are given: the jnovack/autossh variables for one tunnel. */
export interface TunnelVars {
  serverPort: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
  mode: Mode;
  tunnelPort: number;
  targetPort: number;
  /** Extra SSH_* variables (e.g. SSH_SERVER_ALIVE_INTERVAL) — given to both tools alike. */
  extra?: Env;
}

export function sshVars(v: TunnelVars): Env {
  return {
    SSH_REMOTE_HOST: '127.0.0.1',
    SSH_REMOTE_PORT: String(v.serverPort),
    SSH_REMOTE_USER: v.user,
    SSH_KEY_FILE: v.keyFile,
    SSH_KNOWN_HOSTS_FILE: v.knownHostsFile,
    SSH_MODE: v.mode,
    SSH_BIND_IP: '127.0.0.1',
    SSH_TUNNEL_PORT: String(v.tunnelPort),
    SSH_TARGET_HOST: '127.0.0.1',
    SSH_TARGET_PORT: String(v.targetPort),
    ...(v.extra ?? {}),
  };
}

/**
 * jnovack/autossh's rootfs/entrypoint.sh, line for line: `${VAR:=default}` treats empty as
 * unset, `${SSH_TARGET_HOST=localhost}` only unset, and the command string is word-split by the
 * shell (`exec ${COMMAND}`), so SSH_OPTIONS is split on whitespace.
 */
export function jnovackCommand(env: Env, fileExists: (p: string) => boolean = existsSync, random = () => Math.floor(Math.random() * 32768)): string[] {
  const set = (name: string, def: string) => (env[name] !== undefined && env[name] !== '' ? env[name]! : def);
  const knownHosts = set('SSH_KNOWN_HOSTS_FILE', '/known_hosts');
  let strict = 'no';
  let knownHostsArg = '';
  if (fileExists(knownHosts)) {
    knownHostsArg = `-o UserKnownHostsFile=${knownHosts} `;
    if (env.SSH_STRICT_HOST_IP_CHECK === 'false') knownHostsArg += '-o CheckHostIP=no ';
    strict = 'yes';
  }
  const bindIp = set('SSH_BIND_IP', '127.0.0.1');
  const tunnelPort = set('SSH_TUNNEL_PORT', String(32768 + random()));
  const user = set('SSH_REMOTE_USER', 'root');
  const host = set('SSH_REMOTE_HOST', 'localhost');
  const targetHost = env.SSH_TARGET_HOST ?? 'localhost';
  const targetPort = set('SSH_TARGET_PORT', '22');
  const command =
    'autossh ' +
    '-M 0 ' +
    '-N ' +
    `-o StrictHostKeyChecking=${strict} ${knownHostsArg}` +
    `-o ServerAliveInterval=${set('SSH_SERVER_ALIVE_INTERVAL', '10')} ` +
    `-o ServerAliveCountMax=${set('SSH_SERVER_ALIVE_COUNT_MAX', '3')} ` +
    '-o ExitOnForwardFailure=yes ' +
    '-t -t ' +
    `${set('SSH_MODE', '-R')} ${bindIp}:${tunnelPort}:${targetHost}:${targetPort} ` +
    `-p ${set('SSH_REMOTE_PORT', '22')} ` +
    `${user}@${host} ` +
    (env.SSH_OPTIONS ?? '');
  return command.split(/\s+/).filter(Boolean);
}

// ── process handling ──────────────────────────────────────────────────────

/** Keeps the last `limit` characters a process printed. */
class OutputTail {
  #text = '';
  constructor(private readonly limit = 256 * 1024) {}
  add(s: string): void {
    this.#text += s;
    if (this.#text.length > this.limit) this.#text = this.#text.slice(-this.limit);
  }
  get text(): string {
    return this.#text;
  }
}

/**
 * Every child the bench started and has not yet seen exit. In a lane with its own PID namespace
 * the kernel cleans up anyway; without one (not root), this 'exit' hook SIGKILLs what is left,
 * children's children included (autossh's ssh has no parent-death signal).
 */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    if (child.pid === undefined || !running(child)) continue;
    for (const pid of [child.pid, ...descendants(child.pid).map((p) => p.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function withPdeathsig(command: string, args: string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!running(child)) return resolve();
    child.once('exit', () => resolve());
  });
}

/**
 * SIGTERM, up to `graceMs` for the process to exit, then SIGKILL for it and for every descendant
 * it had (ssh children included) that is still the same process.
 */
async function stopTree(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const tree = running(child) ? [pid, ...descendants(pid).map((p) => p.pid)] : [];
  const handles = tree.map((p) => ({ pid: p, start: readProc(p)?.startTime })).filter((h) => h.start !== undefined);
  if (running(child)) {
    child.kill('SIGTERM');
    await Promise.race([exitOf(child), sleep(graceMs)]);
  }
  for (const h of handles) {
    const p = readProc(h.pid);
    if (p && p.startTime === h.start && p.state !== 'Z') {
      try {
        process.kill(h.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  if (running(child)) await Promise.race([exitOf(child), sleep(5_000)]);
}

/** A running tool, as the scenarios see it. */
export interface ToolRun {
  readonly tool: ToolName | 'ssh';
  /** The tool's own processes: autotunnel's node, or every running autossh. */
  supervisorPids(): number[];
  /** The ssh clients it runs now. */
  sshPids(): number[];
  /** autossh only: how often the Docker-style loop restarted it. */
  restarts(): number;
  output(): string;
  /** autotunnel only: its state changes, from its JSON log. */
  events(): ToolEvent[];
  stop(): Promise<void>;
}

export interface ToolEvent {
  at: number;
  state: string;
  cause?: string;
  delayMs?: number;
}

function sshUnder(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  return descendants(pid).filter(isSsh).map((p) => p.pid);
}

// ── autotunnel ────────────────────────────────────────────────────────────

export function startAutotunnel(vars: Env, opts: { stateDir: string; args?: string[]; dropNetAdmin?: boolean }): ToolRun {
  const env: Env = { ...baseEnv(), ...vars, AUTOTUNNEL_LOG_FORMAT: 'json', AUTOTUNNEL_STATE_DIR: opts.stateDir };
  // BENCH_AUTOTUNNEL_NODE_FLAGS: extra node flags for autotunnel only (to try V8 settings; see run.ts).
  // Measure what ships: the flags of bin/autotunnel.js's shebang, unless the environment says otherwise.
  const nodeFlags = (process.env.BENCH_AUTOTUNNEL_NODE_FLAGS ?? shebangFlags()).split(/\s+/).filter(Boolean);
  // dropNetAdmin: root without CAP_NET_ADMIN (out of the bounding set, so no exec regains it).
  const capDrop = opts.dropNetAdmin && SETPRIV ? [SETPRIV, '--bounding-set', '-net_admin', '--inh-caps', '-net_admin', '--'] : [];
  const [cmd, args] = withPdeathsig(capDrop[0] ?? process.execPath, [...capDrop.slice(1), ...(capDrop.length ? [process.execPath] : []), ...nodeFlags, AUTOTUNNEL_BIN, ...(opts.args ?? [])]);
  const child = track(spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = new OutputTail();
  const events: ToolEvent[] = [];
  let partial = '';
  const onText = (s: string) => {
    out.add(s);
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{') || !line.includes('"state"')) continue;
      try {
        const j = JSON.parse(line) as { state?: string; cause?: string; delay_ms?: number };
        if (j.state) events.push({ at: now(), state: j.state, ...(j.cause ? { cause: j.cause } : {}), ...(j.delay_ms !== undefined ? { delayMs: j.delay_ms } : {}) });
      } catch {
        // not a log line
      }
    }
  };
  child.stdout?.setEncoding('utf8').on('data', onText);
  child.stderr?.setEncoding('utf8').on('data', onText);
  child.on('error', (e) => out.add(`spawn error: ${e.message}\n`));
  return {
    tool: 'autotunnel',
    supervisorPids: () => (child.pid !== undefined && running(child) ? [child.pid] : []),
    sshPids: () => (running(child) ? sshUnder(child.pid) : []),
    restarts: () => 0,
    output: () => out.text,
    events: () => events,
    stop: () => stopTree(child, 3_000),
  };
}

/** True when this build has config mode (`autotunnel run -c FILE.yaml`). */
export async function configModeAvailable(): Promise<boolean> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [AUTOTUNNEL_BIN, 'run', '--help'], { timeout: 10_000 });
    return /(^|\s)(-c|--config)\b/.test(stdout + stderr);
  } catch {
    return false;
  }
}

export interface YamlTunnel {
  name: string;
  serverPort: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
  local: string;
  to: string;
}

/**
 * What a user with many tunnels configures beside them (issue 14): webhook receivers and the
 * control token, so that the 100-tunnel footprint is measured with them.
 */
export interface YamlOperate {
  notifyUrls: string[];
  controlTokenFile: string;
}

/** The config-mode file (contract: tunnels[].server{host,port,user,key_file,known_hosts_file}, forwards[]{local,to}). */
export async function writeTunnelsYaml(path: string, tunnels: YamlTunnel[], operate?: YamlOperate): Promise<void> {
  const q = (s: string) => JSON.stringify(s);
  const lines: string[] = [];
  if (operate) {
    lines.push('notify:', ...operate.notifyUrls.flatMap((u, i) => [`  - url: ${q(u)}`, `    format: ${i % 2 ? 'slack' : 'json'}`]));
    lines.push('control:', `  token_file: ${q(operate.controlTokenFile)}`);
  }
  lines.push('tunnels:');
  for (const t of tunnels) {
    lines.push(
      `  - name: ${q(t.name)}`,
      '    server:',
      '      host: "127.0.0.1"',
      `      port: ${t.serverPort}`,
      `      user: ${q(t.user)}`,
      `      key_file: ${q(t.keyFile)}`,
      `      known_hosts_file: ${q(t.knownHostsFile)}`,
      '    forwards:',
      `      - local: ${q(t.local)}`,
      `        to: ${q(t.to)}`,
    );
  }
  await writeFile(path, lines.join('\n') + '\n');
}

// ── jnovack/autossh under a Docker-like restart loop ──────────────────────

export interface Agent {
  sock: string;
  stop(): Promise<void>;
}

/** jnovack's entrypoint loads the key into an ssh-agent (`eval $(ssh-agent -s)`, `ssh-add -k -`). */
export async function startAgent(dir: string, keyFile: string): Promise<Agent> {
  const sock = join(dir, 'agent.sock');
  const [cmd, args] = withPdeathsig('ssh-agent', ['-D', '-a', sock]);
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'], env: baseEnv() }));
  const deadline = now() + 5_000;
  while (!existsSync(sock)) {
    if (now() > deadline || !running(child)) throw new Error('ssh-agent did not start');
    await sleep(10);
  }
  const added = spawnSync('ssh-add', ['-q', '-k', keyFile], { env: { ...baseEnv(), SSH_AUTH_SOCK: sock }, encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`ssh-add failed: ${added.stderr}`);
  return { sock, stop: () => stopTree(child, 1_000) };
}

/** One jnovack/autossh "container": the entrypoint's autossh, restarted like `restart: always`. */
export class AutosshContainer {
  readonly argv: string[];
  readonly #env: Env;
  readonly #out = new OutputTail(32 * 1024);
  #child: ChildProcess | undefined;
  #startedAt = 0;
  #timeoutMs = 0;
  #restarts = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  readonly exits: Array<{ at: number; ranMs: number; code: number | null; signal: string | null }> = [];

  readonly #logFile: string;

  constructor(vars: Env, opts: { agentSock: string; pidFile: string; logFile: string }) {
    this.argv = jnovackCommand(vars);
    this.#logFile = opts.logFile;
    this.#env = { ...baseEnv(), ...vars, ...JNOVACK_AUTOSSH_ENV, AUTOSSH_PIDFILE: opts.pidFile, SSH_AUTH_SOCK: opts.agentSock };
  }

  start(): void {
    this.#run();
  }

  #run(): void {
    if (this.#stopped) return;
    this.#timer = undefined;
    const [, ...args] = this.argv;
    const [cmd, argv] = withPdeathsig(AUTOSSH, args);
    // A container without a tty: stdin is /dev/null (so ssh's `-t -t` requests nothing: -N opens no
    // session). stdout/stderr go to a file, as Docker's log pipe would: autossh opens
    // AUTOSSH_LOGFILE=/dev/stdout itself, which fails (and autossh exits) on the socket pairs Node
    // uses for 'pipe'.
    const fd = openSync(this.#logFile, 'a');
    let child: ChildProcess;
    try {
      child = track(spawn(cmd, argv, { env: this.#env, stdio: ['ignore', fd, fd] }));
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    this.#startedAt = now();
    child.on('error', (e) => this.#out.add(`spawn error: ${e.message}\n`));
    child.once('exit', (code, signal) => {
      const ranMs = now() - this.#startedAt;
      this.exits.push({ at: now(), ranMs, code, signal });
      if (this.#stopped) return;
      // moby's restart manager, exactly: reset after 10 s up; 100 ms; ×2; cap 1 min.
      if (ranMs >= DOCKER_RESTART.resetAfterMs) this.#timeoutMs = 0;
      this.#timeoutMs = this.#timeoutMs === 0 ? DOCKER_RESTART.initialMs : Math.min(this.#timeoutMs * DOCKER_RESTART.multiplier, DOCKER_RESTART.maxMs);
      this.#restarts++;
      this.#timer = setTimeout(() => this.#run(), this.#timeoutMs);
    });
  }

  supervisorPid(): number | undefined {
    return this.#child?.pid !== undefined && running(this.#child) ? this.#child.pid : undefined;
  }

  sshPids(): number[] {
    return sshUnder(this.supervisorPid());
  }

  get restarts(): number {
    return this.#restarts;
  }

  output(): string {
    let file = '';
    try {
      file = readFileSync(this.#logFile, 'utf8').slice(-32 * 1024);
    } catch {
      // nothing written yet
    }
    return this.#out.text + file;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#child) await stopTree(this.#child, 3_000);
  }
}

/** N autossh containers as one ToolRun (one container per tunnel, as with jnovack's image). */
export function startAutossh(varsList: Env[], opts: { agentSock: string; dir: string }): ToolRun & { containers: AutosshContainer[] } {
  const containers = varsList.map((vars, i) => new AutosshContainer(vars, { agentSock: opts.agentSock, pidFile: join(opts.dir, `autossh-${i}.pid`), logFile: join(opts.dir, `autossh-${i}.log`) }));
  for (const c of containers) c.start();
  return {
    tool: 'autossh',
    containers,
    supervisorPids: () => containers.map((c) => c.supervisorPid()).filter((p): p is number => p !== undefined),
    sshPids: () => containers.flatMap((c) => c.sshPids()),
    restarts: () => containers.reduce((a, c) => a + c.restarts, 0),
    output: () => containers.map((c) => c.output()).join(''),
    events: () => [],
    stop: async () => {
      await Promise.all(containers.map((c) => c.stop()));
    },
  };
}

/** Several runs of one tool (a fleet of autotunnel processes) as one ToolRun. */
export function allOf(runs: ToolRun[]): ToolRun {
  return {
    tool: runs[0]?.tool ?? 'autotunnel',
    supervisorPids: () => runs.flatMap((r) => r.supervisorPids()),
    sshPids: () => runs.flatMap((r) => r.sshPids()),
    restarts: () => runs.reduce((a, r) => a + r.restarts(), 0),
    output: () => runs.map((r) => r.output()).join(''),
    events: () => runs.flatMap((r) => r.events()).sort((a, b) => a.at - b.at),
    stop: async () => {
      await Promise.all(runs.map((r) => r.stop()));
    },
  };
}

// ── plain ssh (throughput baseline) ───────────────────────────────────────

export function startPlainSsh(v: TunnelVars): ToolRun {
  const args = [
    '-N',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${v.knownHostsFile}`,
    '-o', 'ExitOnForwardFailure=yes',
    '-i', v.keyFile,
    '-o', 'IdentitiesOnly=yes',
    v.mode, `127.0.0.1:${v.tunnelPort}:127.0.0.1:${v.targetPort}`,
    '-p', String(v.serverPort),
    `${v.user}@127.0.0.1`,
  ];
  const [cmd, argv] = withPdeathsig('ssh', args);
  const child = track(spawn(cmd, argv, { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = new OutputTail();
  child.stdout?.setEncoding('utf8').on('data', (s: string) => out.add(s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => out.add(s));
  return {
    tool: 'ssh',
    supervisorPids: () => [],
    sshPids: () => (child.pid !== undefined && running(child) ? [child.pid] : []),
    restarts: () => 0,
    output: () => out.text,
    events: () => [],
    stop: () => stopTree(child, 2_000),
  };
}

/** The node flags in bin/autotunnel.js's `#!/usr/bin/env -S node …` line. */
function shebangFlags(): string {
  const first = readFileSync(AUTOTUNNEL_BIN, 'utf8').split('\n')[0] ?? '';
  return /^#!\/usr\/bin\/env -S node(.*)$/.exec(first)?.[1]?.trim() ?? '';
}
