/**
 * Watches the key files of a tunnels file: a secret rotated in place (Kubernetes updates a
 * mounted Secret without any signal) reloads as SIGHUP would. One watch per key file in use.
 */
import type { TunnelSpec } from '../config/spec.js';
import { watchFile } from '../adapters/file-watch.js';

export class KeyFileWatches {
  private readonly watches = new Map<string, () => void>();

  constructor(
    private readonly onChange: (file: string) => void,
    private readonly onError: (file: string, e: Error) => void,
  ) {}

  /** Watches exactly the key files these specs use. */
  sync(specs: TunnelSpec[]): void {
    const wanted = new Set(specs.flatMap((s) => (s.server.identity ? [s.server.identity.file] : [])));
    for (const [file, stop] of this.watches) {
      if (!wanted.has(file)) {
        stop();
        this.watches.delete(file);
      }
    }
    for (const file of wanted) {
      if (!this.watches.has(file)) this.watches.set(file, watchFile(file, () => this.onChange(file), (e) => this.onError(file, e)));
    }
  }

  close(): void {
    for (const stop of this.watches.values()) stop();
    this.watches.clear();
  }
}
