/**
 * `autotunnel health`: exit 0 when healthy, 1 when not or when autotunnel cannot be reached, with
 * one line saying why. For a container HEALTHCHECK or a Kubernetes exec probe, without curl.
 */
import type { ApiLiveness, ApiReadiness } from '../observe/api.js';
import { UnreachableError, getJson, parseClientArgs } from './observe-client.js';

export const HEALTH_HELP = `Usage: autotunnel health [--live] [--url URL]
  --ready    readiness, the default: every required tunnel is up (GET /readyz)
  --live     liveness: autotunnel itself and its supervision loop are alive (GET /healthz);
             a remote host being down never makes this fail
  --url URL  the instance to ask; default from AUTOTUNNEL_HTTP (http://127.0.0.1:9810)
Exit 0 healthy, 1 unhealthy or unreachable.

Examples:
  HEALTHCHECK CMD ["autotunnel", "health"]                       (Dockerfile)
  livenessProbe: { exec: { command: [autotunnel, health, --live] } }   (Kubernetes)
  autotunnel health --url http://10.0.0.5:9810`;

export async function runHealth(args: string[], env: Record<string, string | undefined>): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HEALTH_HELP + '\n');
    return 0;
  }
  try {
    const { base, flags } = parseClientArgs('health', args, ['--live', '--ready'], env);
    const { status, body } = await getJson<Partial<ApiReadiness & ApiLiveness>>(base, flags.has('--live') ? '/healthz' : '/readyz');
    const ok = status === 200;
    const line = body.message ?? `HTTP ${status}`;
    (ok ? process.stdout : process.stderr).write(line + '\n');
    return ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof UnreachableError)) throw e;
    process.stderr.write(`unhealthy: ${e.message}\n`);
    return 1;
  }
}
