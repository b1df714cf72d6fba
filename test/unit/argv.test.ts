/**
 * buildSshArgs: the ssh argv as a pure function of the spec. ssh keeps the FIRST value it gets
 * for an option, so the order of the words is the precedence and is asserted exactly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_BACKOFF, type Forward, type HostKeyPolicy, type KeepaliveSpec, type TunnelSpec } from '../../src/config/spec.js';
import { ENV_SETTING_NAMES } from '../../src/config/env.js';
import { buildSshArgs, formatCommand, forwardArgs, sshConfigPath, type SshFiles } from '../../src/ssh/argv.js';

const DEFAULT_KEEPALIVE: KeepaliveSpec = { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } };
const LOCAL: Forward = { kind: 'local', bindAddress: '127.0.0.1', bindPort: 8080, targetHost: 'db', targetPort: 5432 };
const KNOWN_HOSTS: HostKeyPolicy = { mode: 'known-hosts', file: '/known_hosts', checkHostIp: true };

function makeSpec(over: {
  forwards?: Forward[];
  hostKey?: HostKeyPolicy;
  keepalive?: KeepaliveSpec;
  extraArgs?: string[];
  connectTimeoutSec?: number;
  user?: string;
  host?: string;
  port?: number;
} = {}): TunnelSpec {
  return {
    name: 't',
    server: {
      user: over.user ?? 'alice',
      host: over.host ?? 'example.com',
      port: over.port ?? 2222,
      hostKey: over.hostKey ?? KNOWN_HOSTS,
    },
    forwards: over.forwards ?? [LOCAL],
    keepalive: over.keepalive ?? DEFAULT_KEEPALIVE,
    connectTimeoutSec: over.connectTimeoutSec ?? 10,
    ssh: { extraArgs: over.extraArgs ?? [], addsRemoteForwards: false, proxied: false },
    settingNames: ENV_SETTING_NAMES,
    backoff: { ...DEFAULT_BACKOFF },
  };
}

const FILES: SshFiles = { knownHostsFile: '/known_hosts' };

/** Values given with -o KEYWORD=..., in order. */
function optionValues(args: string[], keyword: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === '-o' && args[i + 1]!.startsWith(`${keyword}=`)) out.push(args[i + 1]!.slice(keyword.length + 1));
  }
  return out;
}

/** What ssh would use: the first -o value for the keyword. */
function effective(args: string[], keyword: string): string | undefined {
  return optionValues(args, keyword)[0];
}

function indexOfWord(args: string[], word: string): number {
  const i = args.indexOf(word);
  assert.notEqual(i, -1, `${word} not in ${JSON.stringify(args)}`);
  return i;
}

describe('buildSshArgs: complete command lines', () => {
  test('-L with a known_hosts file and default keepalive', () => {
    assert.deepEqual(buildSshArgs(makeSpec(), FILES), [
      '-v',
      '-N',
      '-o', 'BatchMode=yes',
      '-o', 'ExitOnForwardFailure=yes',
      '-o', 'ControlMaster=no',
      '-o', 'ControlPath=none',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'UserKnownHostsFile=/known_hosts',
      '-o', 'CheckHostIP=yes',
      '-o', 'UpdateHostKeys=no',
      '-o', 'HashKnownHosts=no',
      '-o', 'ServerAliveInterval=2',
      '-o', 'ServerAliveCountMax=3',
      '-o', 'ConnectTimeout=10',
      '-L', '127.0.0.1:8080:db:5432',
      '-p', '2222',
      '-l', 'alice',
      '--', 'example.com',
    ]);
  });

  test('-R with trust on first use, an identity file, explicit keepalive and extra options', () => {
    const spec = makeSpec({
      forwards: [{ kind: 'remote', bindAddress: '127.0.0.1', bindPort: 9000, targetHost: 'localhost', targetPort: 3000 }],
      hostKey: { mode: 'trust-on-first-use', checkHostIp: false },
      keepalive: { intervalSec: 15, countMax: 4, explicit: { interval: true, countMax: true } },
      extraArgs: ['-o', 'ServerAliveInterval=60', '-C'],
      connectTimeoutSec: 5,
      user: 'root',
      host: 'relay.example.net',
      port: 22,
    });
    const files: SshFiles = { knownHostsFile: '/var/lib/autotunnel/known_hosts', identityFile: '/dev/shm/autotunnel-x/t.key' };
    assert.deepEqual(buildSshArgs(spec, files), [
      '-v',
      '-N',
      '-o', 'BatchMode=yes',
      '-o', 'ExitOnForwardFailure=yes',
      '-o', 'ControlMaster=no',
      '-o', 'ControlPath=none',
      '-o', 'StrictHostKeyChecking=accept-new',
      '-o', 'UserKnownHostsFile=/var/lib/autotunnel/known_hosts',
      '-o', 'CheckHostIP=no',
      '-o', 'UpdateHostKeys=no',
      '-o', 'HashKnownHosts=no',
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=4',
      '-i', '/dev/shm/autotunnel-x/t.key',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'ServerAliveInterval=60',
      '-C',
      '-o', 'ConnectTimeout=5',
      '-R', '127.0.0.1:9000:localhost:3000',
      '-p', '22',
      '-l', 'root',
      '--', 'relay.example.net',
    ]);
  });

  test('-D (SOCKS) has no target part', () => {
    const args = buildSshArgs(makeSpec({ forwards: [{ kind: 'dynamic', bindAddress: '0.0.0.0', bindPort: 1080 }] }), FILES);
    assert.deepEqual(args.slice(-8), ['-D', '0.0.0.0:1080', '-p', '2222', '-l', 'alice', '--', 'example.com']);
  });
});

describe('forwards', () => {
  test('-L, -R and -D notation', () => {
    assert.deepEqual(forwardArgs(LOCAL), ['-L', '127.0.0.1:8080:db:5432']);
    assert.deepEqual(forwardArgs({ kind: 'remote', bindAddress: '0.0.0.0', bindPort: 9000, targetHost: 'localhost', targetPort: 3000 }), [
      '-R', '0.0.0.0:9000:localhost:3000',
    ]);
    assert.deepEqual(forwardArgs({ kind: 'dynamic', bindAddress: '127.0.0.1', bindPort: 1080 }), ['-D', '127.0.0.1:1080']);
  });

  test('-R with port 0 (server-allocated)', () => {
    assert.deepEqual(forwardArgs({ kind: 'remote', bindAddress: '127.0.0.1', bindPort: 0, targetHost: 'localhost', targetPort: 22 }), [
      '-R', '127.0.0.1:0:localhost:22',
    ]);
  });

  test('without a bind address the bind part is just the port', () => {
    assert.deepEqual(forwardArgs({ kind: 'remote', bindPort: 9000, targetHost: 'localhost', targetPort: 3000 }), ['-R', '9000:localhost:3000']);
    assert.deepEqual(forwardArgs({ kind: 'dynamic', bindPort: 1080 }), ['-D', '1080']);
  });

  test('IPv6 bind and target addresses are bracketed, and never twice', () => {
    assert.deepEqual(forwardArgs({ kind: 'local', bindAddress: '::1', bindPort: 8080, targetHost: '2001:db8::5', targetPort: 80 }), [
      '-L', '[::1]:8080:[2001:db8::5]:80',
    ]);
    assert.deepEqual(forwardArgs({ kind: 'local', bindAddress: '[::]', bindPort: 8080, targetHost: '[fd00::1]', targetPort: 80 }), [
      '-L', '[::]:8080:[fd00::1]:80',
    ]);
    assert.deepEqual(forwardArgs({ kind: 'dynamic', bindAddress: '::', bindPort: 1080 }), ['-D', '[::]:1080']);
    assert.deepEqual(forwardArgs({ kind: 'remote', bindAddress: '*', bindPort: 9000, targetHost: '::1', targetPort: 22 }), ['-R', '*:9000:[::1]:22']);
  });

  test('several forwards appear in order, before -p', () => {
    const args = buildSshArgs(
      makeSpec({
        forwards: [LOCAL, { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 0, targetHost: 'localhost', targetPort: 22 }, { kind: 'dynamic', bindPort: 1080 }],
      }),
      FILES,
    );
    assert.deepEqual(args.slice(-12), [
      '-L', '127.0.0.1:8080:db:5432', '-R', '127.0.0.1:0:localhost:22', '-D', '1080', '-p', '2222', '-l', 'alice', '--', 'example.com',
    ]);
  });
});

describe('destination', () => {
  test('ends with -p PORT -l USER -- HOST', () => {
    const args = buildSshArgs(makeSpec({ user: 'user@corp', host: 'h.example', port: 65535 }), FILES);
    assert.deepEqual(args.slice(-6), ['-p', '65535', '-l', 'user@corp', '--', 'h.example']);
    assert.equal(args.filter((a) => a === '--').length, 1);
  });

  test('an IPv6 host is passed without brackets (ssh takes the bare address after --)', () => {
    assert.equal(buildSshArgs(makeSpec({ host: '::1' }), FILES).at(-1), '::1');
    assert.equal(buildSshArgs(makeSpec({ host: '2001:db8::1' }), FILES).at(-1), '2001:db8::1');
  });
});

describe('always present', () => {
  test('-v first (readiness is only logged at debug1), -N second, each exactly once', () => {
    for (const spec of [makeSpec(), makeSpec({ extraArgs: ['-C'] }), makeSpec({ forwards: [{ kind: 'dynamic', bindPort: 1 }] })]) {
      const args = buildSshArgs(spec, FILES);
      assert.deepEqual(args.slice(0, 2), ['-v', '-N']);
      assert.equal(args.filter((a) => a === '-v').length, 1);
      assert.equal(args.filter((a) => a === '-N').length, 1);
    }
  });

  test('supervision options come right after -N, before anything the user can set', () => {
    const args = buildSshArgs(makeSpec({ extraArgs: ['-o', 'BatchMode=no', '-o', 'ExitOnForwardFailure=no', '-o', 'ControlMaster=auto'] }), FILES);
    assert.deepEqual(args.slice(2, 10), ['-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-o', 'ControlMaster=no', '-o', 'ControlPath=none']);
    assert.equal(effective(args, 'BatchMode'), 'yes');
    assert.equal(effective(args, 'ExitOnForwardFailure'), 'yes');
    assert.equal(effective(args, 'ControlMaster'), 'no');
  });
});

describe('identity file', () => {
  test('with one: -i FILE and IdentitiesOnly=yes, before the extra options', () => {
    const args = buildSshArgs(makeSpec({ extraArgs: ['-i', '/other/key', '-o', 'IdentitiesOnly=no'] }), { ...FILES, identityFile: '/keys/id' });
    const i = indexOfWord(args, '-i');
    assert.deepEqual(args.slice(i, i + 4), ['-i', '/keys/id', '-o', 'IdentitiesOnly=yes']);
    assert.ok(i < args.indexOf('/other/key'));
    assert.equal(effective(args, 'IdentitiesOnly'), 'yes');
  });

  test('without one: no -i and no IdentitiesOnly (ssh defaults and agent are used)', () => {
    const args = buildSshArgs(makeSpec(), FILES);
    assert.equal(args.includes('-i'), false);
    assert.deepEqual(optionValues(args, 'IdentitiesOnly'), []);
  });

  test('the path is one argv element even with spaces', () => {
    const args = buildSshArgs(makeSpec(), { ...FILES, identityFile: '/my keys/id' });
    assert.equal(args[indexOfWord(args, '-i') + 1], '/my keys/id');
  });
});

describe('host-key modes', () => {
  const cases: Array<[HostKeyPolicy, string, string]> = [
    [{ mode: 'known-hosts', file: '/known_hosts', checkHostIp: true }, 'yes', 'yes'],
    [{ mode: 'known-hosts', file: '/known_hosts', checkHostIp: false }, 'yes', 'no'],
    [{ mode: 'pinned', knownHostsLines: ['h ssh-ed25519 AAAA'], checkHostIp: true }, 'yes', 'yes'],
    [{ mode: 'pinned', knownHostsLines: ['h ssh-ed25519 AAAA'], checkHostIp: false }, 'yes', 'no'],
    [{ mode: 'trust-on-first-use', checkHostIp: true }, 'accept-new', 'yes'],
    [{ mode: 'trust-on-first-use', checkHostIp: false }, 'accept-new', 'no'],
  ];
  for (const [hostKey, strict, checkIp] of cases) {
    test(`${hostKey.mode}, checkHostIp=${'checkHostIp' in hostKey ? hostKey.checkHostIp : '-'} → StrictHostKeyChecking=${strict}, CheckHostIP=${checkIp}`, () => {
      const files: SshFiles = { knownHostsFile: '/state/known_hosts' };
      const args = buildSshArgs(makeSpec({ hostKey, extraArgs: ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'CheckHostIP=maybe'] }), files);
      assert.deepEqual(args.slice(10, 20), [
        '-o', `StrictHostKeyChecking=${strict}`,
        '-o', 'UserKnownHostsFile=/state/known_hosts',
        '-o', `CheckHostIP=${checkIp}`,
        '-o', 'UpdateHostKeys=no',
        '-o', 'HashKnownHosts=no',
      ]);
      // first value wins: the user's attempts to weaken checking come later and are ignored
      assert.equal(effective(args, 'StrictHostKeyChecking'), strict);
      assert.equal(effective(args, 'UserKnownHostsFile'), '/state/known_hosts');
      assert.equal(effective(args, 'CheckHostIP'), checkIp);
    });
  }

  test('host keys are never accepted blindly', () => {
    for (const [hostKey] of cases) {
      const args = buildSshArgs(makeSpec({ hostKey }), FILES);
      assert.equal(args.includes('StrictHostKeyChecking=no'), false);
      assert.deepEqual(optionValues(args, 'StrictHostKeyChecking').length, 1);
    }
  });

  test('the known_hosts file comes from the files, not the policy', () => {
    const args = buildSshArgs(makeSpec({ hostKey: { mode: 'known-hosts', file: '/known_hosts', checkHostIp: true } }), { knownHostsFile: '/elsewhere/kh' });
    assert.deepEqual(optionValues(args, 'UserKnownHostsFile'), ['/elsewhere/kh']);
  });
});

describe('known_hosts paths as ssh reads them', () => {
  test('plain paths are passed as they are', () => {
    assert.equal(sshConfigPath('/var/lib/autotunnel/known_hosts'), '/var/lib/autotunnel/known_hosts');
    assert.equal(sshConfigPath('/dev/shm/autotunnel-AbC123/my-tunnel.known_hosts'), '/dev/shm/autotunnel-AbC123/my-tunnel.known_hosts');
  });

  test('a space would make ssh read two files: the path is double-quoted', () => {
    assert.equal(sshConfigPath('/home/John Smith/.local/state/autotunnel/known_hosts'), '"/home/John Smith/.local/state/autotunnel/known_hosts"');
    const args = buildSshArgs(makeSpec(), { knownHostsFile: '/my dir/known_hosts' });
    assert.deepEqual(optionValues(args, 'UserKnownHostsFile'), ['"/my dir/known_hosts"']);
  });

  test('"%" is escaped (ssh expands %-tokens in file names)', () => {
    assert.equal(sshConfigPath('/data/100%/known_hosts'), '/data/100%%/known_hosts');
    assert.equal(sshConfigPath('/a %d/kh'), '"/a %%d/kh"');
  });

  test('quotes and backslashes are escaped inside the double quotes; # is quoted', () => {
    assert.equal(sshConfigPath('/a"b/kh'), '"/a\\"b/kh"');
    assert.equal(sshConfigPath('/a\\b/kh'), '"/a\\\\b/kh"');
    assert.equal(sshConfigPath("/it's/kh"), `"/it's/kh"`);
    assert.equal(sshConfigPath('/#x/kh'), '"/#x/kh"');
    assert.equal(sshConfigPath('/t\tab/kh'), '"/t\tab/kh"');
  });
});

describe('keepalive and connect timeout: order gives precedence', () => {
  const extra = ['-o', 'ServerAliveInterval=60', '-o', 'ServerAliveCountMax=9', '-o', 'ConnectTimeout=99'];

  test('defaults come after SSH_OPTIONS words, so the user\'s -o values win', () => {
    const args = buildSshArgs(makeSpec({ extraArgs: extra }), FILES);
    assert.deepEqual(optionValues(args, 'ServerAliveInterval'), ['60', '2']);
    assert.deepEqual(optionValues(args, 'ServerAliveCountMax'), ['9', '3']);
    assert.deepEqual(optionValues(args, 'ConnectTimeout'), ['99', '10']);
    assert.equal(effective(args, 'ServerAliveInterval'), '60');
    assert.equal(effective(args, 'ConnectTimeout'), '99');
  });

  test('explicit SSH_SERVER_ALIVE_* values come before SSH_OPTIONS words and win', () => {
    const keepalive: KeepaliveSpec = { intervalSec: 5, countMax: 2, explicit: { interval: true, countMax: true } };
    const args = buildSshArgs(makeSpec({ keepalive, extraArgs: extra }), FILES);
    assert.deepEqual(optionValues(args, 'ServerAliveInterval'), ['5', '60']);
    assert.deepEqual(optionValues(args, 'ServerAliveCountMax'), ['2', '9']);
    // explicit values are right after the host-key options
    assert.deepEqual(args.slice(20, 24), ['-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2']);
  });

  test('interval explicit, count default: each in its own place', () => {
    const keepalive: KeepaliveSpec = { intervalSec: 30, countMax: 3, explicit: { interval: true, countMax: false } };
    const args = buildSshArgs(makeSpec({ keepalive, extraArgs: ['-C'] }), FILES);
    const interval = args.indexOf('ServerAliveInterval=30');
    const extraAt = indexOfWord(args, '-C');
    const count = args.indexOf('ServerAliveCountMax=3');
    assert.ok(interval > 0 && interval < extraAt && extraAt < count, JSON.stringify(args));
    assert.equal(optionValues(args, 'ServerAliveInterval').length, 1);
    assert.equal(optionValues(args, 'ServerAliveCountMax').length, 1);
  });

  test('count explicit, interval default', () => {
    const keepalive: KeepaliveSpec = { intervalSec: 2, countMax: 7, explicit: { interval: false, countMax: true } };
    const args = buildSshArgs(makeSpec({ keepalive, extraArgs: ['-C'] }), FILES);
    assert.ok(args.indexOf('ServerAliveCountMax=7') < indexOfWord(args, '-C'));
    assert.ok(args.indexOf('ServerAliveInterval=2') > indexOfWord(args, '-C'));
  });

  test('0 values are passed as 0', () => {
    const keepalive: KeepaliveSpec = { intervalSec: 0, countMax: 0, explicit: { interval: true, countMax: true } };
    const args = buildSshArgs(makeSpec({ keepalive }), FILES);
    assert.deepEqual(optionValues(args, 'ServerAliveInterval'), ['0']);
    assert.deepEqual(optionValues(args, 'ServerAliveCountMax'), ['0']);
  });

  test('ConnectTimeout follows the default keepalive options and precedes the forwards', () => {
    const args = buildSshArgs(makeSpec({ connectTimeoutSec: 42 }), FILES);
    const at = args.indexOf('ConnectTimeout=42');
    assert.equal(args[at - 1], '-o');
    assert.equal(args[at - 2], 'ServerAliveCountMax=3');
    assert.equal(args[at + 1], '-L');
  });
});

describe('extra arguments', () => {
  test('are inserted verbatim, contiguous and in order, between explicit and default settings', () => {
    const extra = ['-o', 'ProxyCommand=nc -x proxy:1080 %h %p', '-vT', '-J', 'bastion', '-o', 'StreamLocalBindUnlink=yes'];
    const args = buildSshArgs(makeSpec({ extraArgs: extra }), FILES);
    const start = args.indexOf('ProxyCommand=nc -x proxy:1080 %h %p') - 1;
    assert.deepEqual(args.slice(start, start + extra.length), extra);
    assert.ok(start > args.indexOf('HashKnownHosts=no'));
    assert.ok(start + extra.length < args.indexOf('ServerAliveInterval=2'));
  });

  test('text that a shell would interpret is passed through untouched as single elements', () => {
    const extra = ['-o', 'ProxyCommand=sh -c "nc $PROXY %p" ; `id`', '-o', 'SetEnv=A=$(whoami)'];
    const args = buildSshArgs(makeSpec({ extraArgs: extra }), FILES);
    assert.equal(args.filter((a) => a === 'ProxyCommand=sh -c "nc $PROXY %p" ; `id`').length, 1);
    assert.equal(args.filter((a) => a === 'SetEnv=A=$(whoami)').length, 1);
  });
});

describe('no shell', () => {
  test('every element autotunnel itself generates is plain text: no quoting, expansion or operators relied on', () => {
    const specs = [
      makeSpec(),
      makeSpec({ hostKey: { mode: 'trust-on-first-use', checkHostIp: false }, forwards: [{ kind: 'remote', bindAddress: '::1', bindPort: 0, targetHost: 'fd00::2', targetPort: 22 }] }),
      makeSpec({ forwards: [{ kind: 'dynamic', bindAddress: '*', bindPort: 1080 }], host: '::1', user: 'user@corp' }),
    ];
    for (const spec of specs) {
      const args = buildSshArgs(spec, { knownHostsFile: '/var/lib/autotunnel/known_hosts', identityFile: '/dev/shm/autotunnel-1/t.key' });
      for (const a of args) {
        assert.equal(typeof a, 'string');
        // allowed: letters, digits and . _ - / : = @ and the brackets/asterisk of ssh's forward notation
        assert.match(a, /^[A-Za-z0-9._\-/:=@\[\]*]+$/, `element ${JSON.stringify(a)} would need a shell`);
        assert.doesNotMatch(a, /[\s'"`$;&|<>(){}\\]/);
      }
    }
  });

  test('the number of elements is exact (nothing joined into one string for a shell to split)', () => {
    assert.equal(buildSshArgs(makeSpec(), FILES).length, 2 + 2 * 9 + 2 * 3 + 2 + 6);
  });
});

describe('formatCommand', () => {
  test('leaves plain words alone', () => {
    assert.equal(formatCommand('/usr/bin/ssh', ['-v', '-N', '-o', 'BatchMode=yes', '-L', '127.0.0.1:8080:db:5432', '-p', '22', '-l', 'a@b', '--', 'h']), '/usr/bin/ssh -v -N -o BatchMode=yes -L 127.0.0.1:8080:db:5432 -p 22 -l a@b -- h');
    assert.equal(formatCommand('ssh', ['%h', '+x', 'a,b']), 'ssh %h +x a,b');
  });

  test('single-quotes words with spaces or shell characters', () => {
    assert.equal(formatCommand('ssh', ['-o', 'ProxyCommand=nc -x p:1080 %h %p']), "ssh -o 'ProxyCommand=nc -x p:1080 %h %p'");
    for (const w of ['$HOME', '`id`', 'a;b', 'a|b', 'a&b', '*', '?', '~', 'a"b', '#x', '(x)', '>x', 'a\tb', 'a\nb']) {
      assert.equal(formatCommand('ssh', [w]), `ssh '${w}'`, JSON.stringify(w));
    }
  });

  test('quotes glob brackets, so an IPv6 forward pastes in zsh too', () => {
    assert.equal(formatCommand('ssh', ['-L', '[::1]:8080:[::1]:80']), "ssh -L '[::1]:8080:[::1]:80'");
  });

  test('escapes single quotes inside words', () => {
    assert.equal(formatCommand('ssh', ["it's"]), `ssh 'it'\\''s'`);
    assert.equal(formatCommand('ssh', ["''"]), `ssh ''\\'''\\'''`);
  });

  test('an empty word is shown as \'\'', () => {
    assert.equal(formatCommand('ssh', ['']), "ssh ''");
  });

  test('the command itself is quoted when needed', () => {
    assert.equal(formatCommand('/opt/my ssh/ssh', ['-v']), "'/opt/my ssh/ssh' -v");
  });
});

describe('buildSshArgs: the ready marker', () => {
  test('is a local socket forward placed before every forward of the user, extra arguments included', () => {
    const marker = '/dev/shm/autotunnel-1-x/ready-00.sock';
    const args = buildSshArgs(makeSpec({ extraArgs: ['-L', '9000:db:5432'] }), { ...FILES, readyMarker: marker });
    const at = indexOfWord(args, `${marker}:127.0.0.1:9`);
    assert.equal(args[at - 1], '-L');
    assert.ok(at < indexOfWord(args, '9000:db:5432'), 'before the extra -L');
    assert.ok(at < indexOfWord(args, '127.0.0.1:8080:db:5432'), 'before the spec forwards');
  });
  test('absent without a marker path', () => {
    assert.ok(!buildSshArgs(makeSpec(), FILES).some((a) => a.includes('127.0.0.1:9')));
  });
});
