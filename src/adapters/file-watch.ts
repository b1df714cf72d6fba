/**
 * Calls back when a file's content may have changed. Watches the directory, not the file:
 * editors save by renaming a new file over the old one, and Kubernetes swaps a ConfigMap's
 * symlinked directory, both of which a watch on the file itself would miss.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Editors write in several steps; wait for quiet before reading. */
export const SETTLE_MS = 300;

export function watchFile(path: string, onChange: () => void, onError: (e: Error) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const name = basename(path);
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      // Kubernetes updates "..data"; a null name means "something changed here".
      if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, SETTLE_MS);
    });
    watcher.on('error', onError);
  } catch (e) {
    onError(e as Error);
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
