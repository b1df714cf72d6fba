/** Jump hosts: which ones a tunnel has, the private ssh_config their connections read, and which hop failed. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jumpHostsOf, jumpSshConfig, needsJumpConfig, parseJumpHost, safeForProxyCommand } from '../../src/ssh/jump.js';
import { buildSshArgs } from '../../src/ssh/argv.js';
import { CauseTracker, parseSshLine } from '../../src/ssh/stderr.js';
import { withHint, type HintContext } from '../../src/ssh/causes.js';
import { DEFAULT_BACKOFF, type TunnelSpec } from '../../src/config/spec.js';
import { ENV_SETTING_NAMES } from '../../src/config/env.js';

function spec(over: Partial<TunnelSpec['server']> = {}, extraArgs: string[] = []): TunnelSpec {
  return {
    name: 't',
    server: { user: 'u', host: 'dest', port: 22, hostKey: { mode: 'known-hosts', file: '/kh', checkHostIp: true }, ...over },
    forwards: [{ kind: 'local', bindAddress: '127.0.0.1', bindPort: 1, targetHost: 'x', targetPort: 2 }],
    keepalive: { intervalSec: 2, countMax: 3, explicit: { interval: false, countMax: false } },
    connectTimeoutSec: 10,
    ssh: { extraArgs, addsRemoteForwards: false, proxied: true },
    settingNames: ENV_SETTING_NAMES,
    backoff: DEFAULT_BACKOFF,
  };
}

const ctx: HintContext = { host: 'dest', port: 22, user: 'u', hostKeyMode: 'known-hosts', knownHostsFile: '/kh', identityFile: '/k', remotePorts: [], settings: ENV_SETTING_NAMES };

describe('jump hosts of a tunnel', () => {
  it('come from server.jump, -J (joined or apart, comma lists) and -o ProxyJump', () => {
    assert.deepEqual(jumpHostsOf(spec({ jump: ['a@j1:2200', 'j2'] })).map((j) => [j.user, j.host, j.port]), [['a', 'j1', 2200], [undefined, 'j2', 22]]);
    assert.deepEqual(jumpHostsOf(spec({}, ['-J', 'x@h1,h2:23'])).map((j) => `${j.host}:${j.port}`), ['h1:22', 'h2:23']);
    assert.deepEqual(jumpHostsOf(spec({}, ['-Jh3'])).map((j) => j.host), ['h3']);
    assert.deepEqual(jumpHostsOf(spec({}, ['-o', 'ProxyJump=b@[::1]:2022'])).map((j) => [j.user, j.host, j.port]), [['b', '::1', 2022]]);
    assert.deepEqual(jumpHostsOf(spec({}, ['-oProxyJump h4'])).map((j) => j.host), ['h4']);
    assert.deepEqual(jumpHostsOf(spec({}, ['-o', 'ProxyJump=none', '-o', 'Compression=yes'])), []);
    assert.deepEqual(parseJumpHost('ssh://me@gw:2222'), { user: 'me', host: 'gw', port: 2222, text: 'ssh://me@gw:2222' });
  });

  it('need the private ssh_config unless ssh\'s own configuration decides or the user gave -F', () => {
    assert.equal(needsJumpConfig(spec({ jump: ['j'] })), true);
    assert.equal(needsJumpConfig(spec({}, ['-J', 'j'])), true);
    assert.equal(needsJumpConfig(spec()), false);
    assert.equal(needsJumpConfig(spec({ jump: ['j'], hostKey: { mode: 'ssh-config' } })), false);
    assert.equal(needsJumpConfig(spec({ jump: ['j'] }, ['-F', '/mine'])), false);
  });
});

describe('the private ssh_config', () => {
  it('gives every hop the tunnel\'s key, host keys, BatchMode, timeouts and keepalives, then includes the usual files', () => {
    const text = jumpSshConfig(spec({ jump: ['j'], hostKey: { mode: 'trust-on-first-use', checkHostIp: false } }), { knownHostsFile: '/state dir/known_hosts', identityFile: '/shm/t%d.key' });
    const lines = text.split('\n').map((l) => l.trim());
    for (const want of ['Host *', 'BatchMode yes', 'StrictHostKeyChecking accept-new', 'UserKnownHostsFile "/state dir/known_hosts"', 'CheckHostIP no', 'IdentityFile /shm/t%%d.key', 'IdentitiesOnly yes', 'ConnectTimeout 10', 'ServerAliveInterval 2', 'ServerAliveCountMax 3', 'ControlPath none']) {
      assert.ok(lines.includes(want), `${want} in:\n${text}`);
    }
    assert.ok(lines.indexOf('Include ~/.ssh/config') > lines.indexOf('IdentitiesOnly yes'), 'ours first: ssh keeps the first value');
    assert.match(jumpSshConfig(spec({ jump: ['j'] }), { knownHostsFile: '/kh' }), /StrictHostKeyChecking yes\n/);
    const agent = jumpSshConfig(spec({ jump: ['j'] }), { knownHostsFile: '/kh', identityFile: '/p/t.pub', identityAgent: '/p/agent.sock' });
    assert.match(agent, /IdentityFile \/p\/t\.pub\n  IdentitiesOnly yes\n  IdentityAgent \/p\/agent\.sock\n/, 'a key held by our agent is offered to the jump hosts too');
  });

  it('is given with -F, before everything else ssh reads', () => {
    const args = buildSshArgs(spec({ jump: ['j'] }), { knownHostsFile: '/kh', configFile: '/shm/t.ssh_config' });
    assert.deepEqual(args.slice(args.indexOf('-F'), args.indexOf('-F') + 2), ['-F', '/shm/t.ssh_config']);
    assert.equal(buildSshArgs(spec(), { knownHostsFile: '/kh' }).includes('-F'), false);
  });

  it('only from a path that is safe in a shell command', () => {
    assert.equal(safeForProxyCommand('/dev/shm/autotunnel-12-AbC9/t-1.ssh_config'), true);
    for (const bad of ['/tmp/a b/x', '/tmp/$(x)/c', '/tmp/a;b', '/tmp/%d/c', "/tmp/a'b"]) assert.equal(safeForProxyCommand(bad), false, bad);
  });
});

describe('which hop failed', () => {
  const run = (lines: string[], jumps = jumpHostsOf(spec({ jump: ['ju@127.0.0.1:2201', 'j2:2202'] }))) => {
    const t = new CauseTracker(jumps);
    for (const l of lines) t.observe(parseSshLine(l));
    return t.cause && withHint(t.cause, ctx);
  };

  it('a failure before the first jump host let us in is the first jump host\'s, with its address and fix', () => {
    const cause = run(['debug1: Connecting to 127.0.0.1 [127.0.0.1] port 2201.', 'ssh: connect to host 127.0.0.1 port 2201: Connection refused', 'kex_exchange_identification: Connection closed by remote host'])!;
    assert.equal(cause.code, 'connection_refused');
    assert.match(cause.summary, /^the jump host 127\.0\.0\.1:2201 failed: the jump host 127\.0\.0\.1 refused/);
    assert.match(cause.hint!, /sshd runs on the jump host 127\.0\.0\.1 port 2201/);
    assert.deepEqual(cause.jump, { host: '127.0.0.1', port: 2201, user: 'ju' });
  });

  it('after the first hop authenticated, the second jump host; after every hop, the server itself', () => {
    const auth = 'debug1: Authenticated to 127.0.0.1 ([127.0.0.1]:2201) using "publickey".';
    const changed = 'Host key for [j2]:2202 has changed and you have requested strict checking.';
    const second = run([auth, changed])!;
    assert.match(second.summary, /^the jump host j2:2202 failed/);
    assert.match(second.hint!, /ssh-keygen -R '\[j2\]:2202'/);
    const server = run([auth, 'debug1: Authenticated to j2 (via proxy) using "publickey".', 'Host key for dest has changed and you have requested strict checking.'])!;
    assert.equal(server.jump, undefined);
    assert.doesNotMatch(server.summary, /jump/);
  });
});
