/** Shared setup for the integration tests: autotunnel started as users start it, with SSH_* variables. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { CliProcess, killAllCli } from '../harness/cli.js';
import { startEchoServer, type EchoServer } from '../harness/echo.js';
import { TestSshd, type SshdOptions } from '../harness/sshd.js';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'autotunnel.js');

/** A JSON log line of a state change, as autotunnel prints with AUTOTUNNEL_LOG_FORMAT=json. */
export interface LogLine {
  time: string;
  level: string;
  msg: string;
  tunnel?: string;
  state?: string;
  from?: string;
  cause?: string;
  delay_ms?: number;
  pid?: number;
  fix?: string;
  ssh_said?: string;
  [key: string]: unknown;
}

export function logLines(cli: CliProcess, from = 0): LogLine[] {
  const text = cli.output().slice(from);
  // Only whole lines: the last one may still be arriving.
  const whole = text.slice(0, text.lastIndexOf('\n') + 1);
  const out: LogLine[] = [];
  for (const l of whole.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      // a line that only looks like JSON (ssh's own output, say): not ours
    }
  }
  return out;
}

/** Waits for a JSON log line whose fields equal (or, for a RegExp, match) the given ones; returns it. */
export async function waitForLog(cli: CliProcess, fields: Record<string, unknown>, timeoutMs: number, from = 0): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = logLines(cli, from).find((l) => Object.entries(fields).every(([k, v]) => (v instanceof RegExp ? v.test(String(l[k])) : l[k] === v)));
    if (hit) return hit;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no log line with ${Object.entries(fields).map(([k, v]) => `${k}=${String(v)}`).join(', ')} within ${timeoutMs} ms; output:\n${cli.output().slice(-4000)}`);
    await cli.waitForOutput(/\n/, Math.min(left, 250), cli.mark()).catch(() => undefined);
  }
}

export interface TunnelRun {
  cli: CliProcess;
  stateDir: string;
  cleanup(): Promise<void>;
}

/** The variables a user would set for this sshd, plus overrides. */
export function envFor(sshd: TestSshd, overrides: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    SSH_REMOTE_HOST: '127.0.0.1',
    SSH_REMOTE_PORT: String(sshd.port),
    SSH_REMOTE_USER: sshd.user,
    SSH_KEY_FILE: sshd.clientKeyPath,
    SSH_KNOWN_HOSTS_FILE: sshd.knownHostsPath,
    SSH_TARGET_HOST: '127.0.0.1',
    AUTOTUNNEL_LOG_FORMAT: 'json',
    // Keep the machine's own agent and ssh config out of the test.
    SSH_AUTH_SOCK: undefined,
    ...overrides,
  };
}

export function startAutotunnel(env: Record<string, string | undefined>, args: string[] = []): TunnelRun {
  const stateDir = mkdtempSync(join(tmpdir(), 'autotunnel-state-'));
  // No HTTP listener unless a test asks for one: parallel runs would fight over the default port.
  const cli = CliProcess.spawn([BIN, ...args], { env: { AUTOTUNNEL_STATE_DIR: stateDir, AUTOTUNNEL_HTTP: 'off', ...env } });
  return {
    cli,
    stateDir,
    async cleanup() {
      await cli.kill();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface TestBed {
  /** The echo target (started before the file's first test). */
  echo(): EchoServer;
  /** A fresh sshd, stopped and removed after the file's tests. */
  sshd(opts?: SshdOptions): Promise<TestSshd>;
  /** autotunnel, killed after the file's tests. */
  run(env: Record<string, string | undefined>, args?: string[]): TunnelRun;
}

/**
 * What a test file needs: an echo target, servers and autotunnel runs, all cleaned up after the
 * file whatever its tests did. Call at the top level: it registers the before/after hooks.
 */
export function testBed(): TestBed {
  let echo: EchoServer | undefined;
  const runs: TunnelRun[] = [];
  const servers: TestSshd[] = [];
  before(async () => {
    echo = await startEchoServer();
  });
  after(async () => {
    await killAllCli();
    for (const r of runs) await r.cleanup();
    for (const s of servers) await s.cleanup();
    await echo?.close();
  });
  return {
    echo: () => {
      if (!echo) throw new Error('the echo target starts in before(): use it inside a test');
      return echo;
    },
    async sshd(opts = {}) {
      const s = await TestSshd.start(opts);
      servers.push(s);
      return s;
    },
    run(env, args = []) {
      const r = startAutotunnel(env, args);
      runs.push(r);
      return r;
    },
  };
}

/**
 * `n` distinct free loopback ports. Asking one at a time can return the same port twice (the
 * kernel reuses a port closed a moment ago), so all are held open together, then released.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject).listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * The `server:` block of a tunnels file for this sshd, its lines indented by `indent` (the
 * keyword) and two more (the fields); `key: false` leaves key_file for the tunnels to give.
 */
export function serverYaml(server: TestSshd, indent: string, opts: { key?: boolean } = {}): string[] {
  const f = `${indent}  `;
  return [
    `${indent}server:`,
    `${f}host: 127.0.0.1`,
    `${f}port: ${server.port}`,
    `${f}user: ${server.user}`,
    ...(opts.key === false ? [] : [`${f}key_file: ${server.clientKeyPath}`]),
    `${f}known_hosts_file: ${server.knownHostsPath}`,
  ];
}

