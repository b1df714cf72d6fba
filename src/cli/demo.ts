/**
 * `autotunnel demo`: the whole product on an embedded example. A throwaway sshd on loopback, an
 * echo target, a tunnel through them; then the faults our users meet — the ssh client killed,
 * the server restarted — and the recovery, timed. Everything is removed afterwards.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { parseEnv } from '../config/env.js';
import { UsageError } from '../config/errors.js';
import { createLogger } from '../observe/logger.js';
import { logTunnelEvent } from '../observe/event-log.js';
import { Supervisor } from '../supervisor/supervisor.js';
import type { Tunnel } from '../supervisor/tunnel.js';
import type { TunnelState } from '../supervisor/events.js';
import { ThrowawaySshd } from '../demo/throwaway-sshd.js';
import { echoRoundTrip, startEchoTarget } from '../demo/echo-target.js';
import { buildTunnel, findSshTools } from './wiring.js';
import { fileInfo } from '../adapters/files.js';

const STEP_TIMEOUT_MS = 15_000;
const SERVER_DOWN_MS = 2_000;
const ROUND_TRIP_TIMEOUT_MS = 2_000;

const HELP = `Usage: autotunnel demo [-R | -L | -D] [--quiet]

Starts a throwaway OpenSSH sshd on 127.0.0.1 with generated keys and an echo target, keeps a
tunnel up through it (-R by default), sends traffic through it, kills the ssh client, restarts
the server, and shows the tunnel coming back each time. Needs /usr/sbin/sshd (openssh-server).
  --quiet   only the demo's own lines, not autotunnel's log`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function runDemo(args: string[]): Promise<number> {
  let mode = '-R';
  let quiet = false;
  for (const a of args) {
    if (a === '-R' || a === '-L' || a === '-D') mode = a;
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(HELP + '\n');
      return 0;
    } else throw new UsageError(`demo: unknown argument "${a}"\n${HELP}`);
  }
  const say = (m: string) => process.stdout.write(`\n▶ ${m}\n`);
  const logger = createLogger({ format: 'text', level: quiet ? 'error' : 'info', write: (l) => process.stdout.write(`  ${l}`) });

  const tools = findSshTools(process.env.AUTOTUNNEL_SSH);
  const sshd = await ThrowawaySshd.create(await freePort());
  const target = await startEchoTarget();
  const supervisor = new Supervisor();
  let cleanupFiles = () => {};
  try {
    say(`starting a throwaway sshd on 127.0.0.1:${sshd.port} and an echo target on 127.0.0.1:${target.port}`);
    await sshd.start();

    const tunnelPort = await freePort();
    const env = {
      SSH_MODE: mode,
      SSH_REMOTE_HOST: '127.0.0.1',
      SSH_REMOTE_PORT: String(sshd.port),
      SSH_REMOTE_USER: userInfo().username,
      SSH_KEY_FILE: sshd.clientKey,
      SSH_TUNNEL_PORT: String(tunnelPort),
      SSH_TARGET_HOST: '127.0.0.1',
      SSH_TARGET_PORT: String(target.port),
      AUTOTUNNEL_NAME: 'demo',
    };
    say(`the tunnel, configured as the jnovack/autossh image would be:\n  ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    const { spec, warnings, notices } = parseEnv(env, { fileInfo, inContainer: false, random: Math.random });
    // The demo's own known_hosts file: keys from an earlier demo run would not match.
    const stateDir = join(sshd.dir, 'state');
    [...notices, ...warnings].forEach((m) => logger.log('info', m, { tunnel: spec.name }));
    const built = buildTunnel(spec, { tools, stateDir, stateDirExplicit: true, logger });
    cleanupFiles = built.cleanup;
    const tunnel = built.tunnel;
    supervisor.events.on((e) => logTunnelEvent(logger, e));
    const seen = watchRestarts(tunnel);
    supervisor.add(tunnel);

    const message = `hello through the tunnel (${mode})`;
    const roundTrip = () =>
      mode === '-D'
        ? echoRoundTrip('127.0.0.1', tunnelPort, message, ROUND_TRIP_TIMEOUT_MS, { host: '127.0.0.1', port: target.port })
        : // -R: the server listens on its 127.0.0.1:tunnelPort (same machine here) and forwards back to the target.
          echoRoundTrip('127.0.0.1', tunnelPort, message, ROUND_TRIP_TIMEOUT_MS);

    const t0 = Date.now();
    supervisor.startAll();
    await waitForState(tunnel, 'up', STEP_TIMEOUT_MS, seen);
    say(`tunnel up in ${Date.now() - t0} ms; sending traffic through 127.0.0.1:${tunnelPort}`);
    const echoed = await roundTrip();
    if (echoed !== message) throw new Error(`traffic did not come back through the tunnel (got ${JSON.stringify(echoed)})`);
    say(`the target echoed: "${echoed}"`);

    const pid = tunnel.pid;
    say(`fault 1: killing the ssh client (pid ${pid}) with SIGKILL`);
    const t1 = Date.now();
    process.kill(pid!, 'SIGKILL');
    await waitForState(tunnel, 'backoff', STEP_TIMEOUT_MS, seen);
    await waitForState(tunnel, 'up', STEP_TIMEOUT_MS, seen);
    const back1 = await waitForTraffic(roundTrip, message);
    say(`recovered: traffic flows again ${back1 - t1} ms after the kill`);

    say(`fault 2: stopping the server for ${SERVER_DOWN_MS / 1000} s, then starting it again`);
    await sshd.stop();
    await waitForState(tunnel, 'backoff', STEP_TIMEOUT_MS, seen);
    await new Promise((r) => setTimeout(r, SERVER_DOWN_MS));
    const t2 = Date.now();
    await sshd.start();
    await waitForState(tunnel, 'up', STEP_TIMEOUT_MS, seen);
    const back2 = await waitForTraffic(roundTrip, message);
    say(`recovered: traffic flows again ${back2 - t2} ms after the server came back`);

    say(`done: ${seen.restarts} restarts, state ${tunnel.state}. Cleaning up.`);
    return 0;
  } catch (e) {
    say(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await supervisor.stopAll();
    cleanupFiles();
    await target.close();
    await sshd.dispose();
  }
}

/** Restarts and the last cause, from the tunnel's events. */
function watchRestarts(tunnel: Tunnel): { restarts: number; lastCause?: string } {
  const seen: { restarts: number; lastCause?: string } = { restarts: 0 };
  tunnel.events.on((e) => {
    if (e.type !== 'state' || e.to !== 'backoff') return;
    seen.restarts++;
    seen.lastCause = e.cause?.summary;
  });
  return seen;
}

function waitForState(tunnel: Tunnel, state: TunnelState, timeoutMs: number, seen?: { lastCause?: string }): Promise<void> {
  if (tunnel.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`the tunnel did not reach "${state}" within ${timeoutMs / 1000} s (it is ${tunnel.state}: ${seen?.lastCause ?? 'no cause recorded'})`));
    }, timeoutMs);
    const off = tunnel.events.on((e) => {
      if (e.type === 'state' && e.to === state) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

/** Polls until a round trip succeeds; returns the time it did. */
async function waitForTraffic(roundTrip: () => Promise<string | undefined>, message: string): Promise<number> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await roundTrip()) === message) return Date.now();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('traffic did not flow through the recovered tunnel');
}
