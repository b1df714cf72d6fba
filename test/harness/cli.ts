/**
 * Runs the CLI under test as a real child process (the way users and
 * containers run it) and lets tests wait on what it prints and how it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * After 'exit', how long output may still trickle in from the pipes before
 * waitForOutput() gives up early. Not 'close': if the CLI's own children
 * (ssh) inherited its stdout, the pipes stay open after the CLI is gone.
 */
const EXIT_OUTPUT_GRACE_MS = 200;
/** Bound on a SIGKILLed process being reaped. */
const KILL_TIMEOUT_MS = 5_000;
/** How much trailing output error messages quote. */
const OUTPUT_TAIL_CHARS = 4_000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class CliProcess {
  /**
   * Every CliProcess not yet exited, for killAllCli(). This registry is the
   * one piece of state shared across instances: an after() hook must be able
   * to find processes that a failed test never got to clean up.
   */
  static readonly #live = new Set<CliProcess>();

  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #exited: Promise<ExitInfo>;
  /** Waiters to re-check on new output or exit. */
  readonly #listeners = new Set<() => void>();
  #output = '';
  #exit: (ExitInfo & { at: number }) | undefined;
  /** True once no further output can be expected. */
  #outputFinal = false;

  private constructor(child: ChildProcess, pid: number) {
    this.#child = child;
    this.pid = pid;
    const append = (text: string) => {
      this.#output += text;
      this.#notify();
    };
    child.stdout?.setEncoding('utf8').on('data', append);
    child.stderr?.setEncoding('utf8').on('data', append);
    // The CLI may exit without reading stdin; EPIPE there is not a test failure.
    child.stdin?.on('error', () => {});
    child.once('close', () => {
      this.#outputFinal = true;
      this.#notify();
    });
    // If the test process exits without an after() hook having run, do not
    // leave the CLI (and whatever ssh it supervises) running behind it.
    const killOnTestExit = () => child.kill('SIGKILL');
    process.on('exit', killOnTestExit);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal, at: performance.now() };
        CliProcess.#live.delete(this);
        process.off('exit', killOnTestExit);
        setTimeout(() => {
          this.#outputFinal = true;
          this.#notify();
        }, EXIT_OUTPUT_GRACE_MS).unref();
        this.#notify();
        resolve({ code, signal });
      });
    });
    CliProcess.#live.add(this);
  }

  /**
   * Spawns `node <argv...>` (process.execPath, so the same Node as the tests), or
   * `opts.command <argv...>`.
   * opts.env is merged over a copy of process.env; an undefined value removes
   * the key. Not detached: it shares the test's process group, so a Ctrl-C
   * on the test run reaches it too.
   */
  static spawn(argv: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; command?: string } = {}): CliProcess {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(opts.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    // opts.command: a wrapper that execs Node in the end (unshare, say), so the pid stays Node's.
    const child = spawn(opts.command ?? process.execPath, argv, {
      env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      // Spawn failures are reported asynchronously; without a pid there is
      // nothing to watch, so fail now and swallow the late 'error' event.
      child.once('error', () => {});
      throw new Error(`could not spawn ${process.execPath} ${argv.join(' ')}`);
    }
    return new CliProcess(child, child.pid);
  }

  /** SIGKILLs every CliProcess still running and waits for them to exit. */
  static async killAll(): Promise<void> {
    await Promise.all([...CliProcess.#live].map((p) => p.kill()));
  }

  /** stdout and stderr interleaved, in arrival order. */
  output(): string {
    return this.#output;
  }

  /** Current output length: pass to waitForOutput() to only match later output. */
  mark(): number {
    return this.#output.length;
  }

  /**
   * Resolves with the first match of `re` in the output from `fromIndex` on.
   * Rejects on timeout, or early once the process has exited without a match.
   * Both rejections quote the output.
   */
  waitForOutput(re: RegExp, timeoutMs: number, fromIndex = 0): Promise<RegExpMatchArray> {
    // A global or sticky regex would make match() stateful or drop groups.
    const pattern = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
    return new Promise((resolve, reject) => {
      const finish = (result: RegExpMatchArray | Error) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const check = () => {
        const match = this.#output.slice(fromIndex).match(pattern);
        if (match) finish(match);
        else if (this.#outputFinal) {
          finish(new Error(`process ${this.pid} exited (${describeExit(this.#exit)}) without printing ${re}${this.#quote()}`));
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for output matching ${re}${this.#quote()}`)),
        timeoutMs,
      );
      this.#listeners.add(check);
      check();
    });
  }

  /** Sends a signal if the process is still running. */
  signal(sig: NodeJS.Signals): void {
    if (this.#exit !== undefined) return;
    try {
      this.#child.kill(sig);
    } catch {
      // Exited between the check and the kill.
    }
  }

  /**
   * Waits for the process to exit. `ms` is the time from this call to the
   * exit (0 if it had already exited), for asserting on shutdown latency.
   */
  async exited(timeoutMs: number): Promise<ExitInfo & { ms: number }> {
    const calledAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`process ${this.pid} did not exit within ${timeoutMs} ms${this.#quote()}`)),
        timeoutMs,
      );
    });
    try {
      const { code, signal } = await Promise.race([this.#exited, timeout]);
      const exitAt = this.#exit?.at ?? performance.now();
      return { code, signal, ms: Math.max(0, Math.round(exitAt - calledAt)) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL if still running, then wait for the exit. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited(KILL_TIMEOUT_MS);
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #quote(): string {
    const out = this.#output;
    const tail = out.length > OUTPUT_TAIL_CHARS ? `...${out.slice(-OUTPUT_TAIL_CHARS)}` : out;
    return `; output so far:\n${tail}`;
  }
}

function describeExit(exit: ExitInfo | undefined): string {
  if (exit === undefined) return 'output closed';
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** For after() hooks: SIGKILLs every CLI process a test left running. */
export function killAllCli(): Promise<void> {
  return CliProcess.killAll();
}
