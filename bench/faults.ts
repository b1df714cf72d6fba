/**
 * Black-holing the link between a tool and its sshd.
 *
 * As root every lane runs in its own network namespace (see lanes.ts), so the rules below only
 * touch that namespace's loopback: packets to and from the sshd port are dropped on INPUT, in both
 * directions, so existing connections stall silently (nothing is reset) and new ones get no SYN-ACK —
 * what a dead NAT, a pulled cable or a suspended VPN looks like. Removing the rules restores the
 * path; restoreExcept() restores it for new connections while the old connection's packets stay
 * dropped (the stale -R listener case).
 *
 * Without root there are no namespaces: the tool then talks to sshd through the harness's TCP fault
 * proxy, whose freeze() stalls every connection in the same way. It cannot keep one old
 * connection dead while letting new ones through, so the stale-listener rows need root.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FaultProxy } from '../test/harness/faultproxy.js';

const execFileAsync = promisify(execFile);

export type FaultKind = 'netns' | 'proxy';

/** Set by lanes.ts in the environment of a lane it started inside fresh namespaces. */
export const NETNS_ENV = 'AUTOTUNNEL_BENCH_NETNS';

export function faultKind(): FaultKind {
  return process.env[NETNS_ENV] === '1' ? 'netns' : 'proxy';
}

export interface LinkFaults {
  readonly kind: FaultKind;
  /** The port tools must connect to for the SSH server (the proxy's, without namespaces). */
  readonly serverPort: number;
  /** A known_hosts file naming the server by the address tools use. */
  readonly knownHostsFile: string;
  blackhole(): Promise<void>;
  restore(): Promise<void>;
  /** Whether restoreExcept() is possible here. */
  readonly canKeepOldDropped: boolean;
  /** Restores the path for new connections; connections from these local ports stay dropped. */
  restoreExcept(clientPorts: number[]): Promise<void>;
  close(): Promise<void>;
}

/** Brings the namespace's loopback up (a fresh network namespace starts with it down). */
export async function setupNamespace(): Promise<void> {
  await execFileAsync('ip', ['link', 'set', 'lo', 'up']);
  await iptables(['-F', 'INPUT']);
}

async function iptables(args: string[]): Promise<void> {
  await execFileAsync('iptables', ['-w', ...args]);
}

/** Applies several rule changes at once (iptables-restore is atomic per COMMIT). */
async function iptablesBatch(lines: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('iptables-restore', ['-w', '--noflush'], (err) => (err ? reject(err) : resolve()));
    child.stdin?.end(`*filter\n${lines.join('\n')}\nCOMMIT\n`);
  });
}

const dropTo = (port: number) => `-i lo -p tcp --dport ${port} -j DROP`;
const dropFrom = (port: number) => `-i lo -p tcp --sport ${port} -j DROP`;

class NetnsFaults implements LinkFaults {
  readonly kind = 'netns' as const;
  readonly canKeepOldDropped = true;
  #general = false;
  readonly #pairs: string[] = [];

  constructor(
    readonly serverPort: number,
    readonly knownHostsFile: string,
  ) {}

  async blackhole(): Promise<void> {
    if (this.#general) return;
    await iptablesBatch([`-A INPUT ${dropTo(this.serverPort)}`, `-A INPUT ${dropFrom(this.serverPort)}`]);
    this.#general = true;
  }

  async restore(): Promise<void> {
    const lines: string[] = [];
    if (this.#general) lines.push(`-D INPUT ${dropTo(this.serverPort)}`, `-D INPUT ${dropFrom(this.serverPort)}`);
    for (const p of this.#pairs.splice(0)) lines.push(`-D INPUT ${p}`);
    this.#general = false;
    if (lines.length) await iptablesBatch(lines);
  }

  async restoreExcept(clientPorts: number[]): Promise<void> {
    const keep = clientPorts.flatMap((c) => [
      `-i lo -p tcp --sport ${c} --dport ${this.serverPort} -j DROP`,
      `-i lo -p tcp --sport ${this.serverPort} --dport ${c} -j DROP`,
    ]);
    const lines = keep.map((k) => `-I INPUT 1 ${k}`);
    if (this.#general) lines.push(`-D INPUT ${dropTo(this.serverPort)}`, `-D INPUT ${dropFrom(this.serverPort)}`);
    await iptablesBatch(lines);
    this.#general = false;
    this.#pairs.push(...keep);
  }

  async close(): Promise<void> {
    await iptables(['-F', 'INPUT']).catch(() => {});
  }
}

class ProxyFaults implements LinkFaults {
  readonly kind = 'proxy' as const;
  readonly canKeepOldDropped = false;
  readonly serverPort: number;

  constructor(
    readonly proxy: FaultProxy,
    readonly knownHostsFile: string,
  ) {
    this.serverPort = proxy.port;
  }

  async blackhole(): Promise<void> {
    this.proxy.freeze();
  }

  async restore(): Promise<void> {
    this.proxy.thaw();
  }

  async restoreExcept(): Promise<void> {
    throw new Error('the fault proxy cannot keep one connection dropped while letting new ones through (needs root: network namespace)');
  }

  async close(): Promise<void> {
    await this.proxy.close();
  }
}

/**
 * Faults for one sshd. `hostKeyLine` is the server's public key ("ssh-ed25519 AAAA…"): the tools
 * get a known_hosts file naming the server by the port they actually connect to.
 */
export async function linkFaults(opts: { sshdPort: number; hostKeyLine: string; dir: string; sshdKnownHosts: string }): Promise<LinkFaults> {
  if (faultKind() === 'netns') return new NetnsFaults(opts.sshdPort, opts.sshdKnownHosts);
  const proxy = await FaultProxy.start('127.0.0.1', opts.sshdPort);
  const knownHosts = join(opts.dir, 'known_hosts.proxy');
  await writeFile(knownHosts, `[127.0.0.1]:${proxy.port} ${opts.hostKeyLine}\n`);
  return new ProxyFaults(proxy, knownHosts);
}
