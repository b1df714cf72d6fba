/** `autotunnel check`: validates the configuration and prints each tunnel's ssh command, connecting nowhere. */
import { describeForward, describeServer, type TunnelSpec } from '../config/spec.js';
import { parseEnv } from '../config/env.js';
import { parseSettings } from '../config/settings.js';
import { defaultStateDir, planSshFiles } from '../adapters/ssh-files.js';
import { planTunnelAuthFiles } from '../adapters/tunnel-auth.js';
import { buildSshArgs, formatCommand } from '../ssh/argv.js';
import { readConfigFile } from './run-config.js';
import { realFacts } from '../adapters/files.js';
import { preflight } from './preflight.js';

export async function runCheck(file: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  const settings = parseSettings(env);
  const stateDir = settings.stateDir ?? defaultStateDir(env);
  let specs: TunnelSpec[];
  let warnings: string[];
  let source: string;
  if (file) {
    const { config } = readConfigFile(file, env);
    specs = config.tunnels;
    warnings = config.warnings;
    source = `${file}: ${specs.length} tunnel${specs.length === 1 ? '' : 's'}, at most ${config.maxHandshakes} handshakes at once per server`;
  } else {
    const parsed = parseEnv(env, realFacts(env));
    specs = [parsed.spec];
    warnings = parsed.warnings;
    source = 'environment (SSH_* variables): 1 tunnel';
  }
  // Everything a start would refuse about this machine, refused here too.
  await preflight(settings, env, specs, { sweep: false });
  const out: string[] = [`configuration is valid — ${source}`];
  for (const w of warnings) out.push(`warning: ${w}`);
  for (const spec of specs) {
    out.push('', `${spec.name}${spec.required === false ? ' (not required for readiness)' : ''}: via ${describeServer(spec.server)}, host keys: ${spec.server.hostKey.mode}`);
    for (const f of spec.forwards) out.push(`  ${describeForward(f)}`);
    out.push(`  ${formatCommand(settings.ssh ?? 'ssh', buildSshArgs(spec, planTunnelAuthFiles(spec, planSshFiles(spec, stateDir))))}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
