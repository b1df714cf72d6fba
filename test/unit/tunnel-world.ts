/**
 * Tunnels on shared fakes (virtual clock, scripted ssh, scripted probes), one at a time
 * (setup) or many under a Supervisor (world), for the tests of the Tunnel and its policies.
 */
import assert from 'node:assert/strict';
import { Supervisor, type Supervised } from '../../src/supervisor/supervisor.js';
import { Tunnel, type TunnelDeps } from '../../src/supervisor/tunnel.js';
import { DEFAULT_BACKOFF, type Forward, type TunnelSpec } from '../../src/config/spec.js';
import type { ServerWatch } from '../../src/supervisor/reachability.js';
import { ENV_SETTING_NAMES } from '../../src/config/env.js';
import type { StateChange, TunnelEvent, TunnelState } from '../../src/supervisor/events.js';
import { FakeClock, FakeProbe, FakeSpawner, NO_EXTRA_SSH, testCommand, testSpec, type FakeSsh } from './fakes.js';

// ── one tunnel ──────────────────────────────────────────────────────────────

export const SERVER = { host: 'bastion.example', port: 22 };
export const LOCAL: Forward = { kind: 'local', bindAddress: '127.0.0.1', bindPort: 8080, targetHost: 'db', targetPort: 5432 };
export const REMOTE: Forward = { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 4000, targetHost: 'localhost', targetPort: 80 };

export const LINES = {
  connecting: 'debug1: Connecting to bastion.example [192.0.2.1] port 22.',
  established: 'debug1: Connection established.',
  authenticated: 'Authenticated to bastion.example ([192.0.2.1]:22) using "publickey".',
  listening: (port: number) => `debug1: Local forwarding listening on 127.0.0.1 port ${port}.`,
  session: 'debug1: Entering interactive session.',
  remoteOk: (port: number) => `debug1: remote forward success for: listen 127.0.0.1:${port}, connect localhost:80`,
  allOk: 'debug1: forwarding_success: all expected forwarding replies received',
  refused: 'ssh: connect to host bastion.example port 22: Connection refused',
  denied: 'root@bastion.example: Permission denied (publickey).',
  keepalive: 'Timeout, server bastion.example not responding.',
  dropped: 'kex_exchange_identification: Connection closed by remote host',
  /** A failure after the server answered: the ordinary exponential backoff applies. */
  closed: 'Connection closed by 192.0.2.1 port 22',
};

export interface SetupOptions {
  random?: number;
  addsRemoteForwards?: boolean;
  proxied?: boolean;
  clock?: FakeClock;
  watch?: ServerWatch;
  name?: string;
  abortOrphans?: (address: string, port: number) => void;
  readyMarker?: string;
  processState?: (pid: number) => string | undefined;
}

export function setup(forwards: Forward[] = [LOCAL], opts: SetupOptions = {}) {
  const clock = opts.clock ?? new FakeClock();
  const spawner = new FakeSpawner();
  const probe = new FakeProbe(clock);
  const spec = testSpec(opts.name ?? 't1', forwards, { user: 'root', ...SERVER }, {
    ssh: { ...NO_EXTRA_SSH, addsRemoteForwards: opts.addsRemoteForwards ?? false, proxied: opts.proxied ?? false },
  });
  const command = testCommand(spec, ['-N', '--', SERVER.host]);
  const tunnel = new Tunnel(spec, opts.readyMarker ? { ...command, readyMarker: opts.readyMarker } : command, {
    clock,
    spawnSsh: spawner.spawn,
    probeTcp: probe.probe,
    random: () => opts.random ?? 0.5,
    ...(opts.watch ? { watch: opts.watch } : {}),
    ...(opts.abortOrphans ? { abortOrphans: opts.abortOrphans } : {}),
    ...(opts.processState ? { processState: opts.processState } : {}),
  });
  const events: TunnelEvent[] = [];
  tunnel.events.on((e) => events.push(e));
  const states = () => events.filter((e): e is StateChange => e.type === 'state');
  const lastState = () => states().at(-1)!;
  return { clock, spawner, probe, tunnel, events, states, lastState };
}

/** ssh fails `times` times with `line`, each backoff waited out: builds up a long backoff. */
export async function failRepeatedly(t: ReturnType<typeof setup>, line: string, times: number) {
  for (let i = 0; i < times; i++) {
    t.spawner.last.say(line);
    t.spawner.last.exit();
    await t.clock.advance(t.lastState().delayMs!);
  }
}

/** Brings a -L tunnel up through the lines real ssh prints. */
export async function bringUpLocal(t: ReturnType<typeof setup>, port = 8080) {
  t.probe.set('127.0.0.1', port, 'open');
  t.spawner.last.say(LINES.established, LINES.authenticated, LINES.listening(port), LINES.session);
  await t.clock.advance(0);
}

// ── many tunnels under a Supervisor ─────────────────────────────────────────

export const HOST = 'bastion.example';

export const FLEET_LINES = {
  remoteOk: 'debug1: remote forward success for: listen 127.0.0.1:4000, connect localhost:80',
  refused: `ssh: connect to host ${HOST} port 22: Connection refused`,
  session: 'debug1: Entering interactive session.',
  listeningPath: (path: string) => `debug1: Local forwarding listening on path ${path}.`,
  listening: (port: number) => `debug1: Local forwarding listening on 127.0.0.1 port ${port}.`,
};

export function spec(name: string, over: Partial<TunnelSpec> = {}, server: Partial<TunnelSpec['server']> = {}): TunnelSpec {
  return {
    name,
    server: { user: 'root', host: HOST, port: 22, hostKey: { mode: 'trust-on-first-use', checkHostIp: true }, ...server },
    forwards: [REMOTE],
    keepalive: { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } },
    connectTimeoutSec: 10,
    ssh: NO_EXTRA_SSH,
    settingNames: ENV_SETTING_NAMES,
    backoff: { ...DEFAULT_BACKOFF },
    ...over,
  };
}

export type Extra = Partial<Pick<TunnelDeps, 'gate' | 'probeUnix'>>;

/**
 * Tunnels built on shared fakes. Each ssh's last argument names its tunnel, so a test can find
 * the processes of one tunnel; each cleanup records the tunnel's state when it was called.
 */
export function world(extra: Extra = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const probe = new FakeProbe(clock);
  const cleanups: string[] = [];
  const builds: string[] = [];
  const build = (s: TunnelSpec): Supervised => {
    builds.push(s.name);
    const tunnel = new Tunnel(s, testCommand(s, ['-N', '--', s.server.host, `#${s.name}`]), {
      clock,
      spawnSsh: spawner.spawn,
      probeTcp: probe.probe,
      random: () => 0.5,
      ...extra,
    });
    return { tunnel, cleanup: () => cleanups.push(`${s.name}:${tunnel.state}`) };
  };
  const supervisor = new Supervisor(clock);
  const events: TunnelEvent[] = [];
  supervisor.events.on((e) => events.push(e));
  const sshOf = (name: string): FakeSsh[] => spawner.spawned.filter((p) => p.args.at(-1) === `#${name}`);
  const lastSsh = (name: string): FakeSsh => {
    const p = sshOf(name).at(-1);
    assert.ok(p, `no ssh for ${name}`);
    return p;
  };
  /** Which tunnel each spawned ssh belongs to, in spawn order. */
  const spawnOrder = () => spawner.spawned.map((p) => String(p.args.at(-1)).slice(1));
  const state = (name: string): TunnelState | undefined => supervisor.get(name)?.state;
  const statesOf = (name: string) => events.filter((e): e is StateChange => e.type === 'state' && e.tunnel === name);
  return { clock, spawner, probe, cleanups, builds, build, supervisor, events, sshOf, lastSsh, spawnOrder, state, statesOf };
}
