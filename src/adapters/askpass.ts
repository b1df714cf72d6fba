/**
 * autotunnel's SSH_ASKPASS helper and what it needs. ssh (or ssh-add) runs the helper with the
 * prompt as its only argument; the helper answers from a 0600 file in our private runtime
 * directory whose path it gets from the environment — the secret itself is never in an argv or
 * in a child's environment. It is a Node program, not a shell script, and answers only the
 * prompts of src/ssh/prompts.ts.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { secretFromText } from '../config/secrets.js';
import { decidePrompt, refusalLine, type AskpassMode } from '../ssh/prompts.js';

/** The helper's executable (bin/autotunnel-askpass.js), the same from src/ and from dist/. */
export const ASKPASS_HELPER = fileURLToPath(new URL('../../bin/autotunnel-askpass.js', import.meta.url));

const FILE_VAR = 'AUTOTUNNEL_ASKPASS_FILE';
const MODE_VAR = 'AUTOTUNNEL_ASKPASS_FOR';

/** Environment entries that make ssh, ssh-add or ssh-keygen ask our helper, whatever the terminal. */
export function askpassEnv(mode: AskpassMode, secretFile: string): Record<string, string> {
  return { SSH_ASKPASS: ASKPASS_HELPER, SSH_ASKPASS_REQUIRE: 'force', [FILE_VAR]: secretFile, [MODE_VAR]: mode };
}

/** Writes the secret for the helper: mode 0600 from creation, in a 0700 directory. */
export function writeSecretFile(path: string, value: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, value + '\n', { mode: 0o600, flag: 'wx' });
}

export interface AskpassIo {
  env: Record<string, string | undefined>;
  readText(path: string): string;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The helper's whole job; returns its exit code (non-zero: ssh treats the prompt as unanswered). */
export function runAskpass(prompt: string, io: AskpassIo): number {
  const mode = io.env[MODE_VAR];
  const file = io.env[FILE_VAR];
  if ((mode !== 'passphrase' && mode !== 'password') || !file) {
    io.stderr('autotunnel-askpass: not started by autotunnel (no secret was given to it)\n');
    return 1;
  }
  const decision = decidePrompt(prompt, mode);
  if (!decision.answer) {
    io.stderr(refusalLine(prompt, decision.reason) + '\n');
    return 1;
  }
  let secret;
  try {
    secret = secretFromText(io.readText(file));
  } catch (e) {
    io.stderr(`autotunnel-askpass: cannot read the ${mode} (${(e as NodeJS.ErrnoException).code ?? String(e)})\n`);
    return 1;
  }
  if ('problem' in secret) {
    io.stderr(`autotunnel-askpass: the ${mode} file is unusable: ${secret.problem}\n`);
    return 1;
  }
  io.stdout(secret.value + '\n');
  return 0;
}

/** Entry point of bin/autotunnel-askpass.js. */
export function askpassMain(argv: string[]): void {
  process.exitCode = runAskpass(argv[0] ?? '', {
    env: process.env,
    readText: (p) => readFileSync(p, 'utf8'),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
}
