/**
 * Issue 11 (hardening): hostile input refused at parse time, naming the field as the user wrote
 * it. Pure logic: the YAML reader, the SSH_* reader, the ssh-style command line, the ssh option
 * checker and the argv builder, with the file system faked.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigFile, type FileFacts } from '../../src/config/file.js';
import { ENV_SETTING_NAMES, parseEnv, type EnvFacts } from '../../src/config/env.js';
import type { FileInfo } from '../../src/config/files.js';
import { parseSshCommandLine } from '../../src/config/ssh-command-line.js';
import { checkExtraArgs } from '../../src/config/ssh-options.js';
import { ConfigError, UsageError, formatProblem } from '../../src/config/errors.js';
import { buildSshArgs } from '../../src/ssh/argv.js';
import { MAX_TIMER_MS } from '../../src/config/field-checks.js';
import { StateStore } from '../../src/observe/state-store.js';
import { renderMetrics } from '../../src/observe/metrics.js';
import { tunnelsJson } from '../../src/observe/api.js';
import { FakeFiles } from './fakes.js';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOrphanedRuntimeDirs } from '../../src/adapters/ssh-files.js';

const files = new FakeFiles({
  '/keys/id': { text: 'KEY' },
  '/secrets/user': { text: 'deploy\n' },
  '/secrets/nul_user': { text: 'de\0ploy\n' },
});
const facts: FileFacts = { fileInfo: files.fileInfo, readText: files.readText, env: {} };

function fileProblems(yaml: string): string[] {
  try {
    parseConfigFile('t.yaml', yaml, facts);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.problems.map(formatProblem);
  }
  assert.fail('the file was accepted');
}

/** One tunnel with a server block `server` (YAML flow text) and a forward block. */
const tunnel = (server: string, forward = '{ local: 5432, to: "db:5432" }', extra = '') =>
  `tunnels:\n  - name: t\n    server: ${server}\n    forwards: [${forward}]\n${extra}`;

function envFacts(inContainer = false): EnvFacts {
  return {
    fileInfo: (p: string): FileInfo | undefined => (p === '/keys/id' ? { isFile: true, readable: true } : undefined),
    inContainer,
    random: () => 0.5,
  };
}
const BASE_ENV = { SSH_REMOTE_HOST: 'bastion', SSH_TUNNEL_PORT: '8080' };

function envProblems(env: Record<string, string>, inContainer = false): string[] {
  try {
    parseEnv({ ...BASE_ENV, ...env }, envFacts(inContainer));
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.map(formatProblem);
  }
  assert.fail('the variables were accepted');
}

function commandLineError(words: string[]): string {
  try {
    parseSshCommandLine(words, { fileInfo: () => ({ isFile: true, readable: true }), defaultUser: 'me' });
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError (64), got ${String(e)}`);
    return e.message;
  }
  assert.fail('the command line was accepted');
}

const HOSTILE_JUMPS = ['a;touch$IFS/tmp/x;@host', 'a@-oX', 'host:80:90', 'u@h:99999', '[::1', '-oProxyCommand=x', 'u@h@i', 'a b@h'];

describe('item 4: jump hosts are validated as strictly as the destination', () => {
  for (const j of HOSTILE_JUMPS) {
    test(`server.jump ${JSON.stringify(j)} is refused naming the field`, () => {
      const p = fileProblems(tunnel(`{ host: h, jump: ${JSON.stringify(j)} }`));
      assert.ok(p.some((x) => x.includes('tunnels[0] (t).server.jump') && x.includes(JSON.stringify(j))), p.join('\n'));
    });
    test(`SSH_OPTIONS -J ${JSON.stringify(j)} and -o ProxyJump= are refused`, () => {
      const quoted = `'${j.replace(/'/g, `'\\''`)}'`;
      for (const options of [`-J ${quoted}`, `-o ProxyJump=${quoted}`]) {
        const p = envProblems({ SSH_OPTIONS: options });
        assert.ok(p.some((x) => x.startsWith('SSH_OPTIONS=') && /jump host/.test(x)), `${options}: ${p.join('\n')}`);
      }
    });
    test(`command line -J ${JSON.stringify(j)} is a usage error naming -J`, () => {
      assert.match(commandLineError(['-J', j, '-L', '1:h:2', 'u@host']), /-J=.*jump host/);
    });
  }
  test('good jump hosts pass everywhere', () => {
    const good = ['jump', 'u@jump.example.com', 'u@jump:2222', '[::1]:22', 'u@[fe80::1]', 'ssh://u@jump:22', '10.0.0.1'];
    const spec = parseConfigFile('t.yaml', tunnel(`{ host: h, jump: ${JSON.stringify(good)} }`), facts).tunnels[0]!;
    assert.deepEqual(spec.server.jump, good);
    parseEnv({ ...BASE_ENV, SSH_OPTIONS: `-J ${good.join(',')} -o ProxyJump=none` }, envFacts());
    parseSshCommandLine(['-J', good.join(','), '-L', '1:h:2', 'u@host'], { fileInfo: () => ({ isFile: true, readable: true }), defaultUser: 'me' });
  });
});

describe('item 5: a NUL byte in any string field is refused naming the field', () => {
  const cases: Array<[string, string]> = [
    ['host', tunnel('{ host: "h\\0x" }')],
    ['user', tunnel('{ host: h, user: "u\\0" }')],
    ['jump', tunnel('{ host: h, jump: "j\\0" }')],
    ['options', tunnel('{ host: h, options: "-o Compression=yes\\0" }')],
    ['key_file', tunnel('{ host: h, key_file: "/keys/id\\0" }')],
    ['host_key', tunnel('{ host: h, host_key: "ssh-ed25519 AAAA\\0" }')],
    ['forwards[0].local', tunnel('{ host: h }', '{ local: "/run/a\\0.sock", to: "db:1" }')],
    ['forwards[0].to', tunnel('{ host: h }', '{ local: 1, to: "/run/b\\0.sock" }')],
    ['user_file', tunnel('{ host: h, user_file: /secrets/nul_user }')],
    ['backoff.initial', tunnel('{ host: h }', undefined, '    backoff: { initial: "1\\0" }\n')],
  ];
  for (const [field, yaml] of cases) {
    test(field, () => {
      const p = fileProblems(yaml);
      assert.ok(p.some((x) => x.includes(field.split('.').at(-1)!) && /NUL/.test(x)), p.join('\n'));
    });
  }
  test('name', () => {
    const p = fileProblems('tunnels:\n  - name: "t\\0"\n    server: { host: h }\n    forwards: [{ local: 1, to: "db:1" }]\n');
    assert.ok(p.some((x) => x.includes('name') && /NUL/.test(x)), p.join('\n'));
  });
});

describe('item 6: % in every path given to ssh is escaped', () => {
  test('the key file and socket paths reach ssh with %% (known_hosts already was)', () => {
    const spec = parseConfigFile('t.yaml', tunnel('{ host: h }', '{ local: "/run/s%d.sock", to: "/run/t%h.sock" }'), facts).tunnels[0]!;
    spec.forwards.push({ kind: 'remote', bindPort: 0, bindSocket: '/srv/r%u.sock', targetHost: 'localhost', targetPort: 80 });
    const args = buildSshArgs(spec, { identityFile: '/keys/k%d/id', knownHostsFile: '/state/k%h/known_hosts' });
    assert.ok(args.includes('IdentityFile=/keys/k%%d/id'), args.join(' '));
    assert.equal(args.includes('-i'), false, 'ssh would expand a % given with -i');
    assert.ok(args.includes('/run/s%%d.sock:/run/t%%h.sock'), args.join(' '));
    assert.ok(args.includes('/srv/r%%u.sock:localhost:80'), args.join(' '));
    assert.ok(args.includes('UserKnownHostsFile=/state/k%%h/known_hosts'));
  });
});

describe('item 14: every duration is bounded at parse time, naming the field and the maximum', () => {
  test('SSH_CONNECT_TIMEOUT too large', () => {
    const p = envProblems({ SSH_CONNECT_TIMEOUT: '2200000' });
    assert.ok(p.some((x) => x.startsWith('SSH_CONNECT_TIMEOUT=') && /at most 3600/.test(x)), p.join('\n'));
  });
  test('SSH_SERVER_ALIVE_INTERVAL and COUNT_MAX too large', () => {
    const p = envProblems({ SSH_SERVER_ALIVE_INTERVAL: '999999999', SSH_SERVER_ALIVE_COUNT_MAX: '99999999' });
    assert.ok(p.some((x) => x.startsWith('SSH_SERVER_ALIVE_INTERVAL=') && /at most 86400/.test(x)), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('SSH_SERVER_ALIVE_COUNT_MAX=') && /at most 1000/.test(x)), p.join('\n'));
  });
  for (const field of ['initial', 'max', 'stable_after']) {
    test(`backoff.${field} too large`, () => {
      const p = fileProblems(tunnel('{ host: h }', undefined, `    backoff: { ${field}: 99999999 }\n`));
      assert.ok(p.some((x) => x.includes(`backoff.${field}`) && /at most 86400 s/.test(x)), p.join('\n'));
    });
  }
  test('backoff.max of "3000000s" too (a unit does not get around the bound)', () => {
    const p = fileProblems(tunnel('{ host: h }', undefined, '    backoff: { initial: 3000000, max: "99999999m" }\n'));
    assert.equal(p.filter((x) => /at most 86400 s/.test(x)).length, 2, p.join('\n'));
  });
  test('every accepted duration fits a Node timer', () => {
    const spec = parseConfigFile('t.yaml', tunnel('{ host: h }', undefined, '    backoff: { initial: 86400, max: "1440m", stable_after: 86400 }\n    connect_timeout: 3600\n'), facts).tunnels[0]!;
    for (const ms of [spec.backoff.initialMs, spec.backoff.maxMs, spec.backoff.stableAfterMs, spec.connectTimeoutSec * 1000 + 20_000]) assert.ok(ms <= MAX_TIMER_MS);
  });
});

describe('item 17: options that break supervision are refused', () => {
  for (const flag of ['-y', '-1', '-vy', '-1N']) {
    test(flag, () => {
      const check = checkExtraArgs([flag], ENV_SETTING_NAMES);
      assert.equal(check.errors.length, 1, check.errors.join('\n'));
      assert.match(check.errors[0]!, /not allowed/);
    });
  }
  test('on the command line too', () => {
    assert.match(commandLineError(['-y', '-L', '1:h:2', 'u@host']), /-y is not allowed/);
  });
});

describe('item 19: listener clashes are compared by meaning, not spelling', () => {
  const two = (a: string, b: string) =>
    `tunnels:\n  - name: a\n    server: { host: h }\n    forwards: [{ local: "${a}", to: "db:1" }]\n  - name: b\n    server: { host: h }\n    forwards: [{ local: "${b}", to: "db:1" }]\n`;
  const pairs: Array<[string, string]> = [
    ['localhost:5432', '127.0.0.1:5432'],
    ['localhost:5432', '[::1]:5432'],
    ['[::1]:5432', '[0:0:0:0:0:0:0:1]:5432'],
    ['/run/a.sock', '/run//a.sock'],
    ['/run/a.sock', '/run/./a.sock'],
    ['/run/x/../a.sock', '/run/a.sock'],
  ];
  for (const [a, b] of pairs) {
    test(`${a} and ${b}`, () => {
      const p = fileProblems(two(a, b));
      assert.ok(p.some((x) => /already claimed by tunnel "a"/.test(x)), p.join('\n'));
    });
  }
  test('different addresses of one port do not clash', () => {
    parseConfigFile('t.yaml', two('127.0.0.1:5432', '127.0.0.2:5432'), facts);
  });
  test('on one command line too', () => {
    assert.match(commandLineError(['-L', 'localhost:5432:db:1', '-L', '127.0.0.1:5432:db:2', 'u@host']), /already/);
  });
});

describe('item 23: the container warning only when the loopback bind was not chosen', () => {
  test('SSH_BIND_IP=127.0.0.1 set on purpose: no warning', () => {
    const { warnings } = parseEnv({ ...BASE_ENV, SSH_MODE: '-L', SSH_BIND_IP: '127.0.0.1' }, envFacts(true));
    assert.deepEqual(warnings.filter((w) => /container/.test(w)), []);
  });
  test('left at the default: the warning', () => {
    const { warnings } = parseEnv({ ...BASE_ENV, SSH_MODE: '-L' }, envFacts(true));
    assert.equal(warnings.filter((w) => /container/.test(w)).length, 1);
  });
});

describe('item 23: tunnel names that are Object.prototype members', () => {
  test('state store, API and metrics keep constructor, toString, valueOf and hasOwnProperty apart', () => {
    const names = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__'];
    const store = new StateStore({ now: () => 1_000_000, initial: names.map((name) => ({ name, required: true, state: 'starting' as const, since: 0 })), lookup: () => undefined });
    for (const [i, name] of names.entries()) {
      store.apply({ type: 'state', tunnel: name, at: 500_000 + i, from: 'starting', to: 'backoff', attempt: 1, delayMs: 1000, cause: { code: 'connection_refused', kind: 'transient', summary: 'refused' } as never });
    }
    const snap = store.snapshot();
    assert.deepEqual(snap.tunnels.map((t) => t.info.name), names);
    assert.ok(snap.tunnels.every((t) => t.restarts === 1));
    const api = tunnelsJson(snap, '0');
    assert.deepEqual(api.tunnels.map((t) => t.name), names);
    const metrics = renderMetrics(snap, { version: '0', node: 'v' }, { startTimeSeconds: 0, residentMemoryBytes: 0 });
    for (const n of names) assert.match(metrics, new RegExp(`autotunnel_tunnel_up\\{tunnel="${n}"\\} 0`));
  });
});

describe('item 23: ${VAR} in a tunnels file only finds real variables', () => {
  test('${constructor} is an unset variable, not Object.prototype.constructor', () => {
    const p = fileProblems(tunnel('{ host: "${constructor}" }'));
    assert.ok(p.some((x) => /the environment variable constructor is not set/.test(x)), p.join('\n'));
  });
});

describe('item 7: the start-up sweep', () => {
  test('also removes a dir with our own pid when its maker is gone: a restarted container reuses the pid', async () => {
    const base = mkdtempSync(join(tmpdir(), 'autotunnel-sweep-'));
    try {
      const dir = join(base, `autotunnel-${process.pid}-old`);
      mkdirSync(dir);
      // What a SIGKILLed maker leaves: its beacon's socket file, with nobody listening.
      await leaveDeadSocket(join(dir, 'alive.sock'));
      await removeOrphanedRuntimeDirs(base);
      assert.equal(existsSync(dir), false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

/** A Unix socket file whose listener has gone, as a SIGKILLed process leaves it. */
async function leaveDeadSocket(path: string): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  // A child binds it and is killed before it can unlink it.
  spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
}
