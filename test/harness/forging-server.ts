/**
 * A hostile "server" for tests: it answers like sshd (its version line), then, before any key
 * exchange, sends one SSH_MSG_DEBUG whose text holds newlines followed by lines that look like
 * ssh's own progress. ssh prints a peer's debug message with the newlines kept (log.c's VIS_SAFE
 * leaves them), so whoever answers can put any line on ssh's stderr before the host key is
 * verified. It never does key exchange, and closes each connection after `holdMs`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

const SSH_MSG_DEBUG = 4;
const BLOCK = 8;

function sshString(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** One unencrypted binary packet (RFC 4253 §6): length, padding length, payload, padding. */
export function plainPacket(payload: Buffer): Buffer {
  let padding = BLOCK - ((5 + payload.length) % BLOCK);
  if (padding < 4) padding += BLOCK;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + padding);
  head.writeUInt8(padding, 4);
  return Buffer.concat([head, payload, randomBytes(padding)]);
}

/** SSH_MSG_DEBUG, always_display set, with `message` (RFC 4253 §11.3). */
export function debugPacket(message: string): Buffer {
  return plainPacket(Buffer.concat([Buffer.from([SSH_MSG_DEBUG, 1]), sshString(message), sshString('')]));
}

export interface ForgingServer {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export function startForgingServer(forgedLines: string[], holdMs = 3_000): Promise<ForgingServer> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
    socket.write(debugPacket(['hello', ...forgedLines].join('\n')));
    setTimeout(() => socket.destroy(), holdMs).unref();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        connections: () => count,
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
      });
    });
  });
}
