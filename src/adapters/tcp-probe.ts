/** A plain TCP connect, closed at once: "does anything answer on host:port?" */
import { connect } from 'node:net';
import type { ProbeTcp } from '../supervisor/ports.js';

export const probeTcp: ProbeTcp = (host, port, timeoutMs) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
