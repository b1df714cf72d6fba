/** Every tunnel of one autotunnel process, and the merged stream of their events. */
import { isDeepStrictEqual } from 'node:util';
import type { TunnelSpec } from '../config/spec.js';
import { Emitter, type TunnelEvent } from './events.js';
import { realClock, type Clock } from './world.js';
import type { Tunnel } from './tunnel.js';

/** A tunnel and what must be undone once it is gone (its private key copy, say). */
export interface Supervised {
  tunnel: Tunnel;
  cleanup: () => void;
}

export interface ReconcileResult {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  /** Tunnels that could not be built (a full /dev/shm, say); a changed one keeps its previous version running. */
  failed: Array<{ name: string; error: unknown; kept: boolean }>;
}

export class Supervisor {
  readonly events = new Emitter<TunnelEvent>();
  private readonly tunnels = new Map<string, Supervised & { unsubscribe: () => void }>();
  private started = false;

  constructor(private readonly clock: Pick<Clock, 'now'> = realClock) {}

  add(tunnel: Tunnel, cleanup: () => void = () => {}): void {
    if (this.tunnels.has(tunnel.name)) throw new Error(`a tunnel named "${tunnel.name}" already exists`);
    const unsubscribe = tunnel.events.on((e) => this.events.emit(e));
    this.tunnels.set(tunnel.name, { tunnel, cleanup, unsubscribe });
    if (this.started) tunnel.start();
  }

  /** Stops a tunnel, removes it and cleans up after it (`replaced`: by its changed version). */
  async remove(name: string, replaced = false): Promise<void> {
    const entry = this.tunnels.get(name);
    if (!entry) return;
    this.tunnels.delete(name);
    await entry.tunnel.stop();
    entry.unsubscribe();
    entry.cleanup();
    this.events.emit({ type: 'removed', tunnel: name, at: this.clock.now(), ...(replaced ? { replaced } : {}) });
  }

  /**
   * Makes the running set match `specs`: a tunnel whose spec is unchanged is not touched (its
   * ssh and the connections through it live on), removed ones stop, new and changed ones start.
   * New versions are built before any old one stops: one that cannot be built (no space for its
   * key copy, say) leaves its old version running and is reported in `failed`; the rest of the
   * reconcile applies all the same.
   */
  async reconcile(specs: TunnelSpec[], build: (spec: TunnelSpec) => Supervised): Promise<ReconcileResult> {
    const result: ReconcileResult = { added: [], removed: [], changed: [], unchanged: [], failed: [] };
    const wanted = new Map(specs.map((s) => [s.name, s]));
    result.removed = [...this.tunnels.keys()].filter((name) => !wanted.has(name));
    const built = new Map<string, Supervised>();
    for (const spec of specs) {
      const existing = this.tunnels.get(spec.name);
      if (existing && sameTunnel(existing.tunnel.spec, spec)) {
        result.unchanged.push(spec.name);
        continue;
      }
      try {
        built.set(spec.name, build(spec));
      } catch (error) {
        result.failed.push({ name: spec.name, error, kept: existing !== undefined });
        continue;
      }
      (existing ? result.changed : result.added).push(spec.name);
    }
    // Removed and changed ones stop together: each may take up to a second if its ssh ignores SIGTERM.
    await Promise.all([...result.removed.map((name) => this.remove(name)), ...result.changed.map((name) => this.remove(name, true))]);
    for (const spec of specs) {
      const next = built.get(spec.name);
      if (next) this.add(next.tunnel, next.cleanup);
    }
    return result;
  }

  /**
   * Puts a fresh tunnel in the place of one of the same name (to start a stopped or disabled
   * one again): the old one is stopped and cleaned up, and observers see one tunnel throughout.
   */
  async replace(built: Supervised, opts: { evenIfDisabled?: boolean } = {}): Promise<void> {
    const name = built.tunnel.name;
    const old = this.tunnels.get(name);
    // Swapped at once, so a reload running meanwhile never finds the name missing (and adds a second ssh).
    const unsubscribe = built.tunnel.events.on((e) => this.events.emit(e));
    this.tunnels.set(name, { ...built, unsubscribe });
    if (old) {
      await old.tunnel.stop();
      old.unsubscribe();
      old.cleanup();
    }
    // Started once the old ssh is gone (its ports are free); a reload may have replaced it meanwhile.
    if (this.started && this.tunnels.get(name)?.tunnel === built.tunnel) built.tunnel.start(opts);
  }

  startAll(): void {
    this.started = true;
    for (const { tunnel } of this.tunnels.values()) tunnel.start();
  }

  get(name: string): Tunnel | undefined {
    return this.tunnels.get(name)?.tunnel;
  }

  list(): Tunnel[] {
    return [...this.tunnels.values()].map((t) => t.tunnel);
  }

  retryAll(reason: string): void {
    for (const t of this.list()) t.retryNow(reason);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list().map((t) => t.stop()));
    for (const entry of this.tunnels.values()) entry.cleanup();
  }
}

/**
 * Whether a reloaded spec asks for the same tunnel. How its settings are named is left out: a
 * tunnel that only moved within the file (tunnels[2] → tunnels[3]) keeps running.
 */
function sameTunnel(a: TunnelSpec, b: TunnelSpec): boolean {
  return isDeepStrictEqual({ ...a, settingNames: undefined }, { ...b, settingNames: undefined });
}
