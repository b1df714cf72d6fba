/** What the config parsers may know of this machine, read from it: files, the container, who we are. */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import type { EnvFacts } from '../config/env.js';
import type { FileInfo } from '../config/files.js';

export function fileInfo(path: string): FileInfo | undefined {
  try {
    const st = statSync(path);
    let readable = true;
    try {
      accessSync(path, constants.R_OK);
    } catch {
      readable = false;
    }
    return { isFile: st.isFile(), readable };
  } catch (e) {
    // EACCES: a directory on the path is closed to us — not the same as "no such file".
    return (e as NodeJS.ErrnoException).code === 'EACCES' ? { isFile: false, readable: false, blocked: true } : undefined;
  }
}

/** Docker, podman and Kubernetes each leave a mark; any one is enough for a hint. */
export function detectContainer(env: NodeJS.ProcessEnv): boolean {
  if (existsSync('/.dockerenv') || existsSync('/run/.containerenv') || env.container || env.KUBERNETES_SERVICE_HOST) return true;
  try {
    return /docker|kubepods|containerd|libpod/.test(readFileSync('/proc/1/cgroup', 'utf8'));
  } catch {
    return false;
  }
}

/** The SSH_* parser's view of this machine. */
export const realFacts = (env: NodeJS.ProcessEnv): EnvFacts => ({
  fileInfo,
  inContainer: detectContainer(env),
  random: Math.random,
  readText: (path) => readFileSync(path, 'utf8'),
  ...(process.getuid ? { uid: process.getuid() } : {}),
});
