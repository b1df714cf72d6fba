/** `autotunnel notify-test`: one test message to each configured receiver, to see that they arrive. */
import { ConfigError } from '../config/errors.js';
import { postMessage } from '../adapters/webhook.js';
import { redactUrl } from '../config/notify-settings.js';
import { renderNotification } from '../observe/notify.js';
import { readOperateSettings } from './operate.js';

export const NOTIFY_TEST_HELP = `Usage: autotunnel notify-test [-c FILE]
  sends one test message to each notification receiver: AUTOTUNNEL_NOTIFY_URL (or
  AUTOTUNNEL_NOTIFY_URL_FILE) and the notify: list of the tunnels file (-c FILE or
  AUTOTUNNEL_CONFIG), each in its format, and says which arrived.
Exit 0 when every receiver accepted it (HTTP 2xx), 1 when one did not, 78 when none is
configured or a setting is wrong.

Examples:
  AUTOTUNNEL_NOTIFY_URL=https://ntfy.sh/my-topic AUTOTUNNEL_NOTIFY_FORMAT=text autotunnel notify-test
  autotunnel notify-test -c /etc/autotunnel/tunnels.yaml`;

export async function runNotifyTest(file: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  let fileSettings;
  if (file) {
    const { readConfigFile } = await import('./run-config.js');
    fileSettings = readConfigFile(file, env).config;
  }
  const { notify } = readOperateSettings(env, fileSettings);
  if (notify.length === 0) {
    throw new ConfigError([{ where: 'AUTOTUNNEL_NOTIFY_URL', expected: `no notification receiver is configured: set AUTOTUNNEL_NOTIFY_URL${file ? ` or add a notify: list to ${file}` : ', or give a tunnels file with a notify: list (-c FILE)'}` }]);
  }
  const results = await Promise.all(
    notify.map(async (r) => ({ r, result: await postMessage(r.url, renderNotification({ kind: 'test', tunnel: '(test)', at: Date.now() }, r.format)) })),
  );
  for (const { r, result } of results) {
    const line = `${redactUrl(r.url)} (${r.origin}, ${r.format})`;
    if (result.ok) process.stdout.write(`ok      ${line}\n`);
    else process.stdout.write(`FAILED  ${line}: ${result.error}\n`);
  }
  const failed = results.filter((x) => !x.result.ok).length;
  if (failed) process.stderr.write(`autotunnel notify-test: ${failed} of ${results.length} receiver${results.length === 1 ? '' : 's'} did not accept the test message\n`);
  return failed ? 1 : 0;
}
