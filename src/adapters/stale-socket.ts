/**
 * A Unix-socket local forward leaves its socket file behind when ssh exits, and the next ssh
 * cannot bind there ("Could not request local forwarding"), forever. ssh's own cure,
 * StreamLocalBindUnlink=yes, unlinks whatever is at the path, which would also steal the socket
 * of another process that lives there. Here a socket file is removed only when it is ours (our
 * uid) and nothing accepts a connection on it: a dead socket refuses at once (ECONNREFUSED).
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { socketAnswers } from './tcp-probe.js';

export type SocketPathState = 'absent' | 'removed' | 'in-use' | 'not-a-socket' | 'not-ours';

/** Bound on the liveness check; a socket that neither accepts nor refuses is treated as alive. */
const CONNECT_TIMEOUT_MS = 500;

export async function removeStaleSocket(path: string, myUid = process.getuid?.()): Promise<SocketPathState> {
  let uid: number;
  try {
    const st = lstatSync(path);
    if (!st.isSocket()) return 'not-a-socket';
    uid = st.uid;
  } catch {
    return 'absent';
  }
  if (myUid !== undefined && uid !== myUid) return 'not-ours';
  const answer = await socketAnswers(path, CONNECT_TIMEOUT_MS);
  if (answer === 'absent') return 'absent';
  if (answer !== 'refused') return 'in-use';
  try {
    unlinkSync(path);
    return 'removed';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'in-use';
  }
}
