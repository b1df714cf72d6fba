/**
 * Key passphrases and passwords: where they come from (SSH_KEY_PASSPHRASE_FILE,
 * SSH_PASSWORD_FILE, their YAML twins, and the plain variables for parity with other images) and
 * what makes a secret file usable. Pure: reading is injected. A secret's value never appears in
 * a message, only the setting that names it.
 */
import type { SecretSource, ServerAuth, SettingNames } from './spec.js';

/** The settings a tunnel's secrets came from, as the user wrote them. */
export type SecretSettingNames = Pick<SettingNames, 'keyPassphrase' | 'password'>;

export interface SecretSettings {
  auth?: ServerAuth;
  names: SecretSettingNames;
}

/** Variables whose values are secrets: read by autotunnel, never handed to a child process. */
export const SECRET_ENV_VARS = ['SSH_KEY_PASSPHRASE', 'SSH_PASSWORD'] as const;

const ENV_LEAKS =
  'environment variables leak more easily than files (docker inspect, /proc/PID/environ, crash reports, child processes)';

/** The secret in a file's text: one line, one trailing newline allowed. A string explains why not. */
export function secretFromText(text: string): { value: string } | { problem: string } {
  const value = text.replace(/\r?\n$/, '');
  if (value === '') return { problem: 'the file is empty; expected the secret alone on one line' };
  const lines = value.split(/\r?\n|\r/).length;
  if (lines > 1) return { problem: `the file has ${lines} lines; expected the secret alone on one line (one trailing newline is fine)` };
  return { value };
}

/** Why a secret file cannot be used, or undefined when it can. */
export function secretFileProblem(path: string, read: (path: string) => string): string | undefined {
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? 'no file there; mount the secret at that path (e.g. a Docker secret at /run/secrets/NAME)'
      : `cannot read it (${code ?? String(e)}); make it readable by this user (a Docker or Kubernetes secret is)`;
  }
  const s = secretFromText(text);
  return 'problem' in s ? s.problem : undefined;
}

/** Reads a secret from its source now (files are re-read at every use, so a rotated secret is picked up). */
export function readSecret(source: SecretSource, setting: string, read: (path: string) => string, env: Record<string, string | undefined>): { value: string } | { problem: string } {
  if (source.file !== undefined) {
    const problem = secretFileProblem(source.file, read);
    if (problem) return { problem: `${setting}=${JSON.stringify(source.file)}: ${problem}` };
    return secretFromText(read(source.file));
  }
  const value = source.env === undefined ? undefined : env[source.env];
  if (!value) return { problem: `${setting} is no longer set` };
  return { value: value.replace(/\r?\n$/, '') };
}

type Bad = (where: string, value: string | undefined, expected: string) => void;

/**
 * SSH_KEY_PASSPHRASE(_FILE) and SSH_PASSWORD(_FILE). `hasKey`: whether a key file will be used
 * (a passphrase without a key is a mistake worth stopping for).
 */
export function envServerAuth(
  env: Record<string, string | undefined>,
  read: (path: string) => string,
  hasKey: boolean,
  bad: Bad,
  warnings: string[],
  keySetting = 'SSH_KEY_FILE to the encrypted private key (or mount it at /id_rsa)',
): SecretSettings {
  const auth: ServerAuth = {};
  const names: SecretSettingNames = {};
  const pick = (fileVar: string, valueVar: string, what: string): { source: SecretSource; setting: string } | undefined => {
    const file = env[fileVar]?.trim() || undefined;
    const inline = env[valueVar] ? env[valueVar] : undefined;
    if (file !== undefined && inline !== undefined) {
      bad(valueVar, undefined, `give either ${valueVar} or ${fileVar}, not both`);
      return undefined;
    }
    if (inline !== undefined) {
      warnings.push(`${valueVar} holds the ${what} in an environment variable: ${ENV_LEAKS}; prefer ${fileVar} with a Docker or Kubernetes secret`);
      return { source: { env: valueVar }, setting: valueVar };
    }
    if (file === undefined) return undefined;
    const problem = secretFileProblem(file, read);
    if (problem) {
      bad(fileVar, file, problem);
      return undefined;
    }
    return { source: { file }, setting: fileVar };
  };
  const keyPassphrase = pick('SSH_KEY_PASSPHRASE_FILE', 'SSH_KEY_PASSPHRASE', 'key passphrase');
  if (keyPassphrase) {
    if (hasKey) {
      auth.keyPassphrase = keyPassphrase.source;
      names.keyPassphrase = keyPassphrase.setting;
    } else bad(keyPassphrase.setting, undefined, `a key passphrase needs a key: set ${keySetting}`);
  }
  const password = pick('SSH_PASSWORD_FILE', 'SSH_PASSWORD', 'password');
  if (password) {
    auth.password = password.source;
    names.password = password.setting;
  }
  return auth.keyPassphrase || auth.password ? { auth, names } : { names };
}

/** server.key_passphrase_file and server.password_file of a tunnels file (paths already resolved). */
export function fileServerAuth(
  fields: { keyPassphraseFile?: { value: string; fail: (why: string) => void; setting: string }; passwordFile?: { value: string; fail: (why: string) => void; setting: string } },
  read: (path: string) => string,
  keySetting: string | undefined,
): SecretSettings {
  const auth: ServerAuth = {};
  const names: SecretSettingNames = {};
  const one = (f: typeof fields.passwordFile): SecretSource | undefined => {
    if (!f) return undefined;
    const problem = secretFileProblem(f.value, read);
    if (problem) {
      f.fail(problem);
      return undefined;
    }
    return { file: f.value };
  };
  const keyPassphrase = one(fields.keyPassphraseFile);
  if (keyPassphrase) {
    if (keySetting !== undefined) {
      auth.keyPassphrase = keyPassphrase;
      names.keyPassphrase = fields.keyPassphraseFile!.setting;
    } else fields.keyPassphraseFile!.fail('a key passphrase needs a key: set server.key_file to the encrypted private key');
  }
  const password = one(fields.passwordFile);
  if (password) {
    auth.password = password;
    names.password = fields.passwordFile!.setting;
  }
  return auth.keyPassphrase || auth.password ? { auth, names } : { names };
}

/** A copy of an environment without the secret variables, for every child process. */
export function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of SECRET_ENV_VARS) delete out[name];
  return out;
}
