/**
 * What operating many tunnels adds to a running supervisor: the target's health read from ssh,
 * active target checks, notifications to webhooks, and per-tunnel control for the HTTP listener.
 */
import { readSecretFile } from '../adapters/bounded-read.js';
import { parseControlSettings, type ControlSettings } from '../config/control-settings.js';
import { parseNotifyEnv, type NotifyReceiver } from '../config/notify-settings.js';
import type { TunnelSpec } from '../config/spec.js';
import { startTargetChecks } from '../adapters/target-check.js';
import { WebhookQueue } from '../adapters/webhook.js';
import type { ControlEndpoint } from '../observe/control-api.js';
import type { Logger } from '../observe/logger.js';
import { Notifier, renderNotification } from '../observe/notify.js';
import { watchTargets } from '../observe/target-health.js';
import { TunnelControl } from '../supervisor/control.js';
import { realClock } from '../supervisor/world.js';
import type { Supervised, Supervisor } from '../supervisor/supervisor.js';

export interface OperateSettings {
  notify: NotifyReceiver[];
  control?: ControlSettings;
}

/**
 * AUTOTUNNEL_NOTIFY_* and AUTOTUNNEL_CONTROL_TOKEN_FILE, plus a tunnels file's `notify:` and
 * `control:`. Read before anything starts: a bad value stops us with exit 78.
 */
export function readOperateSettings(env: Record<string, string | undefined>, file?: { notify: NotifyReceiver[]; control?: { file: string; origin: string } }): OperateSettings {
  const notify = [...(file?.notify ?? []), ...parseNotifyEnv(env, readSecretFile)];
  const control = parseControlSettings(env, file?.control, readSecretFile);
  return { notify, ...(control ? { control } : {}) };
}

export interface Operations {
  control?: ControlEndpoint;
  close(): void;
}

export function startOperations(supervisor: Supervisor, settings: OperateSettings, logger: Logger, rebuild: ((spec: TunnelSpec) => Supervised) | undefined): Operations {
  const stopTargets = watchTargets(supervisor.events);
  const stopChecks = startTargetChecks(supervisor);
  const queues = new Map(settings.notify.map((r) => [r, new WebhookQueue(r, { logger })]));
  const notifier = new Notifier({
    receivers: settings.notify,
    clock: realClock,
    deliver: (r, n) => queues.get(r)?.send(renderNotification(n, r.format)),
  });
  const unsubscribe = settings.notify.length ? supervisor.events.on((e) => notifier.apply(e)) : () => undefined;
  if (settings.notify.length) {
    logger.log('info', `notifications to ${[...queues.values()].map((q) => `${q.shownAs} (${q.receiver.format}, after ${q.receiver.afterMs / 1000} s)`).join(', ')}`);
  }
  let control: ControlEndpoint | undefined;
  if (settings.control && rebuild) {
    const actions = new TunnelControl(supervisor, rebuild);
    control = { token: settings.control.token, act: (name, action) => actions.act(name, action) };
    logger.log('info', `control on: POST /api/tunnels/NAME/{start,stop,restart} with the token of ${settings.control.origin}`);
  }
  return {
    ...(control ? { control } : {}),
    close() {
      unsubscribe();
      notifier.close();
      for (const q of queues.values()) q.close();
      stopChecks();
      stopTargets();
    },
  };
}
