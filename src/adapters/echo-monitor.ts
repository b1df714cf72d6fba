/**
 * autossh's -M monitor: a message sent into the tunnel must come back. In echo mode a remote
 * echo service returns it; in loop mode it travels out through a -L forward and back through
 * a -R forward to a listener of ours. Either way it proves the whole path carries data, which a
 * keepalive alone does not (a wedged forward can still answer keepalives).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { settleOnce } from './tcp-probe.js';

export interface EchoMonitor {
  check(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Sends to 127.0.0.1:port and expects the same bytes back on the same connection. */
export function echoModeMonitor(port: number, message: string): EchoMonitor {
  return {
    check: (timeoutMs) =>
      new Promise<boolean>((resolve) => {
        const text = `${randomBytes(6).toString('hex')} ${message}\n`;
        const socket = connect({ host: '127.0.0.1', port });
        let got = '';
        const done = settleOnce(socket, resolve, timeoutMs);
        socket.on('connect', () => socket.write(text));
        socket.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= text.length) done(got.startsWith(text));
        });
      }),
    close: async () => {},
  };
}

/** Sends to 127.0.0.1:port; the -R forward must deliver it to our listener on 127.0.0.1:port+1. */
export async function loopModeMonitor(port: number, message: string): Promise<EchoMonitor> {
  const waiting = new Map<string, () => void>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      const line = got.split('\n')[0]!;
      if (got.includes('\n')) {
        waiting.get(line)?.();
        s.destroy();
      }
    });
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port + 1, '127.0.0.1', resolve));
  return {
    check: (timeoutMs) =>
      new Promise<boolean>((resolve) => {
        const line = `${randomBytes(6).toString('hex')} ${message}`;
        const socket = connect({ host: '127.0.0.1', port });
        const done = settleOnce(socket, (ok) => {
          waiting.delete(line);
          resolve(ok);
        }, timeoutMs);
        waiting.set(line, () => done(true));
        socket.on('connect', () => socket.write(`${line}\n`));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
