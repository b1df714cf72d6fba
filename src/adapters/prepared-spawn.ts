/**
 * An ssh spawn with an asynchronous step before it (putting a key in the agent, writing a
 * password for the askpass helper). To the tunnel it is one process: a failed step is reported
 * as lines and an exit, so its cause is classified and backed off like any other, and a stop
 * during the step ends it at once.
 */
import type { SpawnSsh, SshExit, SshProcess } from '../supervisor/world.js';

/** Resolves to undefined when ssh may start, or to the line that says why it may not. */
export type Preparation = () => Promise<string | undefined>;

export function spawnAfter(prepare: Preparation, spawnSsh: SpawnSsh): SpawnSsh {
  return (args: string[]): SshProcess => {
    const lineListeners: Array<(line: string) => void> = [];
    const exitListeners: Array<(exit: SshExit) => void> = [];
    let inner: SshProcess | undefined;
    let finished = false;
    const finish = (exit: SshExit) => {
      if (finished) return;
      finished = true;
      for (const l of exitListeners) l(exit);
    };
    void prepare()
      .catch((e: unknown) => `autotunnel: ssh-agent failed: ${e instanceof Error ? e.message : String(e)}`)
      .then((failure) => {
        if (finished) return;
        if (failure !== undefined) {
          for (const l of lineListeners) l(failure);
          finish({ code: 1, signal: null });
          return;
        }
        inner = spawnSsh(args);
        inner.onLine((line) => lineListeners.forEach((l) => l(line)));
        inner.onExit(finish);
      });
    return {
      get pid() {
        return inner?.pid;
      },
      onLine: (l) => lineListeners.push(l),
      onExit: (l) => exitListeners.push(l),
      kill: (signal) => {
        if (inner) inner.kill(signal);
        // Not started yet: nothing to signal; the attempt ends here.
        else finish({ code: null, signal });
      },
    };
  };
}
