/**
 * Fix texts and option refusals name each setting the way the tunnel's own config source does:
 * SSH_* variables for the environment, the field's path for a tunnels file, the flag or "the
 * destination" for an ssh-style command line. ssh/causes.ts itself knows no config source.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigFile } from '../../src/config/file.js';
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { parseEnv } from '../../src/config/env.js';
import { parseSshCommandLine } from '../../src/config/ssh-command-line.js';
import type { TunnelSpec } from '../../src/config/spec.js';
import { hintContext, makeCause, withHint, type CauseCode } from '../../src/ssh/causes.js';
import { planSshFiles } from '../../src/adapters/ssh-files.js';
import { FakeFiles } from './fakes.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

const YAML = `tunnels:
  - name: first
    server: { host: one.example }
    forwards:
      - local: 5000
        to: db:5432
  - name: second
    server: { host: two.example, port: 2222, host_key: "${ED25519}" }
    forwards:
      - remote: 8080
        to: localhost:80
      - local: 127.0.0.1:6000
        to: cache:6379
`;

function yamlTunnels(text = YAML): TunnelSpec[] {
  const files = new FakeFiles({});
  return parseConfigFile('tunnels.yaml', text, { fileInfo: files.fileInfo, readText: files.readText, env: {} }).tunnels;
}

function hint(spec: TunnelSpec, code: CauseCode): string {
  const files = planSshFiles(spec, '/state');
  return withHint(makeCause(code, 'test'), hintContext(spec, files)).hint ?? '';
}

const envSpec = () => parseEnv({ SSH_REMOTE_HOST: 'bastion', SSH_MODE: '-L', SSH_TUNNEL_PORT: '5000' }, { fileInfo: () => undefined, inContainer: false, random: () => 0.5 }).spec;
const commandLineSpec = () => parseSshCommandLine(['-L', '5000:db:5432', 'me@bastion'], { fileInfo: () => undefined, defaultUser: 'me' }).spec;

describe('fix texts name the setting as the tunnels file writes it', () => {
  test('a refused connection names tunnels[N].server.host and .port', () => {
    const second = yamlTunnels()[1]!;
    assert.equal(hint(second, 'connection_refused'), 'check that sshd runs on two.example port 2222 (tunnels[1].server.host, tunnels[1].server.port)');
    assert.doesNotMatch(hint(second, 'connection_refused'), /SSH_/);
  });

  test('a port in use names tunnels[N].forwards[M].local', () => {
    const second = yamlTunnels()[1]!;
    assert.equal(hint(second, 'local_port_in_use'), 'another process already listens on that port: stop it or choose another tunnels[1].forwards[1].local');
  });

  test('a setting inherited from defaults is named where it is written', () => {
    const [tunnel] = yamlTunnels(`defaults:\n  server: { host: shared.example, user: deploy }\ntunnels:\n  - name: a\n    forwards: [{ local: 5000, to: "db:5432" }]\n`);
    assert.match(hint(tunnel!, 'connection_refused'), /\(defaults\.server\.host, tunnels\[0\]\.server\.port\)$/);
    assert.match(hint(tunnel!, 'permission_denied'), /check defaults\.server\.user \(deploy\) and tunnels\[0\]\.server\.key_file;/);
  });

  test('a pinned key is named by its field, in the fix and in `autotunnel check`', () => {
    const second = yamlTunnels()[1]!;
    assert.match(hint(second, 'host_key_changed'), /put its new public key in tunnels\[1\]\.server\.host_key /);
    assert.equal(planSshFiles(second, '/state').knownHostsFile, '<private file with tunnels[1].server.host_key>');
  });

  test('`options: -p` is refused naming tunnels[N].server.port', () => {
    let caught: unknown;
    try {
      yamlTunnels(`tunnels:\n  - name: a\n    server: { host: h, options: -p 2222 }\n    forwards: [{ local: 5000, to: "db:5432" }]\n`);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ConfigError);
    assert.deepEqual(caught.problems.map(formatProblem), [
      'tunnels.yaml:3:33 tunnels[0] (a).server.options="-p 2222": option -p is not allowed: set the port with tunnels[0].server.port instead',
    ]);
  });
});

describe('the environment and the command line keep their own words', () => {
  test('SSH_* variables for a tunnel from the environment', () => {
    assert.equal(hint(envSpec(), 'connection_refused'), 'check that sshd runs on bastion port 22 (SSH_REMOTE_HOST, SSH_REMOTE_PORT)');
    assert.equal(hint(envSpec(), 'local_port_in_use'), 'another process already listens on that port: stop it or choose another SSH_TUNNEL_PORT');
    assert.match(hint(envSpec(), 'host_key_unknown'), /, or set SSH_HOST_KEY$/);
  });

  test('the destination and the flags for an ssh-style command line', () => {
    assert.equal(hint(commandLineSpec(), 'connection_refused'), 'check that sshd runs on bastion port 22 (the destination, -p)');
    assert.match(hint(commandLineSpec(), 'permission_denied'), /check -l \(me\) and -i;/);
    assert.doesNotMatch(hint(commandLineSpec(), 'host_key_unknown'), /SSH_HOST_KEY/, 'no host-key setting on a command line');
  });
});
