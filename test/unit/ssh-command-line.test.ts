/** parseSshCommandLine: a tunnel from ssh's own words (`autotunnel -L 8080:db:5432 user@bastion`). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMAND_LINE_SETTING_NAMES, parseSshCommandLine, type SshCommandLine } from '../../src/config/ssh-command-line.js';
import { EXIT_USAGE, UsageError } from '../../src/config/errors.js';
import { DEFAULT_BACKOFF, type TunnelSpec } from '../../src/config/spec.js';
import type { FileInfo } from '../../src/config/files.js';
import { PORT_EXPECTED } from '../../src/config/validate.js';

const KEY = '/home/me/.ssh/tunnel_ed25519';
const FILES: Record<string, FileInfo> = {
  [KEY]: { isFile: true, readable: true },
  '/home/me/.ssh/locked_key': { isFile: true, readable: false },
  '/home/me/.ssh': { isFile: false, readable: true },
};

function facts(asked: string[] = []) {
  return {
    defaultUser: 'me',
    fileInfo(path: string): FileInfo | undefined {
      asked.push(path);
      return Object.hasOwn(FILES, path) ? FILES[path] : undefined;
    },
  };
}

function parse(words: string[], name?: string): SshCommandLine {
  return name === undefined ? parseSshCommandLine(words, facts()) : parseSshCommandLine(words, facts(), name);
}

/** The UsageError message for `words` (each problem on its own line). */
function usageError(words: string[]): string {
  try {
    parseSshCommandLine(words, facts());
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
    assert.equal(e.exitCode, EXIT_USAGE);
    return e.message;
  }
  assert.fail(`no error for ${JSON.stringify(words)}`);
}

const NO_COMMAND = 'a tunnel runs no remote command: remove the words after the destination (autotunnel always uses -N)';
const NO_FORWARD = 'command line: no forward given: add -L [bind:]port:host:port, -R [bind:]port:host:port or -D [bind:]port';
const NO_DESTINATION = 'missing the destination: [user@]host, e.g. autotunnel -L 8080:localhost:80 user@bastion';

describe('parseSshCommandLine: the whole spec', () => {
  test('-L and a bare host: defaults everywhere, port and user left to ssh config', () => {
    const { spec, warnings } = parse(['-L', '5432:db.internal:5432', 'bastion.example.com']);
    const expected: TunnelSpec = {
      name: 'tunnel',
      server: {
        user: 'me',
        host: 'bastion.example.com',
        port: 22,
        hostKey: { mode: 'ssh-config' },
        implicit: { port: true, user: true },
      },
      forwards: [{ kind: 'local', bindPort: 5432, targetHost: 'db.internal', targetPort: 5432 }],
      keepalive: { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } },
      connectTimeoutSec: 10,
      ssh: { extraArgs: [], addsRemoteForwards: false, proxied: false },
      backoff: { ...DEFAULT_BACKOFF },
      settingNames: COMMAND_LINE_SETTING_NAMES,
    };
    assert.deepEqual(spec, expected);
    assert.deepEqual(warnings, []);
  });

  test('the name is passed through', () => {
    assert.equal(parse(['-D', '1080', 'h'], 'socks').spec.name, 'socks');
  });

  test('-p, -l, -i, -J all at once', () => {
    const asked: string[] = [];
    const { spec } = parseSshCommandLine(['-p', '2222', '-l', 'tunnel', '-i', KEY, '-J', 'jump@gw.example.com:2200', '-R', '8080:localhost:80', 'vps.example.com'], facts(asked));
    assert.deepEqual(spec.server, {
      user: 'tunnel',
      host: 'vps.example.com',
      port: 2222,
      hostKey: { mode: 'ssh-config' },
      identity: { file: KEY, explicit: true },
      jump: ['jump@gw.example.com:2200'],
      implicit: { port: false, user: false },
    });
    assert.deepEqual(asked, [KEY]);
  });
});

describe('parseSshCommandLine: forwards', () => {
  test('-L, -R and -D, repeatable, in order, attached or separate values', () => {
    const { spec } = parse(['-L8080:db:5432', '-R', '9000:localhost:80', '-D', '1080', '-L', '127.0.0.1:8081:/run/app.sock', '-D[::1]:1081', 'u@h']);
    assert.deepEqual(spec.forwards, [
      { kind: 'local', bindPort: 8080, targetHost: 'db', targetPort: 5432 },
      { kind: 'remote', bindPort: 9000, targetHost: 'localhost', targetPort: 80 },
      { kind: 'dynamic', bindPort: 1080 },
      { kind: 'local', bindAddress: '127.0.0.1', bindPort: 8081, targetSocket: '/run/app.sock' },
      { kind: 'dynamic', bindAddress: '::1', bindPort: 1081 },
    ]);
    assert.deepEqual(spec.ssh.extraArgs, []);
  });

  test('-R 0 lets the server pick the port', () => {
    assert.deepEqual(parse(['-R', '0:localhost:80', 'h']).spec.forwards, [{ kind: 'remote', bindPort: 0, targetHost: 'localhost', targetPort: 80 }]);
  });

  test('bad forwards: a UsageError listing every problem', () => {
    assert.equal(
      usageError(['-L', '8080', '-R', '0.0.0.0:70000:localhost:80', '-D', '/tmp/s.sock', '-L', '0:db:5432', 'h']),
      [
        '-L="8080": expected [bind_address:]port:host:hostport, got "8080"',
        `-R="0.0.0.0:70000:localhost:80": "70000" is not a port: ${PORT_EXPECTED}`,
        '-D="/tmp/s.sock": a SOCKS proxy (dynamic) listens on a TCP port, not a Unix socket',
        `-L="0:db:5432": "0" is not a port: ${PORT_EXPECTED}`,
      ].join('\n'),
    );
  });

  test('a bad forward is not also reported as "no forward given"', () => {
    assert.equal(usageError(['-L', 'x', 'h']), '-L="x": expected [bind_address:]port:host:hostport, got "x"');
  });

  test('no forward at all', () => {
    assert.equal(usageError(['-p', '2222', 'h']), NO_FORWARD);
  });
});

describe('parseSshCommandLine: server options', () => {
  test('-p: a port, or a usage error', () => {
    assert.equal(parse(['-p2200', '-D', '1', 'h']).spec.server.port, 2200);
    assert.equal(usageError(['-p', '0', '-D', '1', 'h']), `-p="0": ${PORT_EXPECTED}`);
    assert.equal(usageError(['-p', 'ssh', '-D', '1', 'h']), `-p="ssh": ${PORT_EXPECTED}`);
    assert.equal(usageError(['-p', '65536', '-D', '1', 'h']), `-p="65536": ${PORT_EXPECTED}`);
  });

  test('-l: the user; a bad one is refused', () => {
    assert.equal(parse(['-l', 'deploy', '-D', '1', 'h']).spec.server.user, 'deploy');
    assert.equal(usageError(['-l', 'bad user', '-D', '1', 'h']), 'user="bad user": expected a login name without spaces, quotes or shell characters');
  });

  test('-i: an existing readable file, or a usage error', () => {
    assert.deepEqual(parse(['-i', KEY, '-D', '1', 'h']).spec.server.identity, { file: KEY, explicit: true });
    assert.equal(usageError(['-i', '/home/me/.ssh/missing', '-D', '1', 'h']), '-i="/home/me/.ssh/missing": no readable private key file there');
    assert.equal(usageError(['-i', '/home/me/.ssh/locked_key', '-D', '1', 'h']), '-i="/home/me/.ssh/locked_key": no readable private key file there');
    assert.equal(usageError(['-i', '/home/me/.ssh', '-D', '1', 'h']), '-i="/home/me/.ssh": no readable private key file there');
  });

  test('no -i: no identity (ssh picks its own), and no file is looked at', () => {
    const asked: string[] = [];
    const { spec } = parseSshCommandLine(['-D', '1', 'h'], facts(asked));
    assert.equal(spec.server.identity, undefined);
    assert.equal('identity' in spec.server, false);
    assert.deepEqual(asked, []);
  });

  test('-J: a comma list, repeated -J appended in order', () => {
    const { spec } = parse(['-J', 'a.example.com,ops@b.example.com:2200', '-J', 'c.example.com', '-Jd.example.com', '-D', '1', 'h']);
    assert.deepEqual(spec.server.jump, ['a.example.com', 'ops@b.example.com:2200', 'c.example.com', 'd.example.com']);
    assert.equal('jump' in parse(['-D', '1', 'h']).spec.server, false);
  });

  test('-o and other options with a value pass through as extra arguments, in order', () => {
    const { spec, warnings } = parse(['-o', 'Compression=yes', '-oServerAliveInterval=5', '-c', 'aes256-gcm@openssh.com', '-F', '/etc/ssh/tunnel_config', '-D', '1', 'h']);
    assert.deepEqual(spec.ssh.extraArgs, ['-o', 'Compression=yes', '-o', 'ServerAliveInterval=5', '-c', 'aes256-gcm@openssh.com', '-F', '/etc/ssh/tunnel_config']);
    assert.deepEqual(warnings, []);
    // The spec's own keepalive stays at the default: the -o given wins in ssh (argv's job, not ours).
    assert.deepEqual(spec.keepalive, { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } });
  });

  test('an option with its value missing at the end', () => {
    for (const letter of ['L', 'R', 'D', 'p', 'l', 'i', 'J', 'o']) {
      assert.throws(() => parse(['-D', '1080', `-${letter}`]), (e: unknown) => e instanceof UsageError && e.message === `option -${letter} needs a value`);
    }
  });
});

describe('parseSshCommandLine: flags', () => {
  test('-N, -n and -T are dropped (autotunnel adds what it needs); others are kept as given', () => {
    assert.deepEqual(parse(['-N', '-T', '-n', '-D', '1', 'h']).spec.ssh.extraArgs, []);
    assert.deepEqual(parse(['-NT', '-vC', '-D', '1', 'h']).spec.ssh.extraArgs, ['-vC']);
    assert.deepEqual(parse(['-4', '-D', '1', 'h']).spec.ssh.extraArgs, ['-4']);
  });

  test('a cluster ending in an option with a value: the flags come after the option', () => {
    const { spec } = parse(['-NvL', '8080:db:5432', '-Co', 'Compression=yes', 'h']);
    assert.deepEqual(spec.forwards, [{ kind: 'local', bindPort: 8080, targetHost: 'db', targetPort: 5432 }]);
    assert.deepEqual(spec.ssh.extraArgs, ['-v', '-o', 'Compression=yes', '-C']);
  });

  test('options that break supervision are refused', () => {
    const cases: Array<[string[], string]> = [
      [['-f'], 'command line="-f": option -f is not allowed: it sends ssh to the background, where autotunnel can no longer supervise it'],
      [['-q'], 'command line="-q": option -q is not allowed: it silences the messages autotunnel reads to tell when the tunnel is up and why it failed'],
      [['-NfT'], 'command line="-f": option -f is not allowed: it sends ssh to the background, where autotunnel can no longer supervise it'],
      [['-M'], 'command line="-M": option -M is not allowed: it makes ssh a multiplexing master; autotunnel needs one connection per tunnel it supervises'],
      [['-E', '/tmp/ssh.log'], 'command line="-E /tmp/ssh.log": option -E is not allowed: it moves ssh\'s messages to a file, but autotunnel reads them from stderr to tell when the tunnel is up and why it failed'],
      [['-W', 'db:5432'], 'command line="-W db:5432": option -W is not allowed: it forwards standard input/output, which cannot be combined with a tunnel'],
      [['-o', 'ForkAfterAuthentication=yes'], 'command line="-o ForkAfterAuthentication=yes": -o ForkAfterAuthentication is not allowed: it sends ssh to the background, where autotunnel can no longer supervise it'],
      [['-o', 'Port=2222'], 'command line="-o Port=2222": -o Port is not allowed: set the port with -p'],
      [['-Z'], 'command line="-Z": -Z is not an ssh option (see "man ssh")'],
    ];
    for (const [words, message] of cases) {
      assert.equal(usageError([...words, '-D', '1', 'h']), message, words.join(' '));
    }
  });

  test('a refused option is listed with every other problem', () => {
    assert.equal(
      usageError(['-f', '-p', 'x', '-L', '1', 'h']),
      [
        `-p="x": ${PORT_EXPECTED}`,
        '-L="1": expected [bind_address:]port:host:hostport, got "1"',
        'command line="-f": option -f is not allowed: it sends ssh to the background, where autotunnel can no longer supervise it',
      ].join('\n'),
    );
  });
});

describe('parseSshCommandLine: controlled -o options warn (host-key ones do not)', () => {
  test('BatchMode, ExitOnForwardFailure, ControlMaster warn; StrictHostKeyChecking, UserKnownHostsFile do not', () => {
    const { spec, warnings } = parse([
      '-o', 'StrictHostKeyChecking=accept-new',
      '-o', 'UserKnownHostsFile=/home/me/.ssh/tunnel_known_hosts',
      '-o', 'BatchMode=no',
      '-o', 'ExitOnForwardFailure=no',
      '-o', 'ControlMaster=auto',
      '-D', '1', 'h',
    ]);
    assert.deepEqual(warnings, [
      '-o BatchMode=no is ignored: autotunnel runs ssh without a terminal and sets BatchMode=yes',
      '-o ExitOnForwardFailure=no is ignored: a tunnel whose forward failed must exit so it can be retried',
      '-o ControlMaster=auto is ignored: autotunnel needs one connection per tunnel it supervises',
    ]);
    assert.deepEqual(spec.ssh.extraArgs.filter((w) => w !== '-o'), [
      'StrictHostKeyChecking=accept-new',
      'UserKnownHostsFile=/home/me/.ssh/tunnel_known_hosts',
      'BatchMode=no',
      'ExitOnForwardFailure=no',
      'ControlMaster=auto',
    ]);
  });
});

describe('parseSshCommandLine: the destination', () => {
  test('user@host sets the user; the host is what follows the last "@"', () => {
    assert.deepEqual(pick(parse(['-D', '1', 'tunnel@bastion.example.com'])), { user: 'tunnel', host: 'bastion.example.com', port: 22, implicit: { port: true, user: false } });
    assert.deepEqual(pick(parse(['-D', '1', 'me@corp.example@bastion'])), { user: 'me@corp.example', host: 'bastion', port: 22, implicit: { port: true, user: false } });
  });

  test('-l wins over user@host (as in ssh)', () => {
    assert.equal(parse(['-l', 'bob', '-D', '1', 'alice@h']).spec.server.user, 'bob');
  });

  test('-- ends the options', () => {
    assert.deepEqual(pick(parse(['-D', '1', '--', 'u@h'])), { user: 'u', host: 'h', port: 22, implicit: { port: true, user: false } });
  });

  test('ssh://user@host:port', () => {
    assert.deepEqual(pick(parse(['-D', '1', 'ssh://deploy@vps.example.com:2200'])), { user: 'deploy', host: 'vps.example.com', port: 2200, implicit: { port: false, user: false } });
    assert.deepEqual(pick(parse(['-D', '1', 'ssh://vps.example.com'])), { user: 'me', host: 'vps.example.com', port: 22, implicit: { port: true, user: true } });
    assert.deepEqual(pick(parse(['-D', '1', 'ssh://vps.example.com/'])), { user: 'me', host: 'vps.example.com', port: 22, implicit: { port: true, user: true } });
    // -p and -l win over the URL's, as in ssh.
    assert.deepEqual(pick(parse(['-p', '22', '-l', 'bob', '-D', '1', 'ssh://alice@vps.example.com:2200'])), { user: 'bob', host: 'vps.example.com', port: 22, implicit: { port: false, user: false } });
  });

  test('ssh://[v6]:port: the brackets are URL syntax, not part of the host', () => {
    assert.deepEqual(pick(parse(['-D', '1', 'ssh://tunnel@[2001:db8::1]:2200'])), { user: 'tunnel', host: '2001:db8::1', port: 2200, implicit: { port: false, user: false } });
    assert.equal(parse(['-D', '1', 'me@[2001:db8::1]']).spec.server.host, '2001:db8::1', 'user@[v6] too');
  });

  test('ssh:// with a bad port is refused, not silently replaced by 22', () => {
    assert.equal(usageError(['-D', '1', 'ssh://vps.example.com:70000']), `destination="ssh://vps.example.com:70000": port "70000": ${PORT_EXPECTED}`);
    assert.equal(usageError(['-D', '1', 'ssh://vps.example.com:0']), `destination="ssh://vps.example.com:0": port "0": ${PORT_EXPECTED}`);
  });

  test('a bad host or user in the destination', () => {
    assert.equal(usageError(['-D', '1', 'bad host']), 'destination="bad host": expected a host name (letters, digits, "-", "." and "_") or an IP address');
    assert.equal(usageError(['-D', '1', 'host:2222']), 'destination="host:2222": expected a host name (letters, digits, "-", "." and "_") or an IP address');
    assert.equal(usageError(['-D', '1', '-']), 'destination="-": must not begin with "-" (ssh would read it as an option); expected a host name or IP address');
    assert.equal(usageError(['-D', '1', 'a;b@h']), 'user="a;b": expected a login name without spaces, quotes or shell characters');
  });

  test('a remote command after the destination is refused', () => {
    assert.equal(usageError(['-D', '1', 'h', 'uptime']), `command line="uptime": ${NO_COMMAND}`);
    assert.equal(usageError(['-D', '1', 'h', 'tail', '-f', '/var/log/syslog']), `command line="tail -f /var/log/syslog": ${NO_COMMAND}`);
    assert.equal(usageError(['-D', '1', '--', 'h', 'uptime']), `command line="uptime": ${NO_COMMAND}`);
  });

  test('options may follow the destination, as in ssh', () => {
    const r = parse(['me@h', '-L', '8080:db:5432', '-p', '2222']);
    assert.equal(r.spec.server.host, 'h');
    assert.equal(r.spec.server.port, 2222);
    assert.deepEqual(r.spec.forwards.map((f) => f.bindPort), [8080]);
    assert.equal(usageError(['h', '-D', '1', 'uptime']), `command line="uptime": ${NO_COMMAND}`);
  });

  test('no destination: UsageError', () => {
    for (const words of [[], ['-D', '1080'], ['-D', '1080', '--'], ['-NT', '-L', '8080:db:5432']]) {
      assert.throws(() => parse(words), (e: unknown) => e instanceof UsageError && e.message === NO_DESTINATION && e.exitCode === EXIT_USAGE, JSON.stringify(words));
    }
  });
});

function pick(r: SshCommandLine) {
  const { user, host, port, implicit } = r.spec.server;
  return { user, host, port, implicit };
}
