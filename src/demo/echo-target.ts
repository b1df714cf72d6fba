/** The demo's tunnel target and the client that checks traffic really flows through the tunnel. */
import { connect, createServer, type Server, type Socket } from 'node:net';

export async function startEchoTarget(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('echo target has no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

/**
 * Sends `message` to host:port (through a SOCKS5 proxy there when `socksTarget` is given) and
 * resolves with what came back, or undefined after the timeout.
 */
export function echoRoundTrip(
  host: string,
  port: number,
  message: string,
  timeoutMs: number,
  socksTarget?: { host: string; port: number },
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    let phase: 'greeting' | 'connect' | 'echo' = socksTarget ? 'greeting' : 'echo';
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    socket.on('connect', () => {
      if (socksTarget) socket.write(Buffer.from([5, 1, 0])); // SOCKS5, one method: no authentication
      else socket.write(message);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (phase === 'greeting' && received.length >= 2) {
        if (received[0] !== 5 || received[1] !== 0) return done(undefined);
        received = received.subarray(2);
        phase = 'connect';
        const host = Buffer.from(socksTarget!.host);
        socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, host.length]), host, Buffer.from([socksTarget!.port >> 8, socksTarget!.port & 0xff])]));
      } else if (phase === 'connect' && received.length >= 10) {
        if (received[1] !== 0) return done(undefined);
        received = received.subarray(10); // IPv4 bound-address reply, as ssh sends
        phase = 'echo';
        socket.write(message);
      }
      if (phase === 'echo' && received.length >= Buffer.byteLength(message)) done(received.toString());
    });
  });
}
