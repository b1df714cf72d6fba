/** `autotunnel` with no arguments: the jnovack/autossh drop-in, configured by SSH_* variables. */
import { statSync, accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { parseEnv, type EnvFacts, type FileInfo } from '../config/env.js';
import { parseSettings, type Settings } from '../config/settings.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { runSingle } from './run-single.js';

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

export const realFacts = (env: NodeJS.ProcessEnv): EnvFacts => ({
  fileInfo,
  inContainer: detectContainer(env),
  random: Math.random,
  readText: (path) => readFileSync(path, 'utf8'),
  ...(process.getuid ? { uid: process.getuid() } : {}),
});

/** Log lines to stderr, as the AUTOTUNNEL_LOG_* settings say. */
export function stderrLogger(settings: Settings): Logger {
  return createLogger({ format: settings.logFormat, level: settings.logLevel, write: (l) => process.stderr.write(l) });
}

export async function runFromEnv(env: NodeJS.ProcessEnv): Promise<number> {
  const settings = parseSettings(env);
  const logger = stderrLogger(settings);
  const { spec, warnings, notices } = parseEnv(env, realFacts(env));
  return runSingle({ spec, warnings, notices, settings, env, logger });
}
