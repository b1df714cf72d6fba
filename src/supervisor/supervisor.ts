/** Every tunnel of one autotunnel process, and the merged stream of their events. */
import { Emitter, type TunnelEvent } from './events.js';
import type { Tunnel, TunnelStatus } from './tunnel.js';

export class Supervisor {
  readonly events = new Emitter<TunnelEvent>();
  private readonly tunnels = new Map<string, { tunnel: Tunnel; unsubscribe: () => void }>();

  add(tunnel: Tunnel): void {
    if (this.tunnels.has(tunnel.name)) throw new Error(`a tunnel named "${tunnel.name}" already exists`);
    const unsubscribe = tunnel.events.on((e) => this.events.emit(e));
    this.tunnels.set(tunnel.name, { tunnel, unsubscribe });
  }

  startAll(): void {
    for (const { tunnel } of this.tunnels.values()) tunnel.start();
  }

  list(): Tunnel[] {
    return [...this.tunnels.values()].map((t) => t.tunnel);
  }

  statuses(): TunnelStatus[] {
    return this.list().map((t) => t.status());
  }

  retryAll(reason: string): void {
    for (const t of this.list()) t.retryNow(reason);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list().map((t) => t.stop()));
  }
}
