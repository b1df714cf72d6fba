/**
 * The control token: with it, POST /api/tunnels/NAME/{start,stop,restart} are turned on. It is
 * only ever read from a file (AUTOTUNNEL_CONTROL_TOKEN_FILE, or `control: {token_file}` in a
 * tunnels file), so it never sits in an environment listing or a command line.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from './errors.js';
import { readSecret } from './notify-settings.js';

export const CONTROL_TOKEN_VARIABLE = 'AUTOTUNNEL_CONTROL_TOKEN_FILE';

export interface ControlSettings {
  token: string;
  /** Where it came from, as the user wrote it. */
  origin: string;
  file: string;
}

/** Reads the token file named by `file` (from `origin`); missing, unreadable or empty is a ConfigError. */
export function readControlToken(file: string, origin: string, readText: (path: string) => string): ControlSettings {
  const read = readSecret(file, readText);
  if (typeof read !== 'string') throw new ConfigError([{ where: origin, value: file, expected: `${read.problem}; it must hold the control token (e.g. made with: head -c 32 /dev/urandom | base64 > FILE)` }]);
  return { token: read, origin, file };
}

/** AUTOTUNNEL_CONTROL_TOKEN_FILE wins over a tunnels file's `control.token_file`; neither → control is off. */
export function parseControlSettings(env: Record<string, string | undefined>, fileSetting: { file: string; origin: string } | undefined, readText: (path: string) => string): ControlSettings | undefined {
  const fromEnv = env[CONTROL_TOKEN_VARIABLE]?.trim();
  if (fromEnv) return readControlToken(fromEnv, CONTROL_TOKEN_VARIABLE, readText);
  if (fileSetting) return readControlToken(fileSetting.file, fileSetting.origin, readText);
  return undefined;
}

/** Compares in constant time: digests of equal length, whatever the lengths of the inputs. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
