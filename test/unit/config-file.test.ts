/**
 * parseConfigFile: YAML tunnels files → TunnelSpecs. Good fixtures are checked spec by spec; every
 * bad fixture must give exactly the problems listed in test/fixtures/config/bad/expected.json.
 * Files and the environment are faked, so nothing depends on this machine.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_MAX_HANDSHAKES, parseConfigFile, type FileConfig, type FileFacts } from '../../src/config/file.js';
import { ConfigError, EXIT_CONFIG, formatProblem } from '../../src/config/errors.js';
import { DEFAULT_BACKOFF, type KeepaliveSpec, type SettingNames, type TunnelSpec } from '../../src/config/spec.js';
import { FakeFiles } from './fakes.js';

const ROOT = join(import.meta.dirname, '..', '..');
const GOOD = 'test/fixtures/config/good';
const BAD = 'test/fixtures/config/bad';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7';

/** The world every fixture is read in: these files exist, nothing else does. */
function world(env: Record<string, string | undefined> = { VPS_HOST: 'vps.example.com', EDGE_HOST: 'edge.example.net', BUILD_USER: '' }) {
  const files = new FakeFiles({
    '/run/secrets/tunnel_key': { text: '-----BEGIN OPENSSH PRIVATE KEY-----\n…\n' },
    '/etc/autotunnel/known_hosts': { text: `bastion.example.com ${ED25519}\n` },
    '/run/secrets/vps_host_key': { text: `${ED25519}\n` },
    '/run/secrets/edge_host_key': { text: `${ED25519}\n\n` },
    '/run/secrets/edge_user': { text: 'deploy\n' },
    '/run/secrets/db_user_ok': { text: 'dbuser\n' },
    '/run/secrets/locked_host_key': { readable: false },
    '/etc/autotunnel': { isFile: false },
  });
  const facts: FileFacts = { fileInfo: files.fileInfo, readText: files.readText, env };
  return { files, facts };
}

/** Parses a fixture, naming it by its path relative to the repository (as a user would pass it). */
function parseFixture(relative: string, facts: FileFacts = world().facts): FileConfig {
  return parseConfigFile(relative, readFileSync(join(ROOT, relative), 'utf8'), facts);
}

function parseText(text: string, facts: FileFacts = world().facts): FileConfig {
  return parseConfigFile('tunnels.yaml', text, facts);
}

/** The problems, rendered as the user sees them. */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.problems.map(formatProblem);
  }
  assert.fail('expected a ConfigError, but the file was accepted');
}

const DEFAULT_KEEPALIVE: KeepaliveSpec = { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } };
const TOFU = { mode: 'trust-on-first-use', checkHostIp: true } as const;
const NO_EXTRA_SSH = { extraArgs: [], addsRemoteForwards: false, proxied: false };

/** How fix texts name the settings of tunnels[i] when the file sets none of them: where to set each. */
function yamlNames(i: number, over: Partial<SettingNames> = {}): SettingNames {
  const server = `tunnels[${i}].server`;
  return {
    host: `${server}.host`,
    port: `${server}.port`,
    user: `${server}.user`,
    key: `${server}.key_file`,
    localPort: `tunnels[${i}].forwards[0].local`,
    hostKey: `${server}.host_key`,
    knownHosts: `${server}.known_hosts_file`,
    ...over,
  };
}

describe('config file: good fixtures', () => {
  test('minimal.yaml: one tunnel, every default', () => {
    const config = parseFixture(`${GOOD}/minimal.yaml`);
    assert.equal(config.maxHandshakes, DEFAULT_MAX_HANDSHAKES);
    assert.equal(config.maxHandshakes, 8);
    assert.deepEqual(config.warnings, []);
    const expected: TunnelSpec = {
      name: 'db',
      server: { user: 'root', host: 'bastion.example.com', port: 22, hostKey: TOFU },
      forwards: [{ kind: 'local', bindPort: 5432, targetHost: 'db.internal', targetPort: 5432 }],
      keepalive: DEFAULT_KEEPALIVE,
      connectTimeoutSec: 10,
      ssh: NO_EXTRA_SSH,
      backoff: { ...DEFAULT_BACKOFF },
      required: true,
      settingNames: yamlNames(0),
    };
    assert.deepEqual(config.tunnels, [expected]);
  });

  test('readme-example.yaml: the README example is valid, and a tunnel\'s host_key_file overrides the defaults\' known_hosts_file', () => {
    const { files, facts } = world();
    const config = parseFixture(`${GOOD}/readme-example.yaml`, facts);
    assert.equal(config.maxHandshakes, 8);
    assert.deepEqual(config.warnings, []);
    const [db, web] = config.tunnels;
    assert.equal(config.tunnels.length, 2);
    const keepalive: KeepaliveSpec = { intervalSec: 2, countMax: 3, explicit: { interval: true, countMax: true } };
    assert.deepEqual(db, {
      name: 'db',
      server: {
        user: 'tunnel',
        host: 'bastion.example.com',
        port: 22,
        hostKey: { mode: 'known-hosts', file: '/etc/autotunnel/known_hosts', checkHostIp: true },
        identity: { file: '/run/secrets/tunnel_key', explicit: true },
      },
      forwards: [{ kind: 'local', bindAddress: '127.0.0.1', bindPort: 5432, targetHost: 'db.internal', targetPort: 5432 }],
      keepalive,
      connectTimeoutSec: 10,
      ssh: NO_EXTRA_SSH,
      backoff: { ...DEFAULT_BACKOFF },
      required: true,
      settingNames: yamlNames(0, { user: 'defaults.server.user', key: 'defaults.server.key_file', knownHosts: 'defaults.server.known_hosts_file' }),
    } satisfies TunnelSpec);
    assert.deepEqual(web, {
      name: 'web',
      server: {
        user: 'tunnel',
        host: 'vps.example.com',
        port: 2222,
        hostKey: { mode: 'pinned', knownHostsLines: [`[vps.example.com]:2222 ${ED25519}`], checkHostIp: true },
        identity: { file: '/run/secrets/tunnel_key', explicit: true },
        jump: ['jump@gateway.example.com'],
      },
      forwards: [
        { kind: 'remote', bindAddress: '0.0.0.0', bindPort: 8080, targetHost: 'localhost', targetPort: 80 },
        { kind: 'dynamic', bindPort: 1080 },
      ],
      keepalive,
      connectTimeoutSec: 10,
      ssh: { extraArgs: ['-o', 'Compression=yes'], addsRemoteForwards: false, proxied: true },
      backoff: { ...DEFAULT_BACKOFF, initialMs: 200, maxMs: 60_000, stableAfterMs: 10_000 },
      required: false,
      settingNames: yamlNames(1, {
        user: 'defaults.server.user',
        key: 'defaults.server.key_file',
        hostKey: 'tunnels[1].server.host_key_file',
        localPort: 'tunnels[1].forwards[1].dynamic',
      }),
    } satisfies TunnelSpec);
    assert.deepEqual(files.read, ['/run/secrets/vps_host_key'], 'the known_hosts file and key are only checked, not read');
    assert.deepEqual([...new Set(files.asked)].sort(), ['/etc/autotunnel/known_hosts', '/run/secrets/tunnel_key']);
  });

  test('many-tunnels.yaml: defaults, overrides, every forward kind, sockets, IPv6, jump hosts, secrets from files', () => {
    const config = parseFixture(`${GOOD}/many-tunnels.yaml`);
    assert.equal(config.maxHandshakes, 4);
    assert.deepEqual(config.tunnels.map((t) => t.name), ['postgres', 'web-in', 'socks.eu-1', 'docker_sock']);
    assert.deepEqual(config.warnings, [
      `${GOOD}/many-tunnels.yaml:39:9 tunnels[1] (web-in).server.options: -o ExitOnForwardFailure=no is ignored: a tunnel whose forward failed must exit so it can be retried`,
    ]);
    const [postgres, webIn, socks, docker] = config.tunnels as [TunnelSpec, TunnelSpec, TunnelSpec, TunnelSpec];

    // Inherited from defaults.
    const defaultServer = {
      user: 'tunnel',
      host: 'bastion.staging.example.com', // ${BASTION_HOST:-…}, BASTION_HOST unset
      port: 2222,
      hostKey: { mode: 'known-hosts', file: '/etc/autotunnel/known_hosts', checkHostIp: true },
      identity: { file: '/run/secrets/tunnel_key', explicit: true },
    } as const;
    const defaultOptions = ['-o', 'Compression=yes', '-o', 'SetEnv=TUNNEL_OWNER=ops team'];
    const defaultKeepalive: KeepaliveSpec = { intervalSec: 5, countMax: 4, explicit: { interval: true, countMax: true } };
    const defaultBackoff = { ...DEFAULT_BACKOFF, initialMs: 500, maxMs: 60_000, stableAfterMs: 30_000 };

    assert.deepEqual(postgres.server, defaultServer);
    assert.deepEqual(postgres.forwards, [
      { kind: 'local', bindAddress: '127.0.0.1', bindPort: 5432, targetHost: 'db.internal', targetPort: 5432 },
      { kind: 'local', bindAddress: '::1', bindPort: 5433, targetHost: '2001:db8::10', targetPort: 5432 },
    ]);
    assert.deepEqual(postgres.ssh.extraArgs, defaultOptions);
    assert.deepEqual(postgres.keepalive, defaultKeepalive);
    assert.deepEqual(postgres.backoff, defaultBackoff);
    assert.equal(postgres.connectTimeoutSec, 15);
    assert.equal(postgres.required, true);

    // Overrides: user_file replaces the defaults' user, host_key_file the defaults' known_hosts_file.
    assert.deepEqual(webIn.server, {
      user: 'deploy',
      host: 'edge.example.net',
      port: 22,
      hostKey: { mode: 'pinned', knownHostsLines: [`edge.example.net ${ED25519}`], checkHostIp: false },
      identity: { file: '/run/secrets/tunnel_key', explicit: true },
    });
    assert.deepEqual(webIn.forwards, [
      { kind: 'remote', bindAddress: '0.0.0.0', bindPort: 8080, targetHost: 'localhost', targetPort: 80 },
      { kind: 'remote', bindPort: 0, targetSocket: '/run/app/http.sock' },
    ]);
    assert.deepEqual(webIn.ssh.extraArgs, ['-4', '-o', 'ExitOnForwardFailure=no'], 'a list is taken word for word, replacing the defaults\' options');
    assert.deepEqual(webIn.keepalive, { intervalSec: 10, countMax: 2, explicit: { interval: true, countMax: true } });
    assert.deepEqual(webIn.backoff, { ...DEFAULT_BACKOFF, initialMs: 1000, maxMs: 120_000, stableAfterMs: 0 });
    assert.equal(webIn.connectTimeoutSec, 15);
    assert.equal(webIn.required, false);

    assert.deepEqual(socks.server, { ...defaultServer, jump: ['jump1.example.com', 'ops@jump2.example.com:2200'] });
    assert.deepEqual(socks.forwards, [
      { kind: 'dynamic', bindPort: 1080 },
      { kind: 'dynamic', bindAddress: '::1', bindPort: 1081 },
    ]);
    assert.deepEqual(socks.keepalive, defaultKeepalive);
    assert.deepEqual(socks.backoff, defaultBackoff);

    assert.deepEqual(docker.server, {
      ...defaultServer,
      user: 'ci', // ${BUILD_USER:-ci} with BUILD_USER empty
      host: 'build.example.com',
      jump: ['ci@gateway.example.com', '[2001:db8::1]:22'],
    });
    assert.deepEqual(docker.forwards, [
      { kind: 'local', bindPort: 0, bindSocket: '/run/autotunnel/docker.sock', targetSocket: '/var/run/docker.sock' },
      { kind: 'remote', bindPort: 0, bindSocket: '/tmp/agent.sock', targetSocket: '/run/user/1000/agent.sock' },
      { kind: 'local', bindAddress: '0.0.0.0', bindPort: 2375, targetSocket: '/var/run/docker.sock' },
    ]);
    assert.equal(docker.connectTimeoutSec, 5);
    assert.deepEqual(docker.ssh.extraArgs, defaultOptions);
  });

  test('pinned-ipv6.yaml: inline host keys for an IPv6 server on another port; keepalive count only', () => {
    const config = parseFixture(`${GOOD}/pinned-ipv6.yaml`);
    assert.deepEqual(config.tunnels, [
      {
        name: 'metrics',
        server: {
          user: 'metrics',
          host: '2001:db8::42',
          port: 2200,
          hostKey: {
            mode: 'pinned',
            // A bare key gets the [host]:port pattern; a whole known_hosts line is kept; comments dropped.
            knownHostsLines: [`[2001:db8::42]:2200 ${ED25519}`, `[2001:db8::42]:2200 ${RSA}`],
            checkHostIp: true,
          },
        },
        forwards: [
          { kind: 'local', bindPort: 9100, targetHost: 'localhost', targetPort: 9100 },
          { kind: 'local', bindPort: 9101, targetHost: '127.0.0.1', targetPort: 9101 },
        ],
        keepalive: { intervalSec: 2, countMax: 0, explicit: { interval: false, countMax: true } },
        connectTimeoutSec: 10,
        ssh: NO_EXTRA_SSH,
        backoff: { ...DEFAULT_BACKOFF },
        required: false,
        settingNames: yamlNames(0, { localPort: 'tunnels[0].forwards[0].local or tunnels[0].forwards[1].local' }),
      },
    ] satisfies TunnelSpec[]);
  });
});

describe('config file: bad fixtures give exactly the expected problems', () => {
  const expected = JSON.parse(readFileSync(join(ROOT, BAD, 'expected.json'), 'utf8')) as Record<string, string[]>;
  const fixtures = readdirSync(join(ROOT, BAD)).filter((f) => f.endsWith('.yaml')).sort();

  test('every bad fixture has its expected problems, and every entry has its fixture', () => {
    assert.deepEqual(Object.keys(expected).sort(), fixtures);
  });

  for (const file of fixtures) {
    test(file, () => {
      const relative = `${BAD}/${file}`;
      let error: unknown;
      try {
        parseFixture(relative);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof ConfigError, `${file} was accepted`);
      assert.equal(error.exitCode, EXIT_CONFIG);
      assert.deepEqual(error.problems.map(formatProblem), expected[file]);
      assert.equal(error.message, expected[file]!.join('\n'));
    });
  }
});

describe('config file: details', () => {
  const ONE = (server: string, forwards = '      - local: 5432\n        to: db:5432\n') => `tunnels:\n  - name: t\n    server:\n${server}    forwards:\n${forwards}`;

  test('an IPv6 host written in brackets is kept bare', () => {
    assert.equal(parseText(ONE('      host: "[2001:db8::42]"\n')).tunnels[0]!.server.host, '2001:db8::42');
  });

  test("a tunnel's keepalive and backoff fields override the defaults' one by one", () => {
    const text = [
      'defaults:',
      '  keepalive: { interval: 5 }',
      '  backoff: { initial: 0.5, max: 60 }',
      'tunnels:',
      '  - name: t',
      '    server: { host: h }',
      '    forwards: [{ local: 5432, to: "db:5432" }]',
      '    keepalive: { count_max: 2 }',
      '    backoff: { max: 10 }',
      '  - name: u',
      '    server: { host: h }',
      '    forwards: [{ local: 5433, to: "db:5432" }]',
      '',
    ].join('\n');
    const [t, u] = parseText(text).tunnels;
    assert.deepEqual(t!.keepalive, { intervalSec: 5, countMax: 2, explicit: { interval: true, countMax: true } });
    assert.equal(t!.backoff.initialMs, 500);
    assert.equal(t!.backoff.maxMs, 10_000);
    assert.deepEqual(u!.keepalive, { intervalSec: 5, countMax: 3, explicit: { interval: true, countMax: false } });
    assert.equal(u!.backoff.maxMs, 60_000);
  });

  test('${VAR}, ${VAR:-default}, an empty variable counts as unset, and $$ is a literal $', () => {
    const text = ONE('      host: ${HOST}\n      user: ${USER_NAME:-fallback}\n      options: -o "SetEnv=PRICE=$$5" -o SetEnv=X=${EMPTY:-}y\n');
    const config = parseText(text, world({ HOST: 'h.example.com', USER_NAME: '' }).facts);
    assert.equal(config.tunnels[0]!.server.host, 'h.example.com');
    assert.equal(config.tunnels[0]!.server.user, 'fallback');
    assert.deepEqual(config.tunnels[0]!.ssh.extraArgs, ['-o', 'SetEnv=PRICE=$5', '-o', 'SetEnv=X=y']);
  });

  test('an unset variable names the first one missing, with the text as written', () => {
    assert.deepEqual(problems(() => parseText(ONE('      host: ${A}.${B}\n'), world({}).facts)), [
      'tunnels.yaml:4:13 tunnels[0] (t).server.host="${A}.${B}": the environment variable A is not set; set it, or give a default as ${A:-value}',
    ]);
  });

  test('*_file secrets: the file\'s text, trailing newline dropped; EISDIR reported', () => {
    const config = parseText(ONE('      host: h\n      user_file: /run/secrets/edge_user\n'));
    assert.equal(config.tunnels[0]!.server.user, 'deploy');
    assert.deepEqual(problems(() => parseText(ONE('      host: h\n      user_file: /etc/autotunnel\n'))), [
      'tunnels.yaml:5:18 tunnels[0] (t).server.user_file="/etc/autotunnel": cannot read it (EISDIR); mount the file there or fix the path',
    ]);
  });

  test('key_file and known_hosts_file must be readable regular files', () => {
    assert.deepEqual(problems(() => parseText(ONE('      host: h\n      key_file: /etc/autotunnel\n      known_hosts_file: /etc/autotunnel\n'))), [
      'tunnels.yaml:5:17 tunnels[0] (t).server.key_file="/etc/autotunnel": that is not a regular file; point it at the private key',
      'tunnels.yaml:6:25 tunnels[0] (t).server.known_hosts_file="/etc/autotunnel": no readable file there; mount your known_hosts file, or leave the key out to trust it on first use',
    ]);
  });

  test('a tunnel\'s own user or host-key source replaces the defaults\' alternatives', () => {
    const text = [
      'defaults:',
      '  server:',
      '    host: bastion.example.com',
      '    user_file: /run/secrets/edge_user',
      `    host_key: ${ED25519}`,
      'tunnels:',
      '  - name: inherits',
      '    forwards: [{ local: 1, to: "db:1" }]',
      '  - name: overrides',
      '    server: { user: ops, known_hosts_file: /etc/autotunnel/known_hosts }',
      '    forwards: [{ local: 2, to: "db:1" }]',
      '',
    ].join('\n');
    const [inherits, overrides] = parseText(text).tunnels;
    assert.equal(inherits!.server.user, 'deploy');
    assert.deepEqual(inherits!.server.hostKey, { mode: 'pinned', knownHostsLines: [`bastion.example.com ${ED25519}`], checkHostIp: true });
    assert.equal(overrides!.server.user, 'ops');
    assert.deepEqual(overrides!.server.hostKey, { mode: 'known-hosts', file: '/etc/autotunnel/known_hosts', checkHostIp: true });
  });

  test('two host-key sources within one block are still refused', () => {
    const text = `defaults:\n  server:\n    host: h\n    host_key_file: /run/secrets/vps_host_key\n    known_hosts_file: /etc/autotunnel/known_hosts\ntunnels:\n  - name: a\n    forwards: [{ local: 1, to: "db:1" }]\n  - name: b\n    forwards: [{ local: 2, to: "db:1" }]\n`;
    assert.deepEqual(problems(() => parseText(text)), [
      'tunnels.yaml:5:23 defaults.server.known_hosts_file: give only one of host_key_file, known_hosts_file',
    ]);
  });

  test('a warning from defaults is given once, not once per tunnel', () => {
    const text = `defaults:\n  server:\n    host: h\n    options: -o BatchMode=no\ntunnels:\n  - name: a\n    forwards: [{ local: 1, to: "db:1" }]\n  - name: b\n    forwards: [{ local: 2, to: "db:1" }]\n`;
    assert.deepEqual(parseText(text).warnings, [
      'tunnels.yaml:4:14 defaults.server.options: -o BatchMode=no is ignored: autotunnel runs ssh without a terminal and sets BatchMode=yes',
    ]);
  });

  test('options: a string is split by shell rules; bad quoting is reported', () => {
    assert.deepEqual(parseText(ONE(`      host: h\n      options: -o 'ProxyCommand=nc %h %p' -v\n`)).tunnels[0]!.ssh.extraArgs, ['-o', 'ProxyCommand=nc %h %p', '-v']);
    const bad = problems(() => parseText(ONE(`      host: h\n      options: -o 'Compression=yes\n`)));
    assert.equal(bad.length, 1);
    assert.match(bad[0]!, /^tunnels\.yaml:5:16 tunnels\[0\] \(t\)\.server\.options="-o 'Compression=yes": .+; quote as in a shell, or write a list$/);
  });

  test('local listeners that do not clash: other addresses, remote forwards, different sockets', () => {
    const forwards = [
      '      - local: 127.0.0.1:8080\n        to: a:1',
      '      - local: 127.0.0.2:8080\n        to: a:1',
      '      - remote: 8080\n        to: localhost:80',
      '      - remote: 8080\n        to: localhost:81',
      '      - local: /run/a.sock\n        to: a:1',
      '      - local: /run/b.sock\n        to: a:1',
      '      - local: 8081\n        to: /run/a.sock',
      '',
    ].join('\n');
    assert.equal(parseText(ONE('      host: h\n', forwards)).tunnels[0]!.forwards.length, 7);
  });

  test('local listeners that clash: default address vs any address, [::] vs ::1, a specific address then "*"', () => {
    const forwards = [
      '      - local: 8080\n        to: a:1',
      '      - local: "[::1]:8080"\n        to: a:1',
      '      - dynamic: "[::]:9090"',
      '      - local: 192.0.2.1:9090\n        to: a:1',
      '      - dynamic: 127.0.0.1:7070',
      '      - local: "*:7070"\n        to: a:1',
      '',
    ].join('\n');
    assert.deepEqual(problems(() => parseText(ONE('      host: h\n', forwards))), [
      'tunnels.yaml:8:9 t.forwards[1]: local port 8080 is already claimed by tunnel "t" at tunnels.yaml:6:9; give each local listener its own port',
      'tunnels.yaml:11:9 t.forwards[3]: local port 9090 is already claimed by tunnel "t" at tunnels.yaml:10:9; give each local listener its own port',
      'tunnels.yaml:14:9 t.forwards[5]: local port 7070 is already claimed by tunnel "t" at tunnels.yaml:13:9; give each local listener its own port',
    ]);
  });

  test('an empty value is reported as missing, not as "null"', () => {
    assert.deepEqual(problems(() => parseText('tunnels:\n')), ['tunnels.yaml:1:9 tunnels: expected a list with at least one tunnel (each item begins with "- name: …")']);
    assert.deepEqual(problems(() => parseText(ONE('      host:\n'))), ['tunnels.yaml:4:12 tunnels[0] (t).server.host: expected a text value']);
  });

  test('the top level must be a mapping (a collection given instead is shown as JSON)', () => {
    assert.deepEqual(problems(() => parseText('- name: t\n')), [
      'tunnels.yaml:1:1 (top level)="[{\\"name\\":\\"t\\"}]": expected a mapping with keys: defaults, tunnels, max_handshakes, notify, control',
    ]);
  });

  test('every problem of a file is reported at once, in file order', () => {
    const text = [
      'max_handshakes: lots',
      'tunnels:',
      '  - name: "bad name"',
      '    server: { host: h, port: 0 }',
      '    forwards: [{ local: 1 }]',
      '  - name: ok',
      '    server: { host: h }',
      '    forwards: [{ dynamic: 1080 }]',
      '    connect_timeout: 0',
      '',
    ].join('\n');
    assert.deepEqual(problems(() => parseText(text)), [
      'tunnels.yaml:1:17 max_handshakes="lots": expected a whole number from 1 to 1000 (handshakes at once per server)',
      'tunnels.yaml:3:11 tunnels[0].name="bad name": expected a short name of letters, digits, ".", "_" and "-" (at most 63)',
      'tunnels.yaml:4:30 tunnels[0] (bad name).server.port="0": expected a TCP port number from 1 to 65535',
      'tunnels.yaml:5:16 tunnels[0] (bad name).forwards[0].to: missing: where connections go, e.g. to: db.internal:5432',
      'tunnels.yaml:9:22 tunnels[1] (ok).connect_timeout="0": expected whole seconds from 1 to 3600',
    ]);
  });

  test('durations: plain seconds, fractions, ms, s and m', () => {
    const backoff = (b: string) => parseText(`${ONE('      host: h\n')}    backoff: ${b}\n`).tunnels[0]!.backoff;
    assert.deepEqual(backoff('{ initial: 0.05, max: "90s", stable_after: 2m }'), { ...DEFAULT_BACKOFF, initialMs: 50, maxMs: 90_000, stableAfterMs: 120_000 });
    assert.deepEqual(backoff('{ initial: 250ms }'), { ...DEFAULT_BACKOFF, initialMs: 250 });
    assert.deepEqual(problems(() => backoff('{ initial: 0 }')), [
      'tunnels.yaml:8:25 tunnels[0] (t).backoff.initial="0": expected a duration of at least 0.01 s, e.g. 10, 0.5, "500ms" or "2m"',
    ]);
  });
});

describe('config file: notify, control, enabled, check, ready_requires_target', () => {
  const TUNNEL = ['tunnels:', '  - name: db', '    server: { host: bastion.example.com }', '    forwards:', '      - local: 5432', '        to: db.internal:5432'];

  test('read into the config and the spec; defaults json, 30 s, 30 s checks', () => {
    const files = new FakeFiles({ '/run/secrets/hook': { text: 'https://hooks.slack.com/services/T/B/SECRET\n' } });
    const c = parseText(
      [
        'notify:',
        '  - url: https://ntfy.example/topic',
        '  - url_file: /run/secrets/hook',
        '    format: slack',
        '    after: 2m',
        'control: { token_file: /run/secrets/control }',
        ...TUNNEL,
        '    enabled: false',
        '    check: { tcp: true }',
        '    ready_requires_target: true',
      ].join('\n'),
      { fileInfo: files.fileInfo, readText: files.readText, env: {} },
    );
    assert.deepEqual(c.notify, [
      { url: 'https://ntfy.example/topic', format: 'json', afterMs: 30_000, origin: 'notify[0].url' },
      { url: 'https://hooks.slack.com/services/T/B/SECRET', format: 'slack', afterMs: 120_000, origin: 'notify[1].url_file' },
    ]);
    assert.deepEqual(c.control, { file: '/run/secrets/control', origin: 'control.token_file' });
    assert.equal(c.tunnels[0]!.enabled, false);
    assert.deepEqual(c.tunnels[0]!.check, { everyMs: 30_000 });
    assert.equal(c.tunnels[0]!.readyRequiresTarget, true);
    const plain = parseText(TUNNEL.join('\n'));
    assert.equal('enabled' in plain.tunnels[0]! || 'check' in plain.tunnels[0]! || 'readyRequiresTarget' in plain.tunnels[0]!, false, 'absent unless set: a reload of an older file changes nothing');
  });

  test('check through a -D forward needs a target, and takes one only there', () => {
    const socks = (check: string, forward = '{ dynamic: 1080 }') => ['tunnels:', '  - name: s', '    server: { host: bastion.example.com }', `    check: ${check}`, `    forwards: [${forward}]`].join('\n');
    assert.deepEqual(parseText(socks('{ tcp: true, target: "intranet.example:443", every: 5s }')).tunnels[0]!.check, { everyMs: 5_000, socksTarget: { host: 'intranet.example', port: 443 } });
    assert.deepEqual(problems(() => parseText(socks('{ tcp: true }'))), [
      "tunnels.yaml:4:19 tunnels[0] (s).check.tcp: needs a local TCP forward (local: port with to: host:port), or a dynamic one with check.target: host:port, to connect through; a -R target is watched from ssh's own reports",
    ]);
    assert.deepEqual(problems(() => parseText(socks('{ tcp: true, target: "x:1" }', '{ local: 5432, to: "db:5432" }'))), [
      'tunnels.yaml:4:33 tunnels[0] (s).check.target="x:1": only for a dynamic (SOCKS) forward: a local forward\'s target is its to:',
    ]);
    assert.deepEqual(problems(() => parseText(socks('{ tcp: true, target: intranet }'))), ['tunnels.yaml:4:33 tunnels[0] (s).check.target="intranet": expected host:port (or a /path/to/socket), e.g. localhost:80']);
  });

  test('bad values: each named where it is, the URL never echoed', () => {
    assert.deepEqual(
      problems(() =>
        parseText(
          [
            'notify:',
            '  - url: ftp://user:SECRET@x/y',
            '    format: teams',
            '  - url_file: /nowhere',
            '  - after: 10s',
            'control: { token_file: }',
            'tunnels:',
            '  - name: socks',
            '    server: { host: bastion.example.com }',
            '    check: { tcp: true, every: 0.5 }',
            '    forwards: [{ dynamic: 1080 }]',
            '  - name: rem',
            '    server: { host: bastion.example.com }',
            '    check: { tcp: true }',
            '    forwards: [{ remote: 8080, to: "localhost:80" }]',
          ].join('\n'),
        ),
      ),
      [
        'tunnels.yaml:2:10 notify[0].url: expected an http:// or https:// URL, not ftp: (the value is not shown: it may hold a token)',
        'tunnels.yaml:3:13 notify[0].format="teams": expected json (the default: tunnel, state, cause, fix, durations, time, host), text (one plain sentence: ntfy, Gotify) or slack ({"text": …}: Slack, Mattermost, Discord\'s /slack endpoint)',
        'tunnels.yaml:4:15 notify[1].url_file="/nowhere": no such file; mount it there or fix the path',
        'tunnels.yaml:5:5 notify[2].url: missing: the webhook URL (url:), or a file holding it (url_file:)',
        'tunnels.yaml:6:24 control.token_file: expected a text value',
        'tunnels.yaml:10:32 tunnels[0] (socks).check.every="0.5": expected a duration of at least 1 s, e.g. 10, 0.5, "500ms" or "2m"',
        'tunnels.yaml:14:19 tunnels[1] (rem).check.tcp: needs a local TCP forward (local: port with to: host:port), or a dynamic one with check.target: host:port, to connect through; a -R target is watched from ssh\'s own reports',
      ],
    );
  });
});
