/**
 * Where a secret shows up in other processes: every /proc/PID/cmdline and /proc/PID/environ
 * this user may read. Tests use it to prove that a passphrase or password reaches no argv and
 * no child's environment.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface SecretSighting {
  pid: number;
  where: 'cmdline' | 'environ';
  argv: string;
}

export function processesHolding(secret: string, exceptPids: number[] = []): SecretSighting[] {
  const found: SecretSighting[] = [];
  const needle = Buffer.from(secret);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || exceptPids.includes(Number(name))) continue;
    for (const where of ['cmdline', 'environ'] as const) {
      let raw: Buffer;
      try {
        raw = readFileSync(`/proc/${name}/${where}`);
      } catch {
        continue; // gone, or not ours to read
      }
      if (raw.includes(needle)) {
        let argv = '';
        try {
          argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
        } catch {
          // gone meanwhile
        }
        found.push({ pid: Number(name), where, argv });
      }
    }
  }
  return found;
}
