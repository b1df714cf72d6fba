/** Removing a Unix socket file only when it is ours and dead — against real sockets in a temp dir. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleSocket } from '../../src/adapters/stale-socket.js';

const dir = () => mkdtempSync(join(tmpdir(), 'autotunnel-stale-'));
const listen = (path: string) => new Promise<Server>((resolve) => { const s = createServer(); s.listen(path, () => resolve(s)); });

/** A socket file nothing listens on any more, as ssh leaves it (closed without unlinking). */
async function deadSocket(path: string): Promise<void> {
  const s = await listen(path);
  // Node unlinks on close(); a process that dies does not: take the file back after closing.
  renameSync(path, `${path}.keep`);
  await new Promise((r) => s.close(r));
  renameSync(`${path}.keep`, path);
}

describe('removeStaleSocket', () => {
  it('nothing there: nothing to do', async () => {
    assert.equal(await removeStaleSocket(join(dir(), 'none.sock')), 'absent');
  });

  it('a dead socket file of ours is removed', async () => {
    const path = join(dir(), 'dead.sock');
    await deadSocket(path);
    assert.equal(existsSync(path), true);
    assert.equal(await removeStaleSocket(path), 'removed');
    assert.equal(existsSync(path), false);
  });

  it('a live socket is left alone', async () => {
    const path = join(dir(), 'live.sock');
    const s = await listen(path);
    try {
      assert.equal(await removeStaleSocket(path), 'in-use');
      assert.equal(existsSync(path), true);
    } finally {
      s.close();
    }
  });

  it('a regular file, or a dead socket of another user, is left alone', async () => {
    const file = join(dir(), 'plain');
    writeFileSync(file, 'x');
    assert.equal(await removeStaleSocket(file), 'not-a-socket');
    const path = join(dir(), 'theirs.sock');
    await deadSocket(path);
    assert.equal(await removeStaleSocket(path, (process.getuid?.() ?? 0) + 1), 'not-ours');
    assert.equal(existsSync(path), true);
  });
});
