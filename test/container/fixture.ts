/**
 * The far side of the container test (scripts/container-test.sh): a real sshd and an echo
 * target on the host's loopback, which a container on the host network tunnels through.
 *
 * Run as a co-process: it prints one JSON line once everything listens, then answers one
 * command per line on stdin with one line on stdout. On "quit" or at the end of stdin (the
 * script died) it stops sshd and removes every file it made.
 *
 *   {"sshPort":…,"user":…,"echoPort":…,"dir":…}      dir: id_rsa (0444), known_hosts (0644)
 *   stop-sshd | start-sshd                          → ok | error <message>
 *   roundtrip PORT                                  → yes | no   (echo through 127.0.0.1:PORT)
 *   wait-roundtrip PORT TIMEOUT_MS                  → yes <ms> | no <ms>   (polls roundtrip)
 *   wait-socks PORT TIMEOUT_MS                      → yes <ms> | no <ms>   (SOCKS5 on PORT to the echo target)
 *   quit
 */
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestSshd } from '../harness/sshd.js';
import { roundTrip, socksRoundTrip, startEchoServer } from '../harness/echo.js';

/** Bound on one echo round trip through a tunnel. */
const ROUND_TRIP_TIMEOUT_MS = 1_000;
/** How often wait-roundtrip tries again; also the resolution of start-to-up times. */
const POLL_INTERVAL_MS = 25;

async function main(): Promise<void> {
  // The server drops a vanished client's session within seconds, so a -R port is not held
  // by a stale session when a test restarts a container.
  const sshd = await TestSshd.start({ extraConfig: ['ClientAliveInterval 2', 'ClientAliveCountMax 2'] });
  const echo = await startEchoServer();
  // Files the containers mount. Readable by any uid, as Docker secrets are (0444): the
  // container's user is not the owner, so autotunnel must make its own private copy.
  const dir = await mkdtemp(join(tmpdir(), 'autotunnel-container-'));
  await chmod(dir, 0o755);
  await copyFile(sshd.clientKeyPath, join(dir, 'id_rsa'));
  await chmod(join(dir, 'id_rsa'), 0o444);
  await copyFile(sshd.knownHostsPath, join(dir, 'known_hosts'));
  await chmod(join(dir, 'known_hosts'), 0o644);

  let closing: Promise<void> | undefined;
  const cleanup = () =>
    (closing ??= (async () => {
      await Promise.allSettled([sshd.cleanup(), echo.close()]);
      await rm(dir, { recursive: true, force: true });
    })());

  const reply = (line: string) => process.stdout.write(line + '\n');
  reply(JSON.stringify({ sshPort: sshd.port, user: sshd.user, echoPort: echo.port, dir }));

  const commands = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of commands) {
    const [command, ...args] = line.trim().split(/\s+/);
    try {
      switch (command) {
        case 'stop-sshd':
          await sshd.stop();
          reply('ok');
          break;
        case 'start-sshd':
          await sshd.start();
          reply('ok');
          break;
        case 'roundtrip':
          reply((await roundTrip('127.0.0.1', Number(args[0]), { timeoutMs: ROUND_TRIP_TIMEOUT_MS })) ? 'yes' : 'no');
          break;
        case 'wait-roundtrip':
          reply(await poll(() => roundTrip('127.0.0.1', Number(args[0]), { timeoutMs: ROUND_TRIP_TIMEOUT_MS }), Number(args[1])));
          break;
        case 'wait-socks':
          reply(await poll(() => socksRoundTrip(Number(args[0]), '127.0.0.1', echo.port, { timeoutMs: ROUND_TRIP_TIMEOUT_MS }), Number(args[1])));
          break;
        case 'quit':
          await cleanup();
          reply('ok');
          return;
        default:
          reply(`error unknown command "${line}"`);
      }
    } catch (e) {
      reply(`error ${(e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ')}`);
    }
  }
  await cleanup();
}

/** Tries until `attempt` succeeds or timeoutMs passed: "yes <ms>" or "no <ms>". */
async function poll(attempt: () => Promise<boolean>, timeoutMs: number): Promise<string> {
  const started = Date.now();
  let ok = false;
  while (!ok && Date.now() - started < timeoutMs) {
    ok = await attempt();
    if (!ok) await sleep(POLL_INTERVAL_MS);
  }
  return `${ok ? 'yes' : 'no'} ${Date.now() - started}`;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`fixture: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
