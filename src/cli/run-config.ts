/**
 * `autotunnel run -c FILE`: every tunnel of a YAML file, one ssh each, reloaded on SIGHUP and
 * when the file changes. An invalid new file is refused and the running tunnels keep running.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseConfigFile, type FileConfig } from '../config/file.js';
import { ConfigError, formatProblem } from '../config/errors.js';
import { httpSettings, parseSettings } from '../config/settings.js';
import { defaultStateDir } from '../adapters/ssh-files.js';
import { watchFile } from '../adapters/file-watch.js';
import { sharedProbe } from '../adapters/shared-probe.js';
import { probeTcp } from '../adapters/tcp-probe.js';
import { HandshakeGate } from '../supervisor/handshake-gate.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { buildTunnel, findSshTools } from './wiring.js';
import { supervise } from './supervise.js';
import { fileInfo } from '../adapters/files.js';
import { stderrLogger } from '../adapters/stderr-logger.js';

export function readConfigFile(file: string, env: NodeJS.ProcessEnv): { config: FileConfig; digest: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([{ where: file, expected: code === 'ENOENT' ? 'no such file; check the path given with -c or AUTOTUNNEL_CONFIG' : `cannot be read (${code ?? String(e)})` }]);
  }
  const config = parseConfigFile(file, text, { fileInfo, readText: (p) => readFileSync(p, 'utf8'), env, ...(process.getuid ? { uid: process.getuid() } : {}) });
  return { config, digest: createHash('sha256').update(text).digest('hex') };
}

export async function runFromFile(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const settings = parseSettings(env);
  const http = httpSettings(settings);
  const logger = stderrLogger(settings);
  let { config, digest } = readConfigFile(file, env);
  config.warnings.forEach((w) => logger.log('warn', w));
  const tools = findSshTools(settings.ssh);
  // One gate for the process: the limit is per server, keyed by host:port inside.
  const gate = new HandshakeGate(config.maxHandshakes);
  const probe = sharedProbe(probeTcp);
  const build = (spec: FileConfig['tunnels'][number]) =>
    buildTunnel(spec, {
      tools,
      stateDir: settings.stateDir ?? defaultStateDir(env),
      stateDirExplicit: settings.stateDir !== undefined,
      logger,
      gate,
      probeTcp: probe,
    });

  const supervisor = new Supervisor();
  await supervisor.reconcile(config.tunnels, build);
  logger.log('info', `${config.tunnels.length} tunnel${config.tunnels.length === 1 ? '' : 's'} from ${file}`, { config: file });

  // Reloads run one at a time, in order.
  let reloading = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      let next: ReturnType<typeof readConfigFile>;
      try {
        next = readConfigFile(file, env);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        logger.log('error', `${why}: the new configuration is not valid, so the running tunnels stay as they are:\n${e.problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`, { config: file });
        return;
      }
      if (next.digest === digest && why !== 'SIGHUP received') return;
      digest = next.digest;
      config = next.config;
      config.warnings.forEach((w) => logger.log('warn', w));
      if (config.maxHandshakes !== gate.limit) logger.log('warn', `max_handshakes changes take effect at the next start (still ${gate.limit})`);
      const r = await supervisor.reconcile(config.tunnels, build);
      logger.log('info', `${why}: reloaded ${file}: ${r.added.length} added, ${r.removed.length} removed, ${r.changed.length} changed, ${r.unchanged.length} unchanged`, {
        added: r.added,
        removed: r.removed,
        changed: r.changed,
      });
    }).catch((e: unknown) => logger.log('error', `reload failed: ${e instanceof Error ? e.message : String(e)}`));
  };
  const stopWatching = watchFile(file, () => reload('file changed'), (e) => logger.log('warn', `cannot watch ${file} for changes (${e.message}); reload with SIGHUP`));

  return supervise(supervisor, { http, logger, cleanup: stopWatching, hooks: { onHangup: () => reload('SIGHUP received') } });
}

