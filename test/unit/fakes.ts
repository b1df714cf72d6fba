/** Fakes for the supervisor's ports: a virtual clock, scripted ssh processes, scripted probes. */
import type { Clock, ProbeTcp, SpawnSsh, SshExit, SshProcess, TimerHandle } from '../../src/supervisor/ports.js';

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
  readonly probe: ProbeTcp = (host, port, timeoutMs) => {
    this.calls.push({ host, port, at: this.clock.now() });
    const answer = this.answers.get(`${host}:${port}`) ?? 'refused';
    const ok = answer === 'open';
    // refused answers at once (RST); dropped packets make the probe wait out its timeout.
    const takes = answer === 'open' ? this.delayMs : answer === 'refused' ? 0 : timeoutMs;
    if (takes === 0) return Promise.resolve(ok);
    return new Promise((resolve) => this.clock.setTimer(takes, () => resolve(ok)));
  };
  callsTo(host: string, port: number): number {
    return this.calls.filter((c) => c.host === host && c.port === port).length;
  }
}
