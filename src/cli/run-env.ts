/** `autotunnel` with no arguments: the jnovack/autossh drop-in, configured by SSH_* variables. */
import { parseEnv } from '../config/env.js';
import { parseSettings } from '../config/settings.js';
import { realFacts } from '../adapters/files.js';
import { stderrLogger } from '../adapters/stderr-logger.js';
import { runSingle } from './run-single.js';

export async function runFromEnv(env: NodeJS.ProcessEnv): Promise<number> {
  const settings = parseSettings(env);
  const logger = stderrLogger(settings);
  const { spec, warnings, notices } = parseEnv(env, realFacts(env));
  return runSingle({ spec, warnings, notices, settings, env, logger });
}
