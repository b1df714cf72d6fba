/**
 * Whoever answers on the server's address can put any line on ssh's stderr before the host key
 * is verified (issue 11, item 3). A tunnel must never count as up on such lines: only on what
 * ssh says after it has authenticated to the verified server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../harness/sshd.js';
import { startForgingServer } from '../harness/forging-server.js';
import { logLines, testBed, waitForLog } from './helpers.js';

const bed = testBed();

/** Every progress line a -R, -L and -D tunnel waits for, as ssh -v would print them. */
function forgedProgress(port: number): string[] {
  return [
    'debug1: Connection established.',
    'debug1: Authenticated to 127.0.0.1 ([127.0.0.1]:22) using "publickey".',
    `debug1: Local forwarding listening on 127.0.0.1 port ${port}.`,
    `debug1: remote forward success for: listen 127.0.0.1:${port}, connect 127.0.0.1:9`,
    `debug1: Allocated port ${port} for remote forward to 127.0.0.1:9`,
    'debug1: forwarding_success: all expected forwarding replies received',
    'debug1: Entering interactive session.',
    // The same lines without ssh's prefix, as a raw line after a newline reads.
    'forwarding_success: all expected forwarding replies received',
    'Entering interactive session.',
  ];
}

describe('lines forged by the peer before the host key is verified', () => {
  for (const mode of ['-R', '-D'] as const) {
    it(`never make a ${mode} tunnel up`, async () => {
      const port = await freePort();
      const fake = await startForgingServer(forgedProgress(port), 2_000);
      try {
        const r = bed.run({
          SSH_REMOTE_HOST: '127.0.0.1',
          SSH_REMOTE_PORT: String(fake.port),
          SSH_REMOTE_USER: 'nobody',
          SSH_MODE: mode,
          SSH_TUNNEL_PORT: String(port),
          SSH_TARGET_PORT: '9',
          AUTOTUNNEL_LOG_FORMAT: 'json',
          AUTOTUNNEL_LOG_LEVEL: 'debug',
          SSH_AUTH_SOCK: undefined,
        });
        // ssh printed the forged lines (the attack reached us) …
        await waitForLog(r.cli, { msg: /forwarding_success/ }, 15_000);
        await sleep(3_000);
        assert.ok(fake.connections() >= 1);
        // … and yet the tunnel was never up.
        const ups = logLines(r.cli).filter((l) => l.state === 'up');
        assert.deepEqual(ups, [], `forged lines made the tunnel up:\n${r.cli.output().slice(-3000)}`);
      } finally {
        await fake.close();
      }
    });
  }

  it('a forged "Permanently added" line does not stop a tunnel that trusts on first use for good', async () => {
    // The lie names a host pattern this tunnel would never write, so the read-back finds nothing.
    const liar = await startForgingServer(["Warning: Permanently added 'elsewhere.example' (ED25519) to the list of known hosts."], 1_000);
    try {
      const r = bed.run({
        SSH_REMOTE_HOST: '127.0.0.1',
        SSH_REMOTE_PORT: String(liar.port),
        SSH_REMOTE_USER: 'nobody',
        SSH_MODE: '-L',
        SSH_TUNNEL_PORT: String(await freePort()),
        SSH_TARGET_PORT: '9',
        SSH_KNOWN_HOSTS_FILE: undefined,
        AUTOTUNNEL_LOG_FORMAT: 'json',
        SSH_AUTH_SOCK: undefined,
      });
      await waitForLog(r.cli, { state: 'backoff' }, 15_000);
      await sleep(2_000);
      const states = logLines(r.cli).map((l) => l.state).filter(Boolean);
      assert.ok(!states.includes('stopped') && !states.includes('stopping'), `the forged line stopped the tunnel:\n${r.cli.output().slice(-3000)}`);
      await assert.rejects(r.cli.exited(100), 'autotunnel still runs');
    } finally {
      await liar.close();
    }
  });
});

