/** The process's log: lines to stderr, as the AUTOTUNNEL_LOG_* settings say. */
import type { Settings } from '../config/settings.js';
import { createLogger, type Logger } from '../observe/logger.js';

export function stderrLogger(settings: Settings): Logger {
  return createLogger({ format: settings.logFormat, level: settings.logLevel, write: (l) => process.stderr.write(l) });
}
