/**
 * autotunnel's own ssh-agent, for a key with a passphrase: OpenSSH's ssh-agent, started on
 * first use with its socket in a private runtime directory, under `setpriv --pdeathsig` so it
 * dies with autotunnel even on SIGKILL (as ssh does), and stopped at cleanup. The key goes in
 * through ssh-add with the passphrase given by our askpass helper; ssh then uses that agent and
 * that key only (IdentityAgent, IdentitiesOnly, the public half as IdentityFile).
 *
 * Before every connection attempt `ensureKey` compares the key file and passphrase with what
 * the agent holds (a digest, kept in memory only) and adds the key again when either changed,
 * so a key rotated in place is used from the next attempt on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { askpassEnv, writeSecretFile } from './askpass.js';

/** ssh-agent creates its socket within milliseconds; this bounds a broken start. */
const AGENT_START_TIMEOUT_MS = 5_000;
const AGENT_POLL_MS = 10;
/** ssh-keygen and ssh-add finish in well under a second; this bounds a hung one. */
const TOOL_TIMEOUT_MS = 10_000;

export interface AgentTools {
  sshAgent: string;
  sshAdd: string;
  sshKeygen: string;
  setpriv?: string;
}

/** Why a key could not be put in the agent, as a line the tunnel's stderr rules classify. */
export type EnsureResult = { ok: true; added: boolean } | { ok: false; line: string };

interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class KeyAgent {
  /** The agent's socket (ssh's IdentityAgent): fixed, so ssh's arguments never change. */
  readonly socket: string;
  private child: ChildProcess | undefined;
  private starting: Promise<string | undefined> | undefined;
  /** Key name → digest of key file and passphrase last added. */
  private readonly loaded = new Map<string, string>();

  constructor(
    private readonly tools: AgentTools,
    /** A private 0700 directory; everything the agent needs lives there. */
    private readonly dir: string,
    /** The environment for the agent and its tools, without any secret variable. */
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.socket = join(dir, 'agent.sock');
  }

  /** Where the public half of key `name` is written (ssh's IdentityFile). */
  publicKeyPath(name: string): string {
    return join(this.dir, `${name}.pub`);
  }

  /** Puts the key in the agent unless it already holds this very key with this passphrase. */
  async ensureKey(name: string, keyFile: string, passphrase: string): Promise<EnsureResult> {
    let content: Buffer;
    try {
      content = readFileSync(keyFile);
    } catch (e) {
      return { ok: false, line: `autotunnel: cannot read the key passphrase: the key ${keyFile} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
    }
    const digest = createHash('sha256').update(content).update('\0').update(passphrase).digest('hex');
    if (this.alive() && this.loaded.get(name) === digest) return { ok: true, added: false };

    const startError = await this.start();
    if (startError) return { ok: false, line: `autotunnel: ssh-agent failed: ${startError}` };
    // The key is read through a private copy (ssh-add refuses a key others can read, and a
    // mounted secret often is); the copy is removed as soon as the agent holds the key.
    const copy = join(this.dir, `${name}.key`);
    const secret = join(this.dir, `${name}.askpass`);
    try {
      writeSecretFile(copy, content.toString('utf8').replace(/\n$/, ''));
      writeSecretFile(secret, passphrase);
      const env = { ...this.env, ...askpassEnv('passphrase', secret), SSH_AUTH_SOCK: this.socket };
      // ssh-keygen -y first: it says plainly when the passphrase is wrong, and prints the public half.
      const pub = await runTool(this.tools.sshKeygen, ['-y', '-f', copy], env);
      if (pub.code !== 0) {
        if (/incorrect passphrase|wrong passphrase|bad passphrase/i.test(pub.stderr)) return { ok: false, line: `autotunnel: the passphrase does not open ${keyFile}` };
        return { ok: false, line: `autotunnel: ssh-keygen failed: cannot load the key ${keyFile}: ${lastLine(pub.stderr).replace(copy, keyFile)}` };
      }
      const pubPath = this.publicKeyPath(name);
      // A rotated key: the old one leaves the agent, so the agent holds what the file says.
      if (this.loaded.has(name) && existsSync(pubPath)) await runTool(this.tools.sshAdd, ['-d', pubPath], env);
      const added = await runTool(this.tools.sshAdd, [copy], env);
      if (added.code !== 0) return { ok: false, line: `autotunnel: ssh-add failed: ${lastLine(added.stderr).replace(copy, keyFile)}` };
      writeFileSync(pubPath, pub.stdout.trim() + '\n', { mode: 0o600 });
      this.loaded.set(name, digest);
      return { ok: true, added: true };
    } finally {
      rmSync(copy, { force: true });
      rmSync(secret, { force: true });
    }
  }

  /** Kills the agent (its keys go with it). */
  stop(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.child = undefined;
    this.loaded.clear();
    rmSync(this.socket, { force: true });
  }

  get pid(): number | undefined {
    return this.alive() ? this.child?.pid : undefined;
  }

  private alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the agent if it is not running; resolves to an error text, or undefined once its socket exists. */
  private start(): Promise<string | undefined> {
    if (this.alive() && existsSync(this.socket)) return Promise.resolve(undefined);
    this.starting ??= this.spawnAgent().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawnAgent(): Promise<string | undefined> {
    this.stop();
    // -D: in the foreground, so it stays our child and setpriv's parent-death signal applies.
    // --no-new-privs: Debian installs ssh-agent setgid, and exec'ing a setgid program clears
    // the parent-death signal (the agent outlived a SIGKILLed autotunnel); without new
    // privileges the setgid bit is ignored and the signal stays.
    const agentArgs = ['-D', '-a', this.socket];
    const [command, args] = this.tools.setpriv
      ? [this.tools.setpriv, ['--no-new-privs', '--pdeathsig', 'SIGKILL', '--', this.tools.sshAgent, ...agentArgs]]
      : [this.tools.sshAgent, agentArgs];
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: this.env });
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let spawnError: string | undefined;
    child.once('error', (e) => (spawnError = e.message));
    const deadline = Date.now() + AGENT_START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (spawnError) return spawnError;
      if (child.exitCode !== null || child.signalCode !== null) return `it exited (${child.exitCode ?? child.signalCode}): ${lastLine(stderr) || 'no message'}`;
      if (existsSync(this.socket)) return undefined;
      await sleep(AGENT_POLL_MS);
    }
    return `its socket ${this.socket} did not appear within ${AGENT_START_TIMEOUT_MS / 1000} s`;
  }
}

function runTool(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: TOOL_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (e) => resolve({ code: null, stdout, stderr: e.message }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1) ?? '';
}
