/** A plain connect, closed at once: "does anything answer on host:port?" */
import { connect, type Socket } from 'node:net';
import type { ProbeTcp } from '../supervisor/world.js';

export const probeTcp: ProbeTcp = (host, port, timeoutMs) => probe({ host, port }, timeoutMs);

/** The same for a Unix socket a local forward listens on. */
export const probeUnix = (path: string, timeoutMs: number): Promise<boolean> => probe({ path }, timeoutMs);

function probe(target: { host: string; port: number } | { path: string }, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(target);
    const done = settleOnce(socket, resolve, timeoutMs);
    socket.once('connect', () => done(true));
  });
}

/**
 * Whether anyone listens on a Unix socket: accepts, refused (the file is there and its listener
 * is gone: a dead socket refuses at once), absent, or unknown (neither within `timeoutMs`: a
 * listener too busy to accept, taken as alive).
 */
export function socketAnswers(path: string, timeoutMs: number): Promise<'accepts' | 'refused' | 'absent' | 'unknown'> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (r: 'accepts' | 'refused' | 'absent' | 'unknown') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    socket.once('connect', () => done('accepts'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ENOENT' ? 'absent' : 'unknown'));
  });
}

/**
 * Ends a short-lived client socket exactly once: with the value passed to the returned
 * function, with false on an error, or with false after `timeoutMs`; the socket is destroyed.
 */
export function settleOnce(socket: Socket, resolve: (ok: boolean) => void, timeoutMs: number): (ok: boolean) => void {
  let settled = false;
  const done = (ok: boolean) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.destroy();
    resolve(ok);
  };
  const timer = setTimeout(() => done(false), timeoutMs);
  socket.once('error', () => done(false));
  return done;
}
