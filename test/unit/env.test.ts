/**
 * parseEnv: the jnovack/autossh SSH_* variables → one TunnelSpec. Pure, so every variable,
 * default and bad value is checked here with a fake view of the file system.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_KEY_FILE,
  DEFAULT_KNOWN_HOSTS_FILE,
  RANDOM_PORT_MAX,
  RANDOM_PORT_MIN,
  ENV_SETTING_NAMES,
  parseEnv,
  type Env,
  type EnvConfig,
  type EnvFacts,
} from '../../src/config/env.js';
import type { FileInfo } from '../../src/config/files.js';
import { pinnedKnownHostsLines } from '../../src/config/host-keys.js';
import { ConfigError, EXIT_CONFIG, formatProblem, type ConfigProblem } from '../../src/config/errors.js';
import { DEFAULT_BACKOFF, type TunnelSpec } from '../../src/config/spec.js';
import { PORT_EXPECTED } from '../../src/config/validate.js';

const READABLE: FileInfo = { isFile: true, readable: true };
const UNREADABLE: FileInfo = { isFile: true, readable: false };
const DIRECTORY: FileInfo = { isFile: false, readable: true };

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const ED25519_TYPE = 'ssh-ed25519';
const ED25519_BLOB = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const RSA_BLOB = 'AAAAB3NzaC1yc2EAAAADAQABAAABAQC7';

interface FakeFacts extends EnvFacts {
  randomCalls: number;
  asked: string[];
}

/** A fake world: `files` maps path → FileInfo; anything else does not exist. */
function fakeFacts(files: Record<string, FileInfo> = {}, opts: { inContainer?: boolean; random?: number } = {}): FakeFacts {
  const facts: FakeFacts = {
    randomCalls: 0,
    asked: [],
    inContainer: opts.inContainer ?? false,
    fileInfo(path) {
      facts.asked.push(path);
      return Object.hasOwn(files, path) ? files[path] : undefined;
    },
    random() {
      facts.randomCalls++;
      return opts.random ?? 0.5;
    },
  };
  return facts;
}

/** Fixed tunnel port so tests about other variables don't depend on the random one. */
const BASE: Env = { SSH_TUNNEL_PORT: '9000' };

function parse(env: Env, facts: EnvFacts = fakeFacts()): EnvConfig {
  return parseEnv({ ...BASE, ...env }, facts);
}

function spec(env: Env, facts?: EnvFacts): TunnelSpec {
  return parse(env, facts).spec;
}

/** Parses and expects a ConfigError; checks the things every ConfigError must satisfy. */
function configError(env: Env, facts: EnvFacts = fakeFacts()): ConfigError {
  let caught: unknown;
  try {
    parseEnv({ ...BASE, ...env }, facts);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.equal(caught.exitCode, 78);
  assert.equal(caught.exitCode, EXIT_CONFIG);
  assert.equal(caught.name, 'ConfigError');
  assert.ok(caught.problems.length > 0);
  assert.equal(caught.message, caught.problems.map(formatProblem).join('\n'));
  for (const p of caught.problems) assert.match(p.expected, /\S/, `empty explanation for ${p.where}`);
  return caught;
}

/** The one problem of an error that is expected to have exactly one. */
function onlyProblem(env: Env, facts?: EnvFacts): ConfigProblem {
  const err = configError(env, facts);
  assert.equal(err.problems.length, 1, `expected one problem, got: ${err.message}`);
  return err.problems[0]!;
}

function assertProblem(p: ConfigProblem, where: string, value: string | undefined, expected: RegExp): void {
  assert.equal(p.where, where);
  assert.equal(p.value, value);
  assert.match(p.expected, expected);
}

describe('parseEnv defaults (nothing set)', () => {
  test('produce the documented spec', () => {
    const facts = fakeFacts({}, { random: 0.5 });
    const { spec: s, warnings, notices } = parseEnv({}, facts);
    const randomPort = RANDOM_PORT_MIN + Math.floor(0.5 * (RANDOM_PORT_MAX - RANDOM_PORT_MIN + 1));
    assert.equal(randomPort, 49152);
    assert.deepEqual(s, {
      name: 'tunnel',
      server: { user: 'root', host: 'localhost', port: 22, hostKey: { mode: 'trust-on-first-use', checkHostIp: true } },
      forwards: [{ kind: 'remote', bindAddress: '127.0.0.1', bindPort: 49152, targetHost: 'localhost', targetPort: 22 }],
      keepalive: { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } },
      connectTimeoutSec: 10,
      ssh: { extraArgs: [], addsRemoteForwards: false, proxied: false },
      backoff: DEFAULT_BACKOFF,
      settingNames: ENV_SETTING_NAMES,
    });
    assert.equal('identity' in s.server, false);
    assert.notEqual(s.backoff, DEFAULT_BACKOFF, 'backoff must be a copy, not the shared default object');
    assert.deepEqual(warnings, []);
    assert.deepEqual(notices, [
      'SSH_TUNNEL_PORT is not set: using random port 49152',
      `no known_hosts file at ${DEFAULT_KNOWN_HOSTS_FILE}: the server's host key will be trusted on first use, remembered, and a changed key refused`,
      `no key at ${DEFAULT_KEY_FILE} and SSH_KEY_FILE is not set: ssh will use its default identities (~/.ssh/id_*) and any ssh-agent`,
    ]);
    assert.equal(facts.randomCalls, 1);
    assert.deepEqual(facts.asked.sort(), ['/id_rsa', '/known_hosts']);
  });

  test('default file locations are /id_rsa and /known_hosts, like the jnovack image', () => {
    assert.equal(DEFAULT_KEY_FILE, '/id_rsa');
    assert.equal(DEFAULT_KNOWN_HOSTS_FILE, '/known_hosts');
  });

  test('an empty or blank value means unset for every variable', () => {
    const names = [
      'SSH_REMOTE_USER', 'SSH_REMOTE_HOST', 'SSH_REMOTE_PORT', 'SSH_TUNNEL_PORT', 'SSH_TARGET_HOST', 'SSH_TARGET_PORT',
      'SSH_BIND_IP', 'SSH_MODE', 'SSH_STRICT_HOST_IP_CHECK', 'SSH_KEY_FILE', 'SSH_KNOWN_HOSTS_FILE', 'SSH_HOST_KEY',
      'SSH_SERVER_ALIVE_INTERVAL', 'SSH_SERVER_ALIVE_COUNT_MAX', 'SSH_CONNECT_TIMEOUT', 'SSH_OPTIONS', 'AUTOTUNNEL_NAME',
    ];
    const unset = parseEnv({}, fakeFacts());
    for (const blank of ['', '   ', '\t\n']) {
      const env = Object.fromEntries(names.map((n) => [n, blank]));
      assert.deepEqual(parseEnv(env, fakeFacts()), unset, `value ${JSON.stringify(blank)}`);
    }
  });

  test('surrounding whitespace is trimmed from values', () => {
    const s = spec({ SSH_REMOTE_HOST: '  example.com ', SSH_REMOTE_PORT: ' 2222\n', SSH_MODE: ' -L ' });
    assert.equal(s.server.host, 'example.com');
    assert.equal(s.server.port, 2222);
    assert.equal(s.forwards[0]!.kind, 'local');
  });
});

describe('SSH_REMOTE_USER', () => {
  test('is the login name; default root', () => {
    assert.equal(spec({ SSH_REMOTE_USER: 'alice' }).server.user, 'alice');
    assert.equal(spec({}).server.user, 'root');
  });

  test('accepts domain-style and dotted names', () => {
    assert.equal(spec({ SSH_REMOTE_USER: 'alice@corp.example' }).server.user, 'alice@corp.example');
    assert.equal(spec({ SSH_REMOTE_USER: 'first.last_2-x' }).server.user, 'first.last_2-x');
  });

  test('refuses a name starting with "-" (ssh would read it as an option)', () => {
    assertProblem(onlyProblem({ SSH_REMOTE_USER: '-oProxyCommand=id' }), 'SSH_REMOTE_USER', '-oProxyCommand=id', /must not begin with "-".*expected a login name/);
  });

  for (const bad of ['al ice', 'a;b', 'a$b', 'a`id`', "o'brien", 'a"b', 'a|b', 'a&b', 'a>b', 'a(b)', 'a*', 'a/b', 'a:b', 'a\\b']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assertProblem(onlyProblem({ SSH_REMOTE_USER: bad }), 'SSH_REMOTE_USER', bad, /^expected a login name without spaces, quotes or shell characters$/);
    });
  }
});

describe('SSH_REMOTE_HOST', () => {
  test('default localhost', () => {
    assert.equal(spec({}).server.host, 'localhost');
  });

  for (const good of ['example.com', 'example.com.', 'my_host', 'host-1.internal', '10.0.0.1', '::1', '2001:db8::5', 'fe80::1%eth0', '1host']) {
    test(`accepts ${good}`, () => {
      assert.equal(spec({ SSH_REMOTE_HOST: good }).server.host, good);
    });
  }

  test('accepts [::1] and keeps the address without brackets (ssh takes the bare address after --; probes need it bare)', () => {
    assert.equal(spec({ SSH_REMOTE_HOST: '[::1]' }).server.host, '::1');
    assert.equal(spec({ SSH_MODE: '-L', SSH_TARGET_HOST: '[2001:db8::5]' }).forwards[0]!.targetHost, '2001:db8::5');
  });

  test('refuses a host starting with "-" (option injection)', () => {
    assertProblem(
      onlyProblem({ SSH_REMOTE_HOST: '-oProxyCommand=touch /tmp/pwned' }),
      'SSH_REMOTE_HOST',
      '-oProxyCommand=touch /tmp/pwned',
      /must not begin with "-".*expected a host name or IP address/,
    );
  });

  for (const bad of ['exa mple.com', 'host;rm -rf /', '$(id)', 'host`id`', 'a..b', 'a/b', 'user@host', 'host:22', 'a|b', '*.example.com', '.example.com', 'x'.repeat(64)]) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assertProblem(onlyProblem({ SSH_REMOTE_HOST: bad }), 'SSH_REMOTE_HOST', bad, /^expected a host name \(letters, digits, "-", "\." and "_"\) or an IP address$/);
    });
  }
});

describe('ports', () => {
  test('SSH_REMOTE_PORT: default 22, any 1..65535', () => {
    assert.equal(spec({}).server.port, 22);
    assert.equal(spec({ SSH_REMOTE_PORT: '2222' }).server.port, 2222);
    assert.equal(spec({ SSH_REMOTE_PORT: '1' }).server.port, 1);
    assert.equal(spec({ SSH_REMOTE_PORT: '65535' }).server.port, 65535);
    assert.equal(spec({ SSH_REMOTE_PORT: '0022' }).server.port, 22);
  });

  const badPorts = ['70000', '65536', 'abc', '-1', ' 22x', '22.0', '0x16', '1e3', '+22', '2 2', '９９'];
  for (const name of ['SSH_REMOTE_PORT', 'SSH_TUNNEL_PORT', 'SSH_TARGET_PORT']) {
    for (const bad of badPorts) {
      test(`${name}=${JSON.stringify(bad)} is refused`, () => {
        assertProblem(onlyProblem({ [name]: bad }), name, bad.trim(), new RegExp(`^${PORT_EXPECTED}$`));
      });
    }
  }

  test('PORT_EXPECTED says the range', () => {
    assert.equal(PORT_EXPECTED, 'expected a TCP port number from 1 to 65535');
  });

  test('0 is refused for SSH_REMOTE_PORT and SSH_TARGET_PORT, with the -R hint', () => {
    for (const name of ['SSH_REMOTE_PORT', 'SSH_TARGET_PORT']) {
      const p = onlyProblem({ [name]: '0' });
      assertProblem(p, name, '0', /^expected a TCP port number from 1 to 65535 \(0 is only allowed for SSH_TUNNEL_PORT in -R mode/);
    }
  });

  test('SSH_TUNNEL_PORT: an explicit port in every mode, without using randomness', () => {
    for (const mode of ['-R', '-L', '-D']) {
      const facts = fakeFacts();
      const { spec: s, notices } = parseEnv({ SSH_MODE: mode, SSH_TUNNEL_PORT: '8000' }, facts);
      assert.equal(s.forwards[0]!.bindPort, 8000);
      assert.equal(facts.randomCalls, 0);
      assert.equal(notices.some((n) => n.includes('random')), false);
    }
  });

  test('SSH_TUNNEL_PORT unset: a random port above 32768 (injected randomness), and a notice naming it', () => {
    const cases: Array<[number, number]> = [
      [0, 32769],
      [0.5, 49152],
      [0.999999999, 65535],
    ];
    for (const [r, expected] of cases) {
      const facts = fakeFacts({}, { random: r });
      const { spec: s, notices } = parseEnv({}, facts);
      assert.equal(s.forwards[0]!.bindPort, expected, `random()=${r}`);
      assert.equal(facts.randomCalls, 1);
      assert.ok(notices.includes(`SSH_TUNNEL_PORT is not set: using random port ${expected}`), notices.join('\n'));
    }
    assert.equal(RANDOM_PORT_MIN, 32769);
    assert.equal(RANDOM_PORT_MAX, 65535);
  });

  test('SSH_TUNNEL_PORT unset in -L and -D mode is random too', () => {
    for (const mode of ['-L', '-D']) {
      const { spec: s } = parseEnv({ SSH_MODE: mode }, fakeFacts({}, { random: 0 }));
      assert.equal(s.forwards[0]!.bindPort, 32769);
    }
  });

  test('SSH_TUNNEL_PORT=0 is allowed in -R mode (the server picks the port)', () => {
    for (const mode of [undefined, '-R', 'R']) {
      const s = spec({ SSH_TUNNEL_PORT: '0', ...(mode ? { SSH_MODE: mode } : {}) });
      assert.deepEqual(s.forwards[0], { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 0, targetHost: 'localhost', targetPort: 22 });
    }
  });

  test('SSH_TUNNEL_PORT=0 is refused in -L and -D mode, saying where 0 is allowed', () => {
    for (const mode of ['-L', 'L', '-D', 'D']) {
      const p = onlyProblem({ SSH_MODE: mode, SSH_TUNNEL_PORT: '0' });
      assertProblem(p, 'SSH_TUNNEL_PORT', '0', /^expected a TCP port number from 1 to 65535 \(0 is only allowed for SSH_TUNNEL_PORT in -R mode, where the server picks the port\)$/);
    }
  });
});

describe('SSH_MODE', () => {
  const kinds: Array<[string, string]> = [
    ['-R', 'remote'], ['R', 'remote'],
    ['-L', 'local'], ['L', 'local'],
    ['-D', 'dynamic'], ['D', 'dynamic'],
  ];
  for (const [mode, kind] of kinds) {
    test(`${mode} → ${kind}`, () => {
      assert.equal(spec({ SSH_MODE: mode }).forwards[0]!.kind, kind);
    });
  }

  test('default is -R (remote)', () => {
    assert.equal(spec({}).forwards[0]!.kind, 'remote');
  });

  test('lower case is accepted', () => {
    assert.equal(spec({ SSH_MODE: '-l' }).forwards[0]!.kind, 'local');
    assert.equal(spec({ SSH_MODE: 'd' }).forwards[0]!.kind, 'dynamic');
  });

  // Names of Object.prototype members must not pass as modes through a plain-object lookup.
  for (const bad of ['X', '-X', 'LR', '--L', '-', 'local', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    test(`${JSON.stringify(bad)} is refused`, () => {
      assertProblem(onlyProblem({ SSH_MODE: bad }), 'SSH_MODE', bad, /^expected -R \(remote forward, the default\), -L \(local forward\) or -D \(SOCKS proxy\); R, L and D are accepted too$/);
    });
  }
});

describe('forwards per mode', () => {
  test('-R: server port → local target; defaults localhost:22 bound on the server\'s 127.0.0.1', () => {
    assert.deepEqual(spec({ SSH_MODE: '-R' }).forwards, [
      { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 9000, targetHost: 'localhost', targetPort: 22 },
    ]);
  });

  test('-L with every variable set', () => {
    const { spec: s, warnings } = parse({
      SSH_MODE: '-L', SSH_BIND_IP: '0.0.0.0', SSH_TUNNEL_PORT: '8000', SSH_TARGET_HOST: 'db.internal', SSH_TARGET_PORT: '5432',
    });
    assert.deepEqual(s.forwards, [{ kind: 'local', bindAddress: '0.0.0.0', bindPort: 8000, targetHost: 'db.internal', targetPort: 5432 }]);
    assert.deepEqual(warnings, []);
  });

  test('-R with every variable set', () => {
    const s = spec({ SSH_MODE: 'R', SSH_BIND_IP: '127.0.0.1', SSH_TUNNEL_PORT: '9443', SSH_TARGET_HOST: '192.168.1.10', SSH_TARGET_PORT: '443' });
    assert.deepEqual(s.forwards, [{ kind: 'remote', bindAddress: '127.0.0.1', bindPort: 9443, targetHost: '192.168.1.10', targetPort: 443 }]);
  });

  test('IPv6 target host is kept as given', () => {
    assert.equal(spec({ SSH_MODE: '-L', SSH_TARGET_HOST: '2001:db8::5' }).forwards[0]!.targetHost, '2001:db8::5');
  });

  test('-D: a SOCKS forward without target; target variables are ignored with a warning each', () => {
    const { spec: s, warnings } = parse({ SSH_MODE: '-D', SSH_TUNNEL_PORT: '1080', SSH_TARGET_HOST: 'db', SSH_TARGET_PORT: '5432' });
    assert.deepEqual(s.forwards, [{ kind: 'dynamic', bindAddress: '127.0.0.1', bindPort: 1080 }]);
    assert.deepEqual(warnings, [
      "SSH_TARGET_HOST is ignored in -D mode: a SOCKS proxy's clients choose their own targets",
      "SSH_TARGET_PORT is ignored in -D mode: a SOCKS proxy's clients choose their own targets",
    ]);
  });

  test('-D: target variables are not even validated (they are ignored)', () => {
    const { spec: s, warnings } = parse({ SSH_MODE: '-D', SSH_TARGET_HOST: '-bad host', SSH_TARGET_PORT: 'abc' });
    assert.equal(s.forwards[0]!.targetHost, undefined);
    assert.equal(warnings.length, 2);
  });

  test('-D without target variables: no warning', () => {
    assert.deepEqual(parse({ SSH_MODE: '-D' }).warnings, []);
  });

  test('SSH_TARGET_HOST is validated like a host name in -L and -R', () => {
    for (const mode of ['-L', '-R']) {
      assertProblem(onlyProblem({ SSH_MODE: mode, SSH_TARGET_HOST: 'a b' }), 'SSH_TARGET_HOST', 'a b', /expected a host name/);
      assertProblem(onlyProblem({ SSH_MODE: mode, SSH_TARGET_HOST: '-x' }), 'SSH_TARGET_HOST', '-x', /must not begin with "-"/);
    }
  });
});

describe('SSH_BIND_IP', () => {
  test('default 127.0.0.1 in every mode', () => {
    for (const mode of ['-R', '-L', '-D']) assert.equal(spec({ SSH_MODE: mode }).forwards[0]!.bindAddress, '127.0.0.1');
  });

  for (const good of ['0.0.0.0', '127.0.0.1', '192.168.1.5', '::', '::1', '[::1]', 'localhost', '*', 'bind-host.local']) {
    test(`accepts ${good}`, () => {
      assert.equal(spec({ SSH_MODE: '-L', SSH_BIND_IP: good }).forwards[0]!.bindAddress, good);
    });
  }

  test('refuses a value starting with "-"', () => {
    assertProblem(onlyProblem({ SSH_BIND_IP: '-oX' }), 'SSH_BIND_IP', '-oX', /^must not begin with "-"; expected an IP address/);
  });

  for (const bad of ['1.2.3.4 5', 'not an ip!', '$(id)', '0.0.0.0;id', '[::1']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assertProblem(onlyProblem({ SSH_BIND_IP: bad }), 'SSH_BIND_IP', bad, /^expected an IP address such as 127\.0\.0\.1 or 0\.0\.0\.0, "localhost" or "\*"$/);
    });
  }

  test('-R with a non-loopback bind address warns about sshd GatewayPorts', () => {
    for (const addr of ['0.0.0.0', '*', '::', '10.1.2.3']) {
      const { warnings } = parse({ SSH_MODE: '-R', SSH_BIND_IP: addr });
      assert.equal(warnings.length, 1, `${addr}: ${warnings.join('\n')}`);
      assert.match(warnings[0]!, /GatewayPorts is "yes" or "clientspecified"/);
      assert.ok(warnings[0]!.startsWith(`SSH_BIND_IP=${addr} in -R mode`));
    }
  });

  test('-R with a loopback bind address, or none, does not warn', () => {
    for (const addr of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]', undefined]) {
      assert.deepEqual(parse({ SSH_MODE: '-R', ...(addr ? { SSH_BIND_IP: addr } : {}) }, fakeFacts({}, { inContainer: true })).warnings, [], String(addr));
    }
  });

  test('-L/-D in a container bound to loopback by default: hint to bind 0.0.0.0; not when SSH_BIND_IP chose it', () => {
    for (const [mode, flag] of [['-L', '-L'], ['D', '-D']] as const) {
      const { warnings } = parse({ SSH_MODE: mode }, fakeFacts({}, { inContainer: true }));
      assert.deepEqual(warnings, [
        `in a container, a ${flag} port bound to 127.0.0.1 is reachable only from inside this container (unless it runs on the host's network); set SSH_BIND_IP=0.0.0.0 so other containers (or published ports) can reach it`,
      ]);
      for (const bind of ['127.0.0.1', 'localhost', '::1']) {
        assert.deepEqual(parse({ SSH_MODE: mode, SSH_BIND_IP: bind }, fakeFacts({}, { inContainer: true })).warnings, []);
      }
    }
  });

  test('-L/-D: no container hint outside a container or with a non-loopback bind', () => {
    for (const mode of ['-L', '-D']) {
      assert.deepEqual(parse({ SSH_MODE: mode }, fakeFacts({}, { inContainer: false })).warnings, []);
      assert.deepEqual(parse({ SSH_MODE: mode, SSH_BIND_IP: '0.0.0.0' }, fakeFacts({}, { inContainer: true })).warnings, []);
    }
  });
});

describe('host key verification', () => {
  test('SSH_STRICT_HOST_IP_CHECK: default true; booleans in several spellings', () => {
    const checkHostIp = (env: Env) => {
      const hostKey = spec(env).server.hostKey;
      return 'checkHostIp' in hostKey ? hostKey.checkHostIp : undefined;
    };
    assert.equal(checkHostIp({}), true);
    for (const t of ['true', 'TRUE', 'yes', 'Yes', '1', 'on']) assert.equal(checkHostIp({ SSH_STRICT_HOST_IP_CHECK: t }), true, t);
    for (const f of ['false', 'False', 'no', 'NO', '0', 'off']) assert.equal(checkHostIp({ SSH_STRICT_HOST_IP_CHECK: f }), false, f);
  });

  test('SSH_STRICT_HOST_IP_CHECK=false only turns off CheckHostIP: host keys stay verified', () => {
    const facts = fakeFacts({ '/known_hosts': READABLE });
    assert.deepEqual(spec({ SSH_STRICT_HOST_IP_CHECK: 'false' }, facts).server.hostKey, { mode: 'known-hosts', file: '/known_hosts', checkHostIp: false });
    assert.deepEqual(spec({ SSH_STRICT_HOST_IP_CHECK: 'false' }).server.hostKey, { mode: 'trust-on-first-use', checkHostIp: false });
    assert.deepEqual(spec({ SSH_STRICT_HOST_IP_CHECK: 'false', SSH_HOST_KEY: ED25519 }).server.hostKey, {
      mode: 'pinned', knownHostsLines: [`localhost ${ED25519}`], checkHostIp: false,
    });
  });

  for (const bad of ['maybe', 'tru', '2', 'y', 'enabled']) {
    test(`SSH_STRICT_HOST_IP_CHECK=${bad} is refused`, () => {
      assertProblem(onlyProblem({ SSH_STRICT_HOST_IP_CHECK: bad }), 'SSH_STRICT_HOST_IP_CHECK', bad, /^expected true or false \(it only controls CheckHostIP; host keys are always verified\)$/);
    });
  }

  test('SSH_KNOWN_HOSTS_FILE explicit and readable → known-hosts mode with that file', () => {
    const facts = fakeFacts({ '/run/secrets/known_hosts': READABLE, '/known_hosts': READABLE });
    const { spec: s, notices } = parse({ SSH_KNOWN_HOSTS_FILE: '/run/secrets/known_hosts' }, facts);
    assert.deepEqual(s.server.hostKey, { mode: 'known-hosts', file: '/run/secrets/known_hosts', checkHostIp: true });
    assert.equal(notices.some((n) => n.includes('known_hosts')), false);
  });

  test('default /known_hosts present → known-hosts mode', () => {
    assert.deepEqual(spec({}, fakeFacts({ '/known_hosts': READABLE })).server.hostKey, { mode: 'known-hosts', file: '/known_hosts', checkHostIp: true });
  });

  test('default /known_hosts absent → trust on first use, with a notice (never "accept anything")', () => {
    const { spec: s, notices } = parse({});
    assert.deepEqual(s.server.hostKey, { mode: 'trust-on-first-use', checkHostIp: true });
    assert.ok(notices.includes(`no known_hosts file at /known_hosts: the server's host key will be trusted on first use, remembered, and a changed key refused`));
  });

  test('SSH_KNOWN_HOSTS_FILE explicit but missing is an error', () => {
    assertProblem(onlyProblem({ SSH_KNOWN_HOSTS_FILE: '/nope/known_hosts' }), 'SSH_KNOWN_HOSTS_FILE', '/nope/known_hosts', /^no file there; mount your known_hosts file at that path, or unset the variable/);
  });

  test('SSH_KNOWN_HOSTS_FILE explicit but unreadable or a directory is an error', () => {
    for (const info of [UNREADABLE, DIRECTORY]) {
      const p = onlyProblem({ SSH_KNOWN_HOSTS_FILE: '/kh' }, fakeFacts({ '/kh': info }));
      assertProblem(p, 'SSH_KNOWN_HOSTS_FILE', '/kh', info === DIRECTORY ? /^that is not a regular file; point it at the known_hosts file$/ : /^the file is not readable by this user: make it readable for that user \(chown USER FILE on the host, or mount it as a Docker secret\)$/);
    }
  });

  test('a directory on the path closed to us is told apart from a missing file, naming the uid', () => {
    const p = onlyProblem({ SSH_KNOWN_HOSTS_FILE: '/kh' }, { ...fakeFacts({ '/kh': { isFile: false, readable: false, blocked: true } }), uid: 10001 });
    assertProblem(p, 'SSH_KNOWN_HOSTS_FILE', '/kh', /^cannot reach it: a directory on the path is not searchable by uid 10001; make it searchable/);
  });

  test('default /known_hosts present but unreadable or a directory is an error without a value', () => {
    for (const info of [UNREADABLE, DIRECTORY]) {
      const p = onlyProblem({}, fakeFacts({ '/known_hosts': info }));
      assertProblem(p, 'SSH_KNOWN_HOSTS_FILE', undefined, /^\/known_hosts is there but unusable: .*; or set SSH_KNOWN_HOSTS_FILE$/);
    }
  });

  test('SSH_HOST_KEY (bare key) → pinned, with the host pattern ssh looks up (port 22)', () => {
    const s = spec({ SSH_HOST_KEY: ED25519, SSH_REMOTE_HOST: 'example.com' });
    assert.deepEqual(s.server.hostKey, { mode: 'pinned', knownHostsLines: [`example.com ${ED25519}`], checkHostIp: true });
  });

  test('SSH_HOST_KEY with a non-22 port uses the [host]:port pattern', () => {
    const s = spec({ SSH_HOST_KEY: ED25519, SSH_REMOTE_HOST: 'example.com', SSH_REMOTE_PORT: '2222' });
    assert.deepEqual(s.server.hostKey, { mode: 'pinned', knownHostsLines: [`[example.com]:2222 ${ED25519}`], checkHostIp: true });
  });

  test('SSH_HOST_KEY takes precedence over a present known_hosts file', () => {
    const facts = fakeFacts({ '/known_hosts': READABLE, '/kh': READABLE });
    assert.equal(spec({ SSH_HOST_KEY: ED25519 }, facts).server.hostKey.mode, 'pinned');
    assert.equal(spec({ SSH_HOST_KEY: ED25519, SSH_KNOWN_HOSTS_FILE: '/kh' }, facts).server.hostKey.mode, 'pinned');
  });

  test('SSH_HOST_KEY: whole known_hosts lines, comments and blank lines', () => {
    const value = [
      '# pinned keys',
      '',
      `example.com ${ED25519}`,
      `  ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY= a comment  `,
      `@cert-authority *.example.com ${ED25519}`,
      `|1|c2FsdA==|aGFzaA== ssh-rsa ${RSA_BLOB}`,
    ].join('\r\n');
    const s = spec({ SSH_HOST_KEY: value, SSH_REMOTE_HOST: 'example.com' });
    assert.deepEqual(s.server.hostKey, {
      mode: 'pinned',
      knownHostsLines: [
        `example.com ${ED25519}`,
        'example.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=',
        `@cert-authority *.example.com ${ED25519}`,
        `|1|c2FsdA==|aGFzaA== ssh-rsa ${RSA_BLOB}`,
      ],
      checkHostIp: true,
    });
  });

  const badKeys: Array<[string, RegExp]> = [
    ['not a key', /^expected a public host key such as "ssh-ed25519 AAAAC3Nz…"/],
    [ED25519_TYPE, /^expected a public host key/],
    [`${ED25519_TYPE} not*base64`, /^expected a public host key/],
    ['ssh-foo AAAAB3Nza', /^expected a public host key/],
    [`example.com ssh-foo ${ED25519_BLOB}`, /^expected a public host key/],
    [`@cert-authority ${ED25519}`, /^expected a public host key/],
    [`${ED25519}\ngarbage`, /^expected a public host key/],
    ['# only a comment', /^no key found; expected a public host key such as "ssh-ed25519 AAAAC3Nz…"$/],
  ];
  for (const [bad, expected] of badKeys) {
    test(`SSH_HOST_KEY=${JSON.stringify(bad.slice(0, 40))} is refused`, () => {
      assertProblem(onlyProblem({ SSH_HOST_KEY: bad }), 'SSH_HOST_KEY', bad, expected);
    });
  }
});

describe('pinnedKnownHostsLines', () => {
  test('host patterns: port 22 bare, other ports [host]:port, IPv6 never double-bracketed', () => {
    assert.deepEqual(pinnedKnownHostsLines(ED25519, 'example.com', 22), [`example.com ${ED25519}`]);
    assert.deepEqual(pinnedKnownHostsLines(ED25519, '10.0.0.1', 2200), [`[10.0.0.1]:2200 ${ED25519}`]);
    assert.deepEqual(pinnedKnownHostsLines(ED25519, '::1', 22), [`::1 ${ED25519}`]);
    assert.deepEqual(pinnedKnownHostsLines(ED25519, '[::1]', 22), [`::1 ${ED25519}`]);
    assert.deepEqual(pinnedKnownHostsLines(ED25519, '::1', 2222), [`[::1]:2222 ${ED25519}`]);
    assert.deepEqual(pinnedKnownHostsLines(ED25519, '[::1]', 2222), [`[::1]:2222 ${ED25519}`]);
  });

  test('accepts every OpenSSH key type, certificates included', () => {
    for (const type of [
      'ssh-ed25519', 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
      'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com', 'ssh-ed25519-cert-v01@openssh.com',
    ]) {
      assert.deepEqual(pinnedKnownHostsLines(`${type} AAAA`, 'h', 22), [`h ${type} AAAA`], type);
    }
  });

  test('returns an explanation string for unusable values', () => {
    assert.equal(typeof pinnedKnownHostsLines('', 'h', 22), 'string');
    assert.equal(typeof pinnedKnownHostsLines('ssh-ed25519', 'h', 22), 'string');
  });
});

describe('SSH_KEY_FILE', () => {
  test('explicit and readable → identity, explicit', () => {
    const facts = fakeFacts({ '/run/secrets/key': READABLE, '/id_rsa': READABLE });
    assert.deepEqual(spec({ SSH_KEY_FILE: '/run/secrets/key' }, facts).server.identity, { file: '/run/secrets/key', explicit: true });
  });

  test('default /id_rsa present → identity, not explicit', () => {
    const { spec: s, notices } = parse({}, fakeFacts({ '/id_rsa': READABLE }));
    assert.deepEqual(s.server.identity, { file: '/id_rsa', explicit: false });
    assert.equal(notices.some((n) => n.includes('/id_rsa')), false);
  });

  test('default /id_rsa absent → no identity (ssh defaults and agent), with a notice', () => {
    const { spec: s, notices } = parse({});
    assert.equal(s.server.identity, undefined);
    assert.ok(notices.some((n) => n.startsWith('no key at /id_rsa and SSH_KEY_FILE is not set')));
  });

  test('explicit but missing is an error (not a silent fallback)', () => {
    const p = onlyProblem({ SSH_KEY_FILE: '/run/secrets/missing' }, fakeFacts({ '/id_rsa': READABLE }));
    assertProblem(p, 'SSH_KEY_FILE', '/run/secrets/missing', /^no file there; mount the private key at that path .* or unset SSH_KEY_FILE to use \/id_rsa$/);
  });

  test('explicit but unreadable is an error', () => {
    const p = onlyProblem({ SSH_KEY_FILE: '/k' }, fakeFacts({ '/k': UNREADABLE }));
    assertProblem(p, 'SSH_KEY_FILE', '/k', /^the file is not readable by this user: make it readable for that user .* autotunnel copies a key with too-open permissions to a private 0600 file itself$/);
    const withUid = onlyProblem({ SSH_KEY_FILE: '/k' }, { ...fakeFacts({ '/k': UNREADABLE }), uid: 10001 });
    assertProblem(withUid, 'SSH_KEY_FILE', '/k', /^the file is not readable by uid 10001: make it readable for that user \(chown 10001 FILE on the host/);
  });

  test('explicit but a directory is an error', () => {
    const p = onlyProblem({ SSH_KEY_FILE: '/k' }, fakeFacts({ '/k': DIRECTORY }));
    assertProblem(p, 'SSH_KEY_FILE', '/k', /^that is not a regular file; point it at the private key$/);
  });

  test('default /id_rsa present but unusable is an error without a value', () => {
    assertProblem(onlyProblem({}, fakeFacts({ '/id_rsa': UNREADABLE })), 'SSH_KEY_FILE', undefined, /^the default key \/id_rsa is there but unusable: the file is not readable by this user: .*; or set SSH_KEY_FILE$/);
    assertProblem(onlyProblem({}, fakeFacts({ '/id_rsa': DIRECTORY })), 'SSH_KEY_FILE', undefined, /^the default key \/id_rsa is there but unusable: that is not a regular file; point it at the private key; or set SSH_KEY_FILE$/);
  });
});

describe('keepalive and timeouts', () => {
  test('unset: defaults 2 s × 3, not explicit', () => {
    assert.deepEqual(spec({}).keepalive, { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } });
  });

  test('SSH_SERVER_ALIVE_INTERVAL set: value and explicit flag; count stays default', () => {
    assert.deepEqual(spec({ SSH_SERVER_ALIVE_INTERVAL: '30' }).keepalive, { intervalSec: 30, countMax: 3, explicit: { interval: true, countMax: false } });
  });

  test('SSH_SERVER_ALIVE_COUNT_MAX set: value and explicit flag; interval stays default', () => {
    assert.deepEqual(spec({ SSH_SERVER_ALIVE_COUNT_MAX: '5' }).keepalive, { intervalSec: 2, countMax: 5, explicit: { interval: false, countMax: true } });
  });

  test('both set', () => {
    assert.deepEqual(spec({ SSH_SERVER_ALIVE_INTERVAL: '10', SSH_SERVER_ALIVE_COUNT_MAX: '3' }).keepalive, {
      intervalSec: 10, countMax: 3, explicit: { interval: true, countMax: true },
    });
  });

  test('SSH_SERVER_ALIVE_INTERVAL=0 is allowed but warns that keepalives are off', () => {
    const { spec: s, warnings } = parse({ SSH_SERVER_ALIVE_INTERVAL: '0' });
    assert.equal(s.keepalive.intervalSec, 0);
    assert.equal(s.keepalive.explicit.interval, true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^SSH_SERVER_ALIVE_INTERVAL=0 turns keepalives off/);
  });

  test('SSH_SERVER_ALIVE_COUNT_MAX=0 is allowed but warns (ssh then gives up after one silent interval)', () => {
    const { spec: s, warnings } = parse({ SSH_SERVER_ALIVE_COUNT_MAX: '0' });
    assert.equal(s.keepalive.countMax, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^SSH_SERVER_ALIVE_COUNT_MAX=0 makes ssh give up after a single keepalive interval/);
  });

  for (const bad of ['-5', '1.5', 'ten', '10s', '0x10', '1e2']) {
    test(`SSH_SERVER_ALIVE_INTERVAL / COUNT_MAX=${bad} are refused`, () => {
      assertProblem(onlyProblem({ SSH_SERVER_ALIVE_INTERVAL: bad }), 'SSH_SERVER_ALIVE_INTERVAL', bad, /^expected whole seconds \(0 turns keepalives off\)$/);
      assertProblem(onlyProblem({ SSH_SERVER_ALIVE_COUNT_MAX: bad }), 'SSH_SERVER_ALIVE_COUNT_MAX', bad, /^expected a whole number of unanswered keepalives \(default 3\)$/);
    });
  }

  test('SSH_CONNECT_TIMEOUT: default 10, explicit value', () => {
    assert.equal(spec({}).connectTimeoutSec, 10);
    assert.equal(spec({ SSH_CONNECT_TIMEOUT: '30' }).connectTimeoutSec, 30);
    assert.equal(spec({ SSH_CONNECT_TIMEOUT: '1' }).connectTimeoutSec, 1);
  });

  for (const bad of ['0', '-1', 'abc', '2.5', '5s']) {
    test(`SSH_CONNECT_TIMEOUT=${bad} is refused`, () => {
      assertProblem(onlyProblem({ SSH_CONNECT_TIMEOUT: bad }), 'SSH_CONNECT_TIMEOUT', bad, /^expected whole seconds, at least 1$/);
    });
  }
});

describe('SSH_OPTIONS', () => {
  test('unset: no extra arguments', () => {
    assert.deepEqual(spec({}).ssh.extraArgs, []);
  });

  test('split by shell quoting rules, never through a shell', () => {
    assert.deepEqual(spec({ SSH_OPTIONS: '-o StreamLocalBindUnlink=yes' }).ssh.extraArgs, ['-o', 'StreamLocalBindUnlink=yes']);
    assert.deepEqual(spec({ SSH_OPTIONS: '-o "ProxyCommand=nc -x proxy:1080 %h %p" -C' }).ssh.extraArgs, ['-o', 'ProxyCommand=nc -x proxy:1080 %h %p', '-C']);
    assert.deepEqual(spec({ SSH_OPTIONS: "-o 'ProxyCommand=ssh -W %h:%p $BASTION' -vT" }).ssh.extraArgs, ['-o', 'ProxyCommand=ssh -W %h:%p $BASTION', '-vT']);
    assert.deepEqual(spec({ SSH_OPTIONS: '-J bastion.example.com' }).ssh.extraArgs, ['-J', 'bastion.example.com']);
  });

  test('controlled keywords are accepted with a prefixed warning', () => {
    const { spec: s, warnings } = parse({ SSH_OPTIONS: '-o StrictHostKeyChecking=no' });
    assert.deepEqual(s.ssh.extraArgs, ['-o', 'StrictHostKeyChecking=no']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^SSH_OPTIONS: -o StrictHostKeyChecking=no is ignored: host keys are always verified/);
  });

  test('an unbalanced quote is refused with its position and a quoting hint', () => {
    const raw = '-o "ProxyCommand=nc x';
    assertProblem(onlyProblem({ SSH_OPTIONS: raw }), 'SSH_OPTIONS', raw, /^unbalanced double quote at position 4; quote as in a shell, e\.g\. -o "ProxyCommand=nc -x proxy:1080 %h %p"$/);
    assertProblem(onlyProblem({ SSH_OPTIONS: "-o 'A=b" }), 'SSH_OPTIONS', "-o 'A=b", /^unbalanced single quote at position 4;/);
  });

  test('a bare word (destination or remote command) is refused', () => {
    for (const raw of ['user@otherhost', '-v ls', '-- host']) {
      const err = configError({ SSH_OPTIONS: raw });
      assert.ok(err.problems.length >= 1);
      for (const p of err.problems) assert.equal(p.where, 'SSH_OPTIONS');
      assert.ok(err.problems.some((p) => /is not an ssh option; ssh would take it as the destination or a remote command/.test(p.expected)), err.message);
    }
  });

  const refused: Array<[string, RegExp]> = [
    ['-f', /^option -f is not allowed: it sends ssh to the background/],
    ['-q', /^option -q is not allowed: it silences the messages/],
    ['-E /tmp/ssh.log', /^option -E is not allowed: it moves ssh's messages to a file/],
    ['-p 2222', /^option -p is not allowed: set the port with SSH_REMOTE_PORT instead$/],
    ['-l bob', /^option -l is not allowed: set the user with SSH_REMOTE_USER instead$/],
    ['-M', /^option -M is not allowed/],
    ['-S /tmp/ctl', /^option -S is not allowed/],
    ['-W host:22', /^option -W is not allowed/],
    ['-G', /^option -G is not allowed/],
    ['-o RemoteCommand=uptime', /^-o RemoteCommand is not allowed: a tunnel runs no remote command \(-N\)$/],
    ['-o ForkAfterAuthentication=yes', /^-o ForkAfterAuthentication is not allowed/],
    ['-Z', /^-Z is not an ssh option \(see "man ssh"\)$/],
    ['-o', /^option -o needs a value after it$/],
    ['-o NoValue', /^-o "NoValue" is not of the form Keyword=value$/],
  ];
  for (const [raw, expected] of refused) {
    test(`${JSON.stringify(raw)} is refused`, () => {
      assertProblem(onlyProblem({ SSH_OPTIONS: raw }), 'SSH_OPTIONS', raw, expected);
    });
  }

  test('several bad words are each reported', () => {
    const err = configError({ SSH_OPTIONS: '-f -q extra' });
    assert.deepEqual(err.problems.map((p) => [p.where, p.value]), [
      ['SSH_OPTIONS', '-f -q extra'], ['SSH_OPTIONS', '-f -q extra'], ['SSH_OPTIONS', '-f -q extra'],
    ]);
    assert.match(err.problems[0]!.expected, /^option -f/);
    assert.match(err.problems[1]!.expected, /^option -q/);
    assert.match(err.problems[2]!.expected, /^"extra" is not an ssh option/);
  });
});

describe('AUTOTUNNEL_NAME', () => {
  test('default "tunnel"; a given short name', () => {
    assert.equal(spec({}).name, 'tunnel');
    assert.equal(spec({ AUTOTUNNEL_NAME: 'db-tunnel.1_a' }).name, 'db-tunnel.1_a');
    assert.equal(spec({ AUTOTUNNEL_NAME: 'a'.repeat(63) }).name, 'a'.repeat(63));
  });

  for (const bad of ['-x', '_x', '.hidden', 'a b', '../etc', 'a/b', 'a'.repeat(64), 'ünï']) {
    test(`${JSON.stringify(bad.slice(0, 20))} is refused`, () => {
      assertProblem(onlyProblem({ AUTOTUNNEL_NAME: bad }), 'AUTOTUNNEL_NAME', bad, /^expected a short name of letters, digits, "\.", "_" and "-"$/);
    });
  }
});

describe('all problems at once', () => {
  test('every bad variable is reported in one ConfigError, in a stable order', () => {
    const err = configError({
      SSH_MODE: 'X',
      SSH_REMOTE_USER: '-root',
      SSH_REMOTE_HOST: 'bad host',
      SSH_REMOTE_PORT: '70000',
      SSH_TUNNEL_PORT: 'abc',
      SSH_BIND_IP: '-b',
      SSH_TARGET_HOST: 'a;b',
      SSH_TARGET_PORT: '-1',
      SSH_STRICT_HOST_IP_CHECK: 'maybe',
      SSH_HOST_KEY: 'nonsense',
      SSH_KEY_FILE: '/missing',
      SSH_SERVER_ALIVE_INTERVAL: 'x',
      SSH_SERVER_ALIVE_COUNT_MAX: 'y',
      SSH_CONNECT_TIMEOUT: '0',
      SSH_OPTIONS: '"',
      AUTOTUNNEL_NAME: '!',
    });
    assert.deepEqual(
      err.problems.map((p) => [p.where, p.value]),
      [
        ['SSH_MODE', 'X'],
        ['SSH_REMOTE_USER', '-root'],
        ['SSH_REMOTE_HOST', 'bad host'],
        ['SSH_REMOTE_PORT', '70000'],
        ['SSH_TUNNEL_PORT', 'abc'],
        ['SSH_BIND_IP', '-b'],
        ['SSH_TARGET_HOST', 'a;b'],
        ['SSH_TARGET_PORT', '-1'],
        ['SSH_STRICT_HOST_IP_CHECK', 'maybe'],
        ['SSH_HOST_KEY', 'nonsense'],
        ['SSH_KEY_FILE', '/missing'],
        ['SSH_SERVER_ALIVE_INTERVAL', 'x'],
        ['SSH_SERVER_ALIVE_COUNT_MAX', 'y'],
        ['SSH_CONNECT_TIMEOUT', '0'],
        ['SSH_OPTIONS', '"'],
        ['AUTOTUNNEL_NAME', '!'],
      ],
    );
    for (const p of err.problems) assert.match(p.expected, /expected|no file there|quote as in a shell/, `${p.where}: ${p.expected}`);
    // The message has one line per problem, each naming the variable and the value.
    const lines = err.message.split('\n');
    assert.equal(lines.length, 16);
    assert.equal(lines[3], `SSH_REMOTE_PORT="70000": ${PORT_EXPECTED}`);
  });

  test('a missing default file is reported without a value', () => {
    const err = configError({ SSH_REMOTE_PORT: 'x' }, fakeFacts({ '/id_rsa': DIRECTORY, '/known_hosts': UNREADABLE }));
    assert.deepEqual(err.problems.map((p) => [p.where, p.value]), [
      ['SSH_REMOTE_PORT', 'x'],
      ['SSH_KNOWN_HOSTS_FILE', undefined],
      ['SSH_KEY_FILE', undefined],
    ]);
    assert.match(err.message, /^SSH_REMOTE_PORT="x": expected a TCP port/);
    assert.match(err.message.split('\n')[1]!, /^SSH_KNOWN_HOSTS_FILE: \/known_hosts is there but unusable/);
  });
});

describe('a full jnovack-style configuration', () => {
  test('the compose example from the image documentation', () => {
    const facts = fakeFacts({ '/id_rsa': READABLE, '/known_hosts': READABLE }, { inContainer: true });
    const { spec: s, warnings, notices } = parseEnv(
      {
        SSH_BIND_IP: '0.0.0.0',
        SSH_REMOTE_USER: 'user',
        SSH_REMOTE_HOST: '203.0.113.7',
        SSH_REMOTE_PORT: '22',
        SSH_TARGET_HOST: 'localhost',
        SSH_TARGET_PORT: '8000',
        SSH_TUNNEL_PORT: '8000',
        SSH_MODE: '-L',
      },
      facts,
    );
    assert.deepEqual(s.server, {
      user: 'user',
      host: '203.0.113.7',
      port: 22,
      identity: { file: '/id_rsa', explicit: false },
      hostKey: { mode: 'known-hosts', file: '/known_hosts', checkHostIp: true },
    });
    assert.deepEqual(s.forwards, [{ kind: 'local', bindAddress: '0.0.0.0', bindPort: 8000, targetHost: 'localhost', targetPort: 8000 }]);
    assert.deepEqual(warnings, []);
    assert.deepEqual(notices, []);
  });
});
