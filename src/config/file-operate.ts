/**
 * The tunnels file's fields for operating many tunnels: `notify:` receivers and `control:` at
 * the top level; `enabled`, `check` and `ready_requires_target` per tunnel.
 */
import { isSeq, type Node } from 'yaml';
import { raw, type YamlReader } from './yaml-reader.js';
import type { Forward, TargetCheckSpec } from './spec.js';
import { parseEndpoint } from './forward.js';
import { AFTER_EXPECTED, DEFAULT_NOTIFY_AFTER_MS, FORMAT_EXPECTED, NOTIFY_FORMATS, parseDurationMs, readSecret, urlProblem, type NotifyFormat, type NotifyReceiver } from './notify-settings.js';

const NOTIFY_KEYS = ['url', 'url_file', 'format', 'after'];
const CONTROL_KEYS = ['token_file'];
const CHECK_KEYS = ['tcp', 'every', 'target'];
export const DEFAULT_CHECK_EVERY_MS = 30_000;

/** `notify:` — a list of {url | url_file, format, after}. */
export function readNotify(r: YamlReader, node: Node | null, readText: (path: string) => string): NotifyReceiver[] {
  if (!isSeq(node)) {
    r.fail(node, 'notify', raw(node), 'expected a list of receivers, each "- url: https://…" (or url_file:) with optional format: and after:');
    return [];
  }
  const items = node.items as Node[];
  const out: NotifyReceiver[] = [];
  items.forEach((item, i) => {
    const path = `notify[${i}]`;
    const m = r.map(item, path, NOTIFY_KEYS);
    if (!m) return;
    const urlEntry = m.get('url');
    const fileEntry = m.get('url_file');
    let url: string | undefined;
    let origin = `${path}.url`;
    if (urlEntry && fileEntry) r.fail(fileEntry.key, `${path}.url_file`, undefined, 'give either url or url_file, not both');
    else if (urlEntry) url = r.string(urlEntry.value, origin);
    else if (fileEntry) {
      origin = `${path}.url_file`;
      const file = r.string(fileEntry.value, origin);
      if (file !== undefined) {
        const read = readSecret(file, readText);
        if (typeof read === 'string') url = read;
        else r.fail(fileEntry.value, origin, file, read.problem);
      }
    } else r.fail(item, `${path}.url`, undefined, 'missing: the webhook URL (url:), or a file holding it (url_file:)');
    // The value is never echoed: webhook URLs hold tokens.
    const problem = url === undefined ? undefined : urlProblem(url);
    if (problem) r.fail((urlEntry ?? fileEntry)!.value, origin, undefined, `${problem} (the value is not shown: it may hold a token)`);
    let format: NotifyFormat = 'json';
    const f = m.get('format');
    if (f) {
      const text = r.string(f.value, `${path}.format`);
      if (text !== undefined && (NOTIFY_FORMATS as readonly string[]).includes(text.toLowerCase())) format = text.toLowerCase() as NotifyFormat;
      else if (text !== undefined) r.fail(f.value, `${path}.format`, text, FORMAT_EXPECTED);
    }
    let afterMs = DEFAULT_NOTIFY_AFTER_MS;
    const a = m.get('after');
    if (a) {
      const text = r.string(a.value, `${path}.after`);
      const ms = text === undefined ? undefined : parseDurationMs(text);
      if (ms === undefined) r.fail(a.value, `${path}.after`, text, AFTER_EXPECTED);
      else afterMs = ms;
    }
    if (url !== undefined && !problem) out.push({ url, format, afterMs, origin });
  });
  return out;
}

/** `control: {token_file: …}`: where the token is; read (and checked) by the caller. */
export function readControl(r: YamlReader, node: Node | null): { file: string; origin: string } | undefined {
  const m = r.map(node, 'control', CONTROL_KEYS);
  const entry = m?.get('token_file');
  if (!m) return undefined;
  if (!entry) return r.fail(node, 'control.token_file', undefined, 'missing: the file holding the control token');
  const file = r.string(entry.value, 'control.token_file');
  return file === undefined ? undefined : { file, origin: 'control.token_file' };
}

/**
 * `check: {tcp: true, every: 30s}` through TCP -L forwards (their target is fixed), and through
 * -D forwards with `target: host:port` (where the SOCKS proxy is asked to connect).
 */
export function readCheck(r: YamlReader, node: Node | null, path: string, forwards: Forward[]): TargetCheckSpec | undefined {
  const m = r.map(node, path, CHECK_KEYS);
  if (!m) return undefined;
  const tcp = m.get('tcp');
  if (!tcp) return r.fail(node, `${path}.tcp`, undefined, 'missing: "tcp: true" (connect through the -L forward and see whether ssh reaches the target)');
  if (r.bool(tcp.value, `${path}.tcp`) !== true) return r.fail(tcp.value, `${path}.tcp`, undefined, 'expected true (the only check there is); remove check: to turn it off');
  let everyMs = DEFAULT_CHECK_EVERY_MS;
  const every = m.get('every');
  if (every) {
    const s = r.seconds(every.value, `${path}.every`, 1);
    if (s === undefined) return undefined;
    everyMs = Math.round(s * 1000);
  }
  let socksTarget: TargetCheckSpec['socksTarget'];
  const target = m.get('target');
  if (target) {
    const text = r.string(target.value, `${path}.target`);
    if (text === undefined) return undefined;
    const e = parseEndpoint(text, 'target', false);
    if (typeof e === 'string' || e.socket) return r.fail(target.value, `${path}.target`, text, typeof e === 'string' ? e : 'expected host:port: a SOCKS proxy connects to TCP targets');
    if (!forwards.some((f) => f.kind === 'dynamic' && !f.bindSocket)) return r.fail(target.value, `${path}.target`, text, 'only for a dynamic (SOCKS) forward: a local forward\'s target is its to:');
    socksTarget = { host: e.address!, port: e.port! };
  }
  const spec: TargetCheckSpec = { everyMs, ...(socksTarget ? { socksTarget } : {}) };
  if (!forwards.some((f) => checkable(f, spec))) {
    return r.fail(tcp.value, `${path}.tcp`, undefined, 'needs a local TCP forward (local: port with to: host:port), or a dynamic one with check.target: host:port, to connect through; a -R target is watched from ssh\'s own reports');
  }
  return spec;
}

/** A forward the active check connects through. */
export function checkable(f: Forward, check: TargetCheckSpec): boolean {
  if (f.bindSocket) return false;
  return f.kind === 'local' || (f.kind === 'dynamic' && check.socksTarget !== undefined);
}
