/**
 * A throwaway system user with a random password, for password authentication against the real
 * sshd. Needs root (useradd, chpasswd); removed again by remove() and, as a last resort, when
 * the test process exits. The password goes to chpasswd on stdin, never in an argv.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface TestUser {
  name: string;
  password: string;
  remove(): void;
}

/** Why a throwaway user cannot be made here, or undefined when it can. */
export function testUserUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create a throwaway user with a password (useradd, chpasswd)';
  try {
    execFileSync('sh', ['-c', 'command -v useradd && command -v chpasswd && command -v userdel'], { stdio: 'ignore' });
  } catch {
    return 'useradd, chpasswd or userdel is missing (package passwd)';
  }
  return undefined;
}

export function createTestUser(): TestUser {
  const name = `attest${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  // No home: the tunnel runs no session; sshd only needs the passwd and shadow entries.
  execFileSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', name], { stdio: 'ignore' });
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off('exit', remove);
    try {
      // --force: a session sshd still runs for it must not keep the account.
      execFileSync('userdel', ['--force', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  process.on('exit', remove);
  try {
    execFileSync('chpasswd', [], { input: `${name}:${password}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  } catch (e) {
    remove();
    throw e;
  }
  return { name, password, remove };
}
