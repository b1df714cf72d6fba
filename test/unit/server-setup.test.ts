/**
 * server-setup's text: the authorized_keys options and the Match block follow the forwards
 * exactly. Applied to a real sshd in test/integration/server-setup.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLIENT_ALIVE_BUDGET_SEC, serverSetupText } from '../../src/ssh/server-setup.js';
import type { Forward, TunnelSpec } from '../../src/config/spec.js';
import { testSpec } from './fakes.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKyKZ94 autotunnel@host';

function spec(name: string, forwards: Forward[]): TunnelSpec {
  const s = testSpec(name, forwards, { user: 'tunnel', host: 'vps', port: 22 });
  s.server.identity = { file: '/k', explicit: true };
  return s;
}
const text = (specs: TunnelSpec[]) => serverSetupText({ specs, publicKeys: new Map(specs.map((s) => [s.name, KEY])) });
const keyLine = (t: string) => t.split('\n').find((l) => l.startsWith('restrict,'))!;
const block = (t: string) => t.split('\n').filter((l) => l.startsWith('    ')).map((l) => l.trim());

describe('server-setup', () => {
  test('-R only: permitlisten as ssh asks for it, no local forwarding, GatewayPorts only when needed', () => {
    const t = text([spec('web', [
      { kind: 'remote', bindPort: 8080, targetHost: 'localhost', targetPort: 80 },
      { kind: 'remote', bindAddress: '0.0.0.0', bindPort: 8443, targetHost: 'localhost', targetPort: 443 },
      { kind: 'remote', bindAddress: '127.0.0.1', bindPort: 0, targetHost: 'localhost', targetPort: 22 },
    ])]);
    assert.equal(keyLine(t), `restrict,port-forwarding,command="/bin/false",permitlisten="8080",permitlisten="0.0.0.0:8443",permitlisten="127.0.0.1:*" ${KEY}`);
    const b = block(t);
    assert.ok(b.includes('AllowTcpForwarding remote'));
    assert.ok(b.includes('PermitListen 8080 0.0.0.0:8443 127.0.0.1:*'));
    assert.ok(b.includes('PermitOpen none'));
    assert.ok(b.includes('GatewayPorts clientspecified'));
    assert.ok(b.includes('ForceCommand /bin/false') && b.includes('PermitTTY no'));
    assert.match(t, new RegExp(`within about ${CLIENT_ALIVE_BUDGET_SEC} s`));
    assert.match(t, /PerSourcePenaltyExemptList/);
  });
  test('-L only: permitopen per target (IPv6 bracketed), no listening', () => {
    const t = text([spec('db', [
      { kind: 'local', bindAddress: '127.0.0.1', bindPort: 5432, targetHost: 'db.internal', targetPort: 5432 },
      { kind: 'local', bindPort: 6379, targetHost: 'fd00::5', targetPort: 6379 },
    ])]);
    assert.equal(keyLine(t), `restrict,port-forwarding,command="/bin/false",permitopen="db.internal:5432",permitopen="[fd00::5]:6379" ${KEY}`);
    const b = block(t);
    assert.ok(b.includes('AllowTcpForwarding local') && b.includes('PermitListen none') && b.includes('GatewayPorts no'));
  });
  test('-D cannot be narrowed to targets: no permitopen, and the text says so', () => {
    const t = text([spec('socks', [{ kind: 'dynamic', bindAddress: '127.0.0.1', bindPort: 1080 }, { kind: 'local', bindPort: 1, targetHost: 'a', targetPort: 2 }])]);
    assert.doesNotMatch(keyLine(t), /permitopen/);
    assert.match(t, /-D \(a SOCKS proxy\) reaches any host/);
    assert.ok(block(t).includes('PermitOpen any'));
  });
  test('a password tunnel: no key line, password authentication allowed for that user only', () => {
    const s = testSpec('pw', [{ kind: 'local', bindPort: 1, targetHost: 'db', targetPort: 5432 }], { user: 'tunnel', host: 'vps', port: 22 });
    s.server.auth = { password: { file: '/pw' } };
    const t = serverSetupText({ specs: [s], publicKeys: new Map() });
    assert.equal(t.split('\n').some((l) => l.startsWith('restrict,')), false);
    assert.match(t, /No key: these tunnels log in with a password/);
    assert.ok(block(t).includes('PasswordAuthentication yes'));
  });
  test('tunnels to one server and user share one block; the forwards add up', () => {
    const t = text([
      spec('a', [{ kind: 'remote', bindPort: 1, targetHost: 'x', targetPort: 2 }]),
      spec('b', [{ kind: 'local', bindPort: 3, targetHost: 'y', targetPort: 4 }]),
    ]);
    assert.equal(t.split('\n').filter((l) => l.startsWith('Match User ')).length, 1);
    assert.match(t, /for tunnels "a", "b"/);
    assert.ok(block(t).includes('AllowTcpForwarding yes'));
    assert.equal(keyLine(t), `restrict,port-forwarding,command="/bin/false",permitlisten="1",permitopen="y:4" ${KEY}`);
  });
});
