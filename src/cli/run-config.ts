/**
 * `autotunnel run -c FILE`: every tunnel of a YAML file, one ssh each, reloaded on SIGHUP and
 * when the file changes. An invalid new file is refused and the running tunnels keep running.
 */
import { createHash } from 'node:crypto';
import { MAX_CONFIG_BYTES, UnreadableFileError, readBoundedText, readSecretFile } from '../adapters/bounded-read.js';
import { parseConfigFile, type FileConfig } from '../config/file.js';
import { ConfigError, formatProblem } from '../config/errors.js';
import { parseSettings } from '../config/settings.js';
import { defaultStateDir } from '../adapters/ssh-files.js';
import { watchFile } from '../adapters/file-watch.js';
import { readCureFacts, staleListenerCure } from '../adapters/orphan-connections.js';
import { HandshakeGate } from '../supervisor/handshake-gate.js';
import { ServerWatches } from '../supervisor/reachability.js';
import { realClock } from '../supervisor/world.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { buildTunnel, reportStaleListenerCure } from './wiring.js';
import { preflight } from './preflight.js';
import { supervise } from './supervise.js';
import { logReconcileFailures, startTunnels } from './reconcile-report.js';
import { withKeyDigest } from '../adapters/key-digest.js';
import { KeyFileWatches } from './key-watch.js';
import { fileInfo } from '../adapters/files.js';
import { stderrLogger } from '../adapters/stderr-logger.js';
import { readOperateSettings } from './operate.js';

export function readConfigFile(file: string, env: NodeJS.ProcessEnv): { config: FileConfig; digest: string } {
  let text: string;
  try {
    text = readBoundedText(file, MAX_CONFIG_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([{
      where: file,
      expected: code === 'ENOENT' ? 'no such file; check the path given with -c or AUTOTUNNEL_CONFIG'
        : e instanceof UnreadableFileError ? `cannot be used as a tunnels file: ${e.message}; point -c or AUTOTUNNEL_CONFIG at the YAML file`
        : `cannot be read (${code ?? String(e)})`,
    }]);
  }
  const config = parseConfigFile(file, text, { fileInfo, readText: readSecretFile, env, ...(process.getuid ? { uid: process.getuid() } : {}) });
  return { config, digest: createHash('sha256').update(text).digest('hex') };
}

export async function runFromFile(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const settings = parseSettings(env);
  const logger = stderrLogger(settings);
  let { config, digest } = readConfigFile(file, env);
  const { http, tools } = await preflight(settings, env, config.tunnels, { sweep: true });
  // notify: and control: are read once, at start (a reload changes tunnels only).
  const operate = readOperateSettings(env, config);
  config.warnings.forEach((w) => logger.log('warn', w));
  // One gate for the process: the limit is per server, keyed by host:port inside.
  const gate = new HandshakeGate(config.maxHandshakes);
  // One scout per server for the process: while a server does not answer, one tunnel looks.
  const watches = new ServerWatches(realClock);
  const cure = staleListenerCure(readCureFacts(tools.ss));
  reportStaleListenerCure(config.tunnels, cure, logger);
  // Each built tunnel's key refresh, run for the tunnels a reload leaves untouched.
  const refreshers = new Map<string, () => Promise<void>>();
  const build = (spec: FileConfig['tunnels'][number]) => {
    const built = buildTunnel(spec, {
      tools,
      stateDir: settings.stateDir ?? defaultStateDir(env),
      stateDirExplicit: settings.stateDir !== undefined,
      logger,
      gate,
      cure,
      watch: watches.for(spec.server.host, spec.server.port),
    });
    refreshers.set(spec.name, built.refresh);
    return built;
  };

  const supervisor = new Supervisor();
  await startTunnels(supervisor, config.tunnels.map(withKeyDigest), build);
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
      // An unchanged file is reloaded on SIGHUP and when a key file changed (its content counts).
      if (next.digest === digest && why === 'file changed') return;
      digest = next.digest;
      config = next.config;
      config.warnings.forEach((w) => logger.log('warn', w));
      if (config.maxHandshakes !== gate.limit) logger.log('warn', `max_handshakes changes take effect at the next start (still ${gate.limit})`);
      // Key files are read again: a key rotated in place is a changed tunnel.
      const r = await supervisor.reconcile(config.tunnels.map(withKeyDigest), build);
      for (const name of r.removed) refreshers.delete(name);
      await Promise.all(r.unchanged.map((name) => refreshers.get(name)?.()));
      keyWatches.sync(config.tunnels);
      logReconcileFailures(logger, why, r);
      const nothing = !r.added.length && !r.removed.length && !r.changed.length && !r.failed.length;
      if (nothing && why.startsWith('key file')) return;
      const failed = r.failed.length ? `, ${r.failed.length} failed` : '';
      logger.log(r.failed.length ? 'warn' : 'info', `${why}: reloaded ${file}: ${r.added.length} added, ${r.removed.length} removed, ${r.changed.length} changed, ${r.unchanged.length} unchanged${failed}`, {
        added: r.added,
        removed: r.removed,
        changed: r.changed,
        ...(r.failed.length ? { failed: r.failed.map((f) => f.name) } : {}),
      });
    }).catch((e: unknown) => logger.log('error', `reload failed: ${e instanceof Error ? e.message : String(e)}`));
  };
  const stopWatchingFile = watchFile(file, () => reload('file changed'), (e) => logger.log('warn', `cannot watch ${file} for changes (${e.message}); reload with SIGHUP`));
  const keyWatches = new KeyFileWatches(
    (key) => reload(`key file ${key} changed`),
    (key, e) => logger.log('warn', `cannot watch the key file ${key} for changes (${e.message}); after rotating it, reload with SIGHUP`),
  );
  keyWatches.sync(config.tunnels);
  const stopWatching = () => {
    stopWatchingFile();
    keyWatches.close();
  };

  return supervise(supervisor, { http, logger, cleanup: stopWatching, hooks: { onHangup: () => reload('SIGHUP received') }, operate, rebuild: build });
}

