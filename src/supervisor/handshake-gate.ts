/**
 * Limits concurrent ssh handshakes per server. sshd drops new unauthenticated connections at
 * random once more than MaxStartups (default 10) are in flight, so 500 tunnels to one server
 * must queue rather than all connect at once.
 */

export type Release = () => void;

export class HandshakeGate {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<(release: Release) => void>>();

  constructor(readonly limit: number) {}

  /**
   * Calls `granted` with a release function once a slot for `key` is free — at once (synchronously)
   * when one is. Returns a function that cancels the wait (and does nothing once granted).
   */
  acquire(key: string, granted: (release: Release) => void): () => void {
    if ((this.active.get(key) ?? 0) < this.limit) {
      granted(this.take(key));
      return () => {};
    }
    const queue = this.waiting.get(key) ?? [];
    this.waiting.set(key, queue);
    queue.push(granted);
    return () => {
      const i = queue.indexOf(granted);
      if (i >= 0) queue.splice(i, 1);
    };
  }

  inFlight(key: string): number {
    return this.active.get(key) ?? 0;
  }

  queued(key: string): number {
    return this.waiting.get(key)?.length ?? 0;
  }

  private take(key: string): Release {
    this.active.set(key, (this.active.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active.set(key, (this.active.get(key) ?? 1) - 1);
      const next = this.waiting.get(key)?.shift();
      if (next) next(this.take(key));
    };
  }
}
