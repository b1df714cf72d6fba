/**
 * Keeps the HTTP listener answerable when clients hold connections without finishing a request
 * (slow or stuck clients trickling header bytes, idle keep-alives). Node's own maxConnections
 * refuses the NEWEST connection when full, so 64 slow clients lock out every probe until Node's
 * header timeout (checked only every 30 s by default) frees them. Here the OLDEST connection
 * that has no request being answered is closed instead: a new client always gets a slot, and a
 * probe, which sends its whole request at once, is answered within milliseconds, long before
 * enough newer connections arrive to evict it.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export function evictOldestWhenFull(server: Server, max: number): void {
  // Insertion order is age: the first entry is the oldest connection.
  const open = new Map<Socket, { busy: number }>();
  server.on('connection', (socket: Socket) => {
    open.set(socket, { busy: 0 });
    socket.once('close', () => open.delete(socket));
    if (open.size <= max) return;
    for (const [s, state] of open) {
      if (s !== socket && state.busy === 0) {
        s.destroy();
        return;
      }
    }
    socket.destroy();
  });
  server.on('request', (req, res) => {
    const state = open.get(req.socket);
    if (!state) return;
    state.busy++;
    res.once('close', () => state.busy--);
  });
}
