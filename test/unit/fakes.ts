/** Fakes for the supervisor's ports: a virtual clock, scripted ssh processes, scripted probes. */
import type { Clock, ProbeTcp, SpawnSsh, SshExit, SshProcess, TimerHandle } from '../../src/supervisor/world.js';
import { DEFAULT_BACKOFF, type Forward, type ServerSpec, type TunnelSpec } from '../../src/config/spec.js';
import { ENV_SETTING_NAMES } from '../../src/config/env.js';
import { Tunnel, type SshCommand } from '../../src/supervisor/tunnel.js';
import { hintContext } from '../../src/ssh/causes.js';

/** Lets every pending promise chain run (probe results, awaits inside the supervisor). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export class FakeClock implements Clock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fn: () => void }> = [];

  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const entry = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(entry);
    return { id: entry };
  }
  clearTimer(h: TimerHandle): void {
    this.timers = this.timers.filter((e) => e !== h.id);
  }
  pending(): number {
    return this.timers.length;
  }
  /** Moves time forward, firing due timers in order and letting async work settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flush();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

export class FakeSsh implements SshProcess {
  static nextPid = 1000;
  readonly pid = FakeSsh.nextPid++;
  readonly kills: NodeJS.Signals[] = [];
  exited = false;
  private lineListeners: Array<(l: string) => void> = [];
  private exitListeners: Array<(e: SshExit) => void> = [];
  /** Whether SIGTERM makes it exit (a hung ssh ignores it). */
  diesOnTerm = true;

  constructor(readonly args: string[]) {}

  onLine(l: (line: string) => void): void {
    this.lineListeners.push(l);
  }
  onExit(l: (e: SshExit) => void): void {
    this.exitListeners.push(l);
  }
  kill(signal: NodeJS.Signals): void {
    this.kills.push(signal);
    if (this.exited) return;
    if (signal === 'SIGKILL' || this.diesOnTerm) queueMicrotask(() => this.exit({ code: null, signal }));
  }
  say(...lines: string[]): void {
    for (const line of lines) this.lineListeners.forEach((l) => l(line));
  }
  exit(e: SshExit = { code: 255, signal: null }): void {
    if (this.exited) return;
    this.exited = true;
    this.exitListeners.forEach((l) => l(e));
  }
}

export class FakeSpawner {
  readonly spawned: FakeSsh[] = [];
  readonly spawn: SpawnSsh = (args) => {
    const p = new FakeSsh(args);
    this.spawned.push(p);
    return p;
  };
  get last(): FakeSsh {
    const p = this.spawned.at(-1);
    if (!p) throw new Error('no ssh spawned yet');
    return p;
  }
}

export type Answer = 'open' | 'refused' | 'dropped';

/** A probe whose answer per host:port is set by the test; `delayMs` makes it take virtual time. */
export class FakeProbe {
  readonly calls: Array<{ host: string; port: number; at: number }> = [];
  private answers = new Map<string, Answer>();
  /** Virtual time an open port takes to accept. */
  delayMs = 0;
  constructor(private readonly clock: FakeClock) {}
  set(host: string, port: number, answer: Answer): void {
    this.answers.set(`${host}:${port}`, answer);
  }
  /** The most probes that were pending at once. */
  maxInFlight = 0;
  private inFlight = 0;
  readonly probe: ProbeTcp = (host, port, timeoutMs) => {
    this.calls.push({ host, port, at: this.clock.now() });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return this.answer(host, port, timeoutMs).finally(() => this.inFlight--);
  };
  private answer(host: string, port: number, timeoutMs: number): Promise<boolean> {
    const answer = this.answers.get(`${host}:${port}`) ?? 'refused';
    const ok = answer === 'open';
    // refused answers at once (RST); dropped packets make the probe wait out its timeout.
    const takes = answer === 'open' ? this.delayMs : answer === 'refused' ? 0 : timeoutMs;
    if (takes === 0) return Promise.resolve(ok);
    return new Promise((resolve) => this.clock.setTimer(takes, () => resolve(ok)));
  }
  callsTo(host: string, port: number): number {
    return this.calls.filter((c) => c.host === host && c.port === port).length;
  }
}

/** A -R forward of port 4000 to localhost:80: up as soon as the server confirms it. */
export const REMOTE_4000: Forward = { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 4000, targetHost: 'localhost', targetPort: 80 };
/** What ssh prints when the server confirms REMOTE_4000. */
export const REMOTE_4000_OK = 'debug1: remote forward success for: listen 127.0.0.1:4000, connect localhost:80';

/** No extra ssh options. */
export const NO_EXTRA_SSH: TunnelSpec['ssh'] = { extraArgs: [], addsRemoteForwards: false, proxied: false };
/** Through a jump host: no stall detection (ssh does not connect to the server itself). */
export const PROXIED: TunnelSpec['ssh'] = { ...NO_EXTRA_SSH, proxied: true };

/** What a test tunnel runs: `args` (which the fake ssh keeps), fix texts as for a real one. */
export function testCommand(spec: TunnelSpec, args: string[] = []): SshCommand {
  return { args, hints: hintContext(spec, { knownHostsFile: '/state/known_hosts' }) };
}

/** A spec with the defaults, trusting the host key on first use. */
export function testSpec(name: string, forwards: Forward[], server: Pick<ServerSpec, 'user' | 'host' | 'port'>, extra: Partial<TunnelSpec> = {}): TunnelSpec {
  return {
    name,
    server: { ...server, hostKey: { mode: 'trust-on-first-use', checkHostIp: true } },
    forwards,
    keepalive: { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } },
    connectTimeoutSec: 10,
    ssh: NO_EXTRA_SSH,
    settingNames: ENV_SETTING_NAMES,
    backoff: { ...DEFAULT_BACKOFF },
    ...extra,
  };
}

/** A Tunnel of REMOTE_4000 via deploy@bastion:22, on the fakes. */
export function fakeTunnel(name: string, clock: FakeClock, spawner: FakeSpawner, extra: Partial<TunnelSpec> = {}): Tunnel {
  const server = { user: 'deploy', host: 'bastion', port: 22 };
  const spec = testSpec(name, [REMOTE_4000], server, extra);
  return new Tunnel(spec, testCommand(spec), { clock, spawnSsh: spawner.spawn, probeTcp: new FakeProbe(clock).probe, random: () => 0.5 });
}

/** One file in a FakeFiles world; by default a readable regular file with empty text. */
export interface FakeFile {
  text?: string;
  isFile?: boolean;
  readable?: boolean;
}

/**
 * A fake file system for config parsers (FileFacts/EnvFacts `fileInfo`, FileFacts `readText`):
 * paths not listed do not exist; reads fail as Node's would (ENOENT, EACCES, EISDIR).
 */
export class FakeFiles {
  readonly asked: string[] = [];
  readonly read: string[] = [];
  constructor(private readonly files: Record<string, FakeFile>) {}

  readonly fileInfo = (path: string): { isFile: boolean; readable: boolean } | undefined => {
    this.asked.push(path);
    const f = Object.hasOwn(this.files, path) ? this.files[path]! : undefined;
    return f && { isFile: f.isFile ?? true, readable: f.readable ?? true };
  };

  readonly readText = (path: string): string => {
    this.read.push(path);
    const f = Object.hasOwn(this.files, path) ? this.files[path]! : undefined;
    const fail = (code: string) => Object.assign(new Error(`${code}: fake read of '${path}'`), { code });
    if (!f) throw fail('ENOENT');
    if (f.isFile === false) throw fail('EISDIR');
    if (f.readable === false) throw fail('EACCES');
    return f.text ?? '';
  };
}
