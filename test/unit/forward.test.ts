/** Forward notation: ssh's -L/-R/-D words (parseSshForward) and one endpoint of a config-file forward (parseEndpoint). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeForward, parseEndpoint, parseSshForward } from '../../src/config/forward.js';
import type { Forward, ForwardKind } from '../../src/config/spec.js';
import { PORT_EXPECTED } from '../../src/config/validate.js';

const notAPort = (text: string) => `"${text}" is not a port: ${PORT_EXPECTED}`;
const NEEDS_TARGET = 'expected host:port (or a /path/to/socket), e.g. localhost:80';
const BAD_LISTEN = 'expected an IP address such as 127.0.0.1 or 0.0.0.0, "localhost" or "*"';
const BAD_HOST = 'expected a host name (letters, digits, "-", "." and "_") or an IP address';

describe('parseSshForward: -L', () => {
  const ok: Array<[string, Forward]> = [
    ['8080:db:5432', { kind: 'local', bindPort: 8080, targetHost: 'db', targetPort: 5432 }],
    ['127.0.0.1:8080:db.internal:5432', { kind: 'local', bindAddress: '127.0.0.1', bindPort: 8080, targetHost: 'db.internal', targetPort: 5432 }],
    ['0.0.0.0:8080:db:5432', { kind: 'local', bindAddress: '0.0.0.0', bindPort: 8080, targetHost: 'db', targetPort: 5432 }],
    ['localhost:8080:db:5432', { kind: 'local', bindAddress: 'localhost', bindPort: 8080, targetHost: 'db', targetPort: 5432 }],
    ['*:8080:db:5432', { kind: 'local', bindAddress: '*', bindPort: 8080, targetHost: 'db', targetPort: 5432 }],
    // ssh(1): an empty bind address means every interface, like "*".
    [':8080:db:5432', { kind: 'local', bindAddress: '*', bindPort: 8080, targetHost: 'db', targetPort: 5432 }],
    ['[::1]:8080:db:5432', { kind: 'local', bindAddress: '::1', bindPort: 8080, targetHost: 'db', targetPort: 5432 }],
    ['[::]:8080:[2001:db8::10]:5432', { kind: 'local', bindAddress: '::', bindPort: 8080, targetHost: '2001:db8::10', targetPort: 5432 }],
    ['8080:[2001:db8::10]:5432', { kind: 'local', bindPort: 8080, targetHost: '2001:db8::10', targetPort: 5432 }],
    ['8080:192.0.2.7:65535', { kind: 'local', bindPort: 8080, targetHost: '192.0.2.7', targetPort: 65535 }],
    ['8080:/run/postgresql/.s.PGSQL.5432', { kind: 'local', bindPort: 8080, targetSocket: '/run/postgresql/.s.PGSQL.5432' }],
    ['127.0.0.1:8080:/run/app.sock', { kind: 'local', bindAddress: '127.0.0.1', bindPort: 8080, targetSocket: '/run/app.sock' }],
    ['/tmp/db.sock:db:5432', { kind: 'local', bindPort: 0, bindSocket: '/tmp/db.sock', targetHost: 'db', targetPort: 5432 }],
    ['/tmp/docker.sock:/var/run/docker.sock', { kind: 'local', bindPort: 0, bindSocket: '/tmp/docker.sock', targetSocket: '/var/run/docker.sock' }],
    [' 8080:db:5432 ', { kind: 'local', bindPort: 8080, targetHost: 'db', targetPort: 5432 }],
  ];
  for (const [spec, expected] of ok) {
    test(`-L ${spec.trim()}`, () => assert.deepEqual(parseSshForward('local', spec), expected));
  }

  const bad: Array<[string, string]> = [
    ['8080', 'expected [bind_address:]port:host:hostport, got "8080"'],
    ['8080:db', 'expected [bind_address:]port:host:hostport, got "8080:db"'],
    ['', 'expected [bind_address:]port:host:hostport, got ""'],
    ['a:b:8080:db:5432', 'expected [bind_address:]port:host:hostport, got "a:b:8080:db:5432"'],
    ['::1:8080:db:5432', 'expected [bind_address:]port:host:hostport, got "::1:8080:db:5432"'],
    ['[::1]:db:5432', 'expected [address]:port, e.g. [::1]:8080, got "[::1]"'],
    ['[::1:8080:db:5432', 'unbalanced "[" in "[::1:8080:db:5432"'],
    ['::1]:8080:db:5432', 'unbalanced "[" in "::1]:8080:db:5432"'],
    ['[[::1]]:8080:db:5432', 'unbalanced "[" in "[[::1]]:8080:db:5432"'],
    ['0:db:5432', notAPort('0')],
    ['70000:db:5432', notAPort('70000')],
    ['-1:db:5432', notAPort('-1')],
    ['http:db:5432', notAPort('http')],
    ['8080:db:0', notAPort('0')],
    ['8080:db:70000', notAPort('70000')],
    ['8080:db:x', notAPort('x')],
    ['8080:db: 5432', notAPort(' 5432')],
    ['8080::5432', NEEDS_TARGET],
    ['my laptop:8080:db:5432', `listen address "my laptop" ${BAD_LISTEN}`],
    ['-x:8080:db:5432', 'listen address "-x" must not begin with "-"; expected an IP address such as 127.0.0.1 or 0.0.0.0'],
    ['8080:-oProxyCommand=nc:5432', 'target host "-oProxyCommand=nc" must not begin with "-" (ssh would read it as an option); expected a host name or IP address'],
    ['8080:bad host:5432', `target host "bad host" ${BAD_HOST}`],
  ];
  for (const [spec, message] of bad) {
    test(`-L ${JSON.stringify(spec)} is refused`, () => assert.equal(parseSshForward('local', spec), message));
  }
});

describe('parseSshForward: -R', () => {
  const ok: Array<[string, Forward]> = [
    ['8080:localhost:80', { kind: 'remote', bindPort: 8080, targetHost: 'localhost', targetPort: 80 }],
    ['0.0.0.0:8080:localhost:80', { kind: 'remote', bindAddress: '0.0.0.0', bindPort: 8080, targetHost: 'localhost', targetPort: 80 }],
    ['[::1]:8080:[::1]:80', { kind: 'remote', bindAddress: '::1', bindPort: 8080, targetHost: '::1', targetPort: 80 }],
    // Port 0: the server picks the port (remote forwards only).
    ['0:localhost:80', { kind: 'remote', bindPort: 0, targetHost: 'localhost', targetPort: 80 }],
    ['127.0.0.1:0:localhost:80', { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 0, targetHost: 'localhost', targetPort: 80 }],
    ['0:/run/app.sock', { kind: 'remote', bindPort: 0, targetSocket: '/run/app.sock' }],
    ['/tmp/agent.sock:localhost:80', { kind: 'remote', bindPort: 0, bindSocket: '/tmp/agent.sock', targetHost: 'localhost', targetPort: 80 }],
    ['/tmp/remote.sock:/run/local.sock', { kind: 'remote', bindPort: 0, bindSocket: '/tmp/remote.sock', targetSocket: '/run/local.sock' }],
  ];
  for (const [spec, expected] of ok) {
    test(`-R ${spec}`, () => assert.deepEqual(parseSshForward('remote', spec), expected));
  }

  test('the target port is never 0, even for -R', () => {
    assert.equal(parseSshForward('remote', '8080:localhost:0'), notAPort('0'));
  });
  test('-R with a bad port or address', () => {
    assert.equal(parseSshForward('remote', '65536:localhost:80'), notAPort('65536'));
    assert.equal(parseSshForward('remote', '8080:localhost'), 'expected [bind_address:]port:host:hostport, got "8080:localhost"');
    assert.equal(parseSshForward('remote', 'a b:8080:localhost:80'), `listen address "a b" ${BAD_LISTEN}`);
  });
});

describe('parseSshForward: -D', () => {
  const ok: Array<[string, Forward]> = [
    ['1080', { kind: 'dynamic', bindPort: 1080 }],
    ['127.0.0.1:1080', { kind: 'dynamic', bindAddress: '127.0.0.1', bindPort: 1080 }],
    ['0.0.0.0:1080', { kind: 'dynamic', bindAddress: '0.0.0.0', bindPort: 1080 }],
    ['*:1080', { kind: 'dynamic', bindAddress: '*', bindPort: 1080 }],
    [':1080', { kind: 'dynamic', bindAddress: '*', bindPort: 1080 }],
    ['[::1]:1080', { kind: 'dynamic', bindAddress: '::1', bindPort: 1080 }],
    ['[::]:1080', { kind: 'dynamic', bindAddress: '::', bindPort: 1080 }],
  ];
  for (const [spec, expected] of ok) {
    test(`-D ${spec}`, () => assert.deepEqual(parseSshForward('dynamic', spec), expected));
  }

  const bad: Array<[string, string]> = [
    ['0', notAPort('0')],
    ['127.0.0.1:0', notAPort('0')],
    ['socks', notAPort('socks')],
    ['a:b:1080', 'expected [bind_address:]port for -D, got "a:b:1080"'],
    ['1080:proxy:3128', 'expected [bind_address:]port for -D, got "1080:proxy:3128"'],
    ['[::1]', 'expected [address]:port, e.g. [::1]:8080, got "[::1]"'],
    ['[::1:1080', 'unbalanced "[" in "[::1:1080"'],
    ['/tmp/socks.sock', 'a SOCKS proxy (dynamic) listens on a TCP port, not a Unix socket'],
    ['bad host:1080', `listen address "bad host" ${BAD_LISTEN}`],
  ];
  for (const [spec, message] of bad) {
    test(`-D ${JSON.stringify(spec)} is refused`, () => assert.equal(parseSshForward('dynamic', spec), message));
  }
});

describe('parseEndpoint', () => {
  test('bind endpoints: port, address:port, [v6]:port, wildcard, socket', () => {
    assert.deepEqual(parseEndpoint('8080', 'bind', false), { port: 8080 });
    assert.deepEqual(parseEndpoint(' 8080 ', 'bind', false), { port: 8080 });
    assert.deepEqual(parseEndpoint('127.0.0.1:8080', 'bind', false), { address: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseEndpoint('localhost:8080', 'bind', false), { address: 'localhost', port: 8080 });
    assert.deepEqual(parseEndpoint('*:8080', 'bind', false), { address: '*', port: 8080 });
    assert.deepEqual(parseEndpoint(':8080', 'bind', false), { address: '*', port: 8080 });
    assert.deepEqual(parseEndpoint('[::1]:8080', 'bind', false), { address: '::1', port: 8080 });
    assert.deepEqual(parseEndpoint('[::]:8080', 'bind', false), { address: '::', port: 8080 });
    assert.deepEqual(parseEndpoint('/run/autotunnel/db.sock', 'bind', false), { socket: '/run/autotunnel/db.sock' });
    assert.deepEqual(parseEndpoint('  /run/x.sock ', 'bind', false), { socket: '/run/x.sock' });
  });

  test('port 0 only when allowed (remote listeners)', () => {
    assert.deepEqual(parseEndpoint('0', 'bind', true), { port: 0 });
    assert.deepEqual(parseEndpoint('0.0.0.0:0', 'bind', true), { address: '0.0.0.0', port: 0 });
    assert.equal(parseEndpoint('0', 'bind', false), notAPort('0'));
    assert.equal(parseEndpoint('127.0.0.1:0', 'bind', false), notAPort('0'));
  });

  test('target endpoints need a host (or a socket)', () => {
    assert.deepEqual(parseEndpoint('db.internal:5432', 'target', false), { address: 'db.internal', port: 5432 });
    assert.deepEqual(parseEndpoint('[2001:db8::10]:5432', 'target', false), { address: '2001:db8::10', port: 5432 });
    assert.deepEqual(parseEndpoint('[fe80::1%eth0]:22', 'target', false), { address: 'fe80::1%eth0', port: 22 });
    assert.deepEqual(parseEndpoint('/var/run/docker.sock', 'target', false), { socket: '/var/run/docker.sock' });
    assert.equal(parseEndpoint('db.internal', 'target', false), NEEDS_TARGET);
    assert.equal(parseEndpoint('5432', 'target', false), NEEDS_TARGET);
    assert.equal(parseEndpoint(':5432', 'target', false), NEEDS_TARGET);
    assert.equal(parseEndpoint('db:0', 'target', false), notAPort('0'));
    assert.equal(parseEndpoint('-db:5432', 'target', false), 'target host "-db" must not begin with "-" (ssh would read it as an option); expected a host name or IP address');
    assert.equal(parseEndpoint('db host:5432', 'target', false), `target host "db host" ${BAD_HOST}`);
  });

  test('bad bind endpoints', () => {
    assert.equal(parseEndpoint('', 'bind', false), notAPort(''));
    assert.equal(parseEndpoint('70000', 'bind', false), notAPort('70000'));
    assert.equal(parseEndpoint('127.0.0.1:', 'bind', false), notAPort(''));
    assert.equal(parseEndpoint('[::1]:', 'bind', false), notAPort(''));
    assert.equal(parseEndpoint('::1:8080', 'bind', false), 'write an IPv6 address in brackets, e.g. [::1]:8080');
    assert.equal(parseEndpoint('[::1]', 'bind', false), 'expected [address]:port, e.g. [::1]:8080, got "[::1]"');
    assert.equal(parseEndpoint('[::1]8080', 'bind', false), 'expected [address]:port, e.g. [::1]:8080, got "[::1]8080"');
    assert.equal(parseEndpoint('my laptop:8080', 'bind', false), `listen address "my laptop" ${BAD_LISTEN}`);
  });
});

describe('makeForward', () => {
  const cases: Array<[ForwardKind, Parameters<typeof makeForward>[1], Parameters<typeof makeForward>[2], Forward | string]> = [
    ['local', { port: 0 }, { address: 'db', port: 1 }, 'port 0 is only allowed for remote forwards, where the server picks the port'],
    ['dynamic', { port: 0 }, undefined, 'port 0 is only allowed for remote forwards, where the server picks the port'],
    ['remote', { port: 0 }, { address: 'localhost', port: 80 }, { kind: 'remote', bindPort: 0, targetHost: 'localhost', targetPort: 80 }],
    ['dynamic', { socket: '/s' }, undefined, 'a SOCKS proxy (dynamic) listens on a TCP port, not a Unix socket'],
    ['dynamic', { address: '::1', port: 1080 }, undefined, { kind: 'dynamic', bindAddress: '::1', bindPort: 1080 }],
  ];
  for (const [kind, bind, target, expected] of cases) {
    test(`${kind} ${JSON.stringify(bind)} → ${JSON.stringify(expected)}`, () => assert.deepEqual(makeForward(kind, bind, target), expected));
  }
});
