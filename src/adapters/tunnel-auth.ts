/**
 * What a tunnel's key passphrase or password needs around ssh: autotunnel's own agent holding
 * the key, the askpass helper's secret file, ssh's environment (never with a secret in it) and
 * the step run before every ssh start that refreshes both from their sources.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TunnelSpec } from '../config/spec.js';
import { readSecret, withoutSecrets } from '../config/secrets.js';
import type { SshFiles } from '../ssh/argv.js';
import type { SpawnSsh } from '../supervisor/world.js';
import { askpassEnv, writeSecretFile } from './askpass.js';
import { KeyAgent, type EnsureResult } from './ssh-agent.js';
import { makeRuntimeDir, removeRuntimeDir } from './ssh-files.js';
import { spawnAfter, type Preparation } from './prepared-spawn.js';
import { findExecutable } from './ssh-process.js';

export interface TunnelAuth {
  /** The files ssh is given: with an agent, the key's public half and the agent's socket. */
  files: SshFiles;
  /** ssh's environment: the caller's without secret variables, plus the askpass settings. */
  env: NodeJS.ProcessEnv;
  /** Wraps the ssh spawner so the secrets are in place before each start. */
  wrap(spawnSsh: SpawnSsh): SpawnSsh;
  /**
   * On reload: puts a key changed in place into the agent now rather than at the next
   * connection, so a mistake shows at once. Resolves to what to log, if anything.
   */
  refresh(): Promise<{ level: 'info' | 'warn'; message: string } | undefined>;
  cleanup(): void;
}

/** Thrown when ssh-agent, ssh-add or ssh-keygen is missing (exit 69, as for ssh). */
export class MissingAgentToolError extends Error {}

/**
 * The spec whose files are prepared as for any tunnel: without the identity when autotunnel's
 * agent holds the key (the agent reads the key file itself; no private copy of it is needed).
 */
export function specForFiles(spec: TunnelSpec): TunnelSpec {
  if (!spec.server.auth?.keyPassphrase || !spec.server.identity) return spec;
  const { identity: _inAgent, ...server } = spec.server;
  return { ...spec, server };
}

/** The files ssh will be given, without starting anything (for `autotunnel check`). */
export function planTunnelAuthFiles(spec: TunnelSpec, files: SshFiles): SshFiles {
  const auth = spec.server.auth;
  const identity = spec.server.identity;
  return {
    ...files,
    ...(auth?.keyPassphrase && identity ? { identityFile: `<private dir>/${spec.name}.pub`, identityAgent: '<private dir>/agent.sock' } : {}),
    ...(auth?.password ? { password: true } : {}),
  };
}

export function prepareTunnelAuth(spec: TunnelSpec, files: SshFiles, setpriv: string | undefined, env: NodeJS.ProcessEnv): TunnelAuth {
  const auth = spec.server.auth;
  const childEnv = withoutSecrets(env);
  if (!auth) return { files, env: childEnv, wrap: (s) => s, refresh: async () => undefined, cleanup: () => {} };
  const names = spec.settingNames;

  const dir = makeRuntimeDir();
  const steps: Preparation[] = [];
  const out: SshFiles = { ...files };
  let sshEnv = childEnv;
  let agent: KeyAgent | undefined;
  let addKey: (() => Promise<EnsureResult>) | undefined;
  const read = (p: string) => readFileSync(p, 'utf8');

  const passphrase = auth.keyPassphrase;
  const identity = spec.server.identity;
  if (passphrase && identity) {
    const tool = (name: string) => {
      const found = findExecutable(name, env.PATH ?? '');
      if (!found) throw new MissingAgentToolError(`${name} is not installed or not on PATH, and ${names.keyPassphrase ?? 'a key passphrase'} needs it (autotunnel keeps a key with a passphrase in its own ssh-agent); install openssh-client`);
      return found;
    };
    agent = new KeyAgent({ sshAgent: tool('ssh-agent'), sshAdd: tool('ssh-add'), sshKeygen: tool('ssh-keygen'), ...(setpriv ? { setpriv } : {}) }, dir, childEnv);
    out.identityFile = agent.publicKeyPath(spec.name);
    out.identityAgent = agent.socket;
    const keyAgent = agent;
    addKey = async () => {
      const secret = readSecret(passphrase, names.keyPassphrase ?? 'the key passphrase', read, env);
      if ('problem' in secret) return { ok: false, line: `autotunnel: cannot read the key passphrase: ${secret.problem}` };
      return keyAgent.ensureKey(spec.name, identity.file, secret.value);
    };
    const add = addKey;
    steps.push(async () => {
      const r = await add();
      return r.ok ? undefined : r.line;
    });
  }

  const password = auth.password;
  const passwordFile = join(dir, `${spec.name}.password`);
  if (password) {
    const file = passwordFile;
    sshEnv = { ...childEnv, ...askpassEnv('password', file) };
    out.password = true;
    // Written before every start: a changed password file is used from the next attempt on.
    steps.push(async () => {
      const secret = readSecret(password, names.password ?? 'the password', read, env);
      if ('problem' in secret) return `autotunnel: cannot read the password: ${secret.problem}`;
      writeSecretFile(file, secret.value);
      return undefined;
    });
  }

  const prepare: Preparation = async () => {
    for (const step of steps) {
      const failure = await step();
      if (failure !== undefined) return failure;
    }
    return undefined;
  };
  return {
    files: out,
    env: sshEnv,
    wrap: (spawnSsh) => {
      const prepared = spawnAfter(prepare, spawnSsh);
      if (!password) return prepared;
      // The password file lives only while ssh authenticates: gone once ssh is in, or gone.
      const forget = () => rmSync(passwordFile, { force: true });
      return (args) => {
        const p = prepared(args);
        p.onLine((line) => /^(?:debug1: )?Authenticated to /.test(line) && forget());
        p.onExit(forget);
        return p;
      };
    },
    refresh: async () => {
      if (!addKey) return undefined;
      const r = await addKey();
      if (!r.ok) return { level: 'warn', message: `after the reload the key could not be put in the agent (the running ssh is not affected; the next connection will try again): ${r.line.replace(/^autotunnel: /, '')}` };
      return r.added ? { level: 'info', message: `the key ${identity!.file} or its passphrase changed: added again to autotunnel's agent` } : undefined;
    },
    cleanup: () => {
      agent?.stop();
      removeRuntimeDir(dir);
    },
  };
}
