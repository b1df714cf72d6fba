/** `autotunnel status` and `health`: where they ask, and the table a person reads. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/config/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import type { ApiTunnel, ApiTunnels } from '../../src/observe/api.js';
import { UnreachableError, parseClientArgs } from '../../src/cli/observe-client.js';
import { formatStatus } from '../../src/cli/status.js';

describe('parseClientArgs', () => {
  const parse = (args: string[], env: Record<string, string | undefined> = {}) => parseClientArgs('health', args, ['--live'], env);

  test('the address comes from AUTOTUNNEL_HTTP, a wildcard bind asked on loopback', () => {
    assert.equal(parse([]).base, 'http://127.0.0.1:9810');
    assert.equal(parse([], { AUTOTUNNEL_HTTP: '0.0.0.0:9100' }).base, 'http://127.0.0.1:9100');
    assert.equal(parse([], { AUTOTUNNEL_HTTP: '[::]:9100' }).base, 'http://[::1]:9100');
  });

  test('--url wins, in either spelling; flags are collected', () => {
    assert.equal(parse(['--url', 'http://10.0.0.5:9810/'], { AUTOTUNNEL_HTTP: 'off' }).base, 'http://10.0.0.5:9810');
    const p = parse(['--live', '--url=http://h:1']);
    assert.equal(p.base, 'http://h:1');
    assert.deepEqual([...p.flags], ['--live']);
  });

  test('AUTOTUNNEL_HTTP=off without --url: nothing to ask', () => {
    assert.throws(() => parse([], { AUTOTUNNEL_HTTP: 'off' }), (e: unknown) => e instanceof UnreachableError && /turned off/.test(e.message));
  });

  test('bad arguments are usage errors; a bad AUTOTUNNEL_HTTP is a configuration error', () => {
    assert.throws(() => parse(['--json']), (e: unknown) => e instanceof UsageError && /unknown argument "--json"/.test(e.message));
    assert.throws(() => parse(['--url']), UsageError);
    assert.throws(() => parse(['--url', 'ftp://x']), UsageError);
    assert.throws(() => parse([], { AUTOTUNNEL_HTTP: 'nonsense' }), ConfigError);
  });
});

describe('formatStatus', () => {
  const now = Date.parse('2026-11-25T12:00:00.000Z');
  const ago = (ms: number) => new Date(now - ms).toISOString();
  const tunnel = (t: Partial<ApiTunnel> & Pick<ApiTunnel, 'name' | 'state'>): ApiTunnel => ({
    required: true,
    up: t.state === 'up',
    since: ago(252_000),
    forSeconds: 252,
    stateSince: ago(252_000),
    attempt: 1,
    restarts: 0,
    restartsByCause: {},
    lastCause: null,
    backoffSeconds: null,
    nextAttemptAt: null,
    upSince: null,
    lastConnectSeconds: null,
    pid: null,
    allocatedPorts: [],
    uptimeRatio: null,
    timeline: { start: ago(3_600_000), bucketSeconds: 60, phases: ['up', 'connecting', 'down', 'stopped'], buckets: [] },
    held: false,
    target: { reachable: null, errors: 0, lastError: null, lastOkAt: null },
    ...t,
  });
  const api: ApiTunnels = {
    version: '1',
    now: new Date(now).toISOString(),
    startedAt: ago(7_200_000),
    ready: false,
    readiness: 'not ready: 1 of 2 required tunnels up; db down for 4m 12s (the server refused the connection)',
    live: true,
    control: false,
    tunnels: [
      tunnel({ name: 'web', state: 'up', restarts: 2, lastCause: { code: 'killed', kind: 'transient', summary: 'ssh was killed by SIGKILL', at: ago(600_000) } }),
      tunnel({
        name: 'db',
        state: 'backoff',
        restarts: 7,
        lastCause: { code: 'connection_refused', kind: 'network', summary: 'the server refused the connection', at: ago(1_000) },
        nextAttemptAt: new Date(now + 2_500).toISOString(),
      }),
      tunnel({ name: 'batch', state: 'connecting', required: false, since: ago(3_000) }),
    ],
  };

  test('one aligned row per tunnel, then the readiness line', () => {
    assert.equal(
      formatStatus(api, { color: false }),
      [
        'TUNNEL            STATE       SINCE       RESTARTS  LAST CAUSE',
        'web               up          4m 12s ago  2         last down 10m ago: ssh was killed by SIGKILL',
        'db                down        4m 12s ago  7         the server refused the connection; retry in 2.5s',
        'batch (optional)  connecting  3.0s ago    0         -',
        '',
        'not ready: 1 of 2 required tunnels up; db down for 4m 12s (the server refused the connection)',
        '',
      ].join('\n'),
    );
  });

  test('colour only on the state, and only when asked', () => {
    const coloured = formatStatus(api, { color: true });
    assert.match(coloured, /\x1b\[32mup {8}\x1b\[0m/);
    assert.match(coloured, /\x1b\[31mdown {6}\x1b\[0m/);
    assert.equal(coloured.replace(/\x1b\[\d+m/g, ''), formatStatus(api, { color: false }));
  });

  test('up with the target unreachable (amber), disabled, stopped on request', () => {
    const more: ApiTunnels = {
      ...api,
      readiness: 'ready: 1 required tunnel up',
      tunnels: [
        tunnel({ name: 'web', state: 'up', target: { reachable: false, errors: 3, lastError: { summary: 'the server could not reach the target (connection refused)', at: ago(12_000) }, lastOkAt: null } }),
        tunnel({ name: 'staging', state: 'disabled', held: true }),
        tunnel({ name: 'db', state: 'stopped', held: true }),
      ],
    };
    assert.equal(
      formatStatus(more, { color: false }),
      [
        'TUNNEL   STATE                   SINCE       RESTARTS  LAST CAUSE',
        'web      up, target unreachable  4m 12s ago  0         the server could not reach the target (connection refused) (12s ago, 3 failed connections so far)',
        'staging  disabled                4m 12s ago  0         enabled: false in the configuration ("autotunnel start staging" runs it)',
        'db       stopped                 4m 12s ago  0         stopped on request ("autotunnel start db" runs it again)',
        '',
        'ready: 1 required tunnel up',
        '',
      ].join('\n'),
    );
    assert.match(formatStatus(more, { color: true }), /\x1b\[33mup, target unreachable\x1b\[0m/);
  });
});
